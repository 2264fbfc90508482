/* mpart_memalign.c - the manual's mpart_memalign sample: allocate 4 KiB aligned
 * to 4 bytes from a partition over a static 8 KiB buffer. */
#include<stdio.h>
#include<gjbext.h>
#include<string.h>
#include<stdlib.h>
int main (int argc, char**argv)
{
    int ret = 0;
    static char addr[1024*8];
    mpart_id mpid;
    char*add = (char*)malloc(1024* 8);
    char* p = NULL;
    memset(addr, 0, 1024* 8);
    ret = mpart_create(addr, 1024* 8,&mpid);
    if(ret != 0)
    {
        perror("func mpart_create error\n");
        return -1;
    } /**从指定内存大小可变分区对齐分配内存*/
    p = (char*)mpart_memalign(mpid, 4, 1024* 4);
    if(p == NULL)
    {
        perror("func mpart_alloc error\n");
    }
    // ……
    printf("mpart_memalign: 4096 bytes aligned to 4 at %p\n", (void *)p);
    return (0);
}
