/* The manual's mem_findmax sample; the "// ......" parts print the result. */
#include <stdio.h>
#include <gjbext.h>
int main (int argc, char **argv)
{
    int maxmem = 0;
    maxmem = mem_findmax(); /* 取当前系统内存最长空闲区域的大小 */
    printf("mem_findmax: %d\n", maxmem);
    if (maxmem <= 0)
        printf("*func* mem_findmax error\n");
    return (0);
}
