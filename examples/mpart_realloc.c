/* mpart_realloc.c - the manual's mpart_realloc sample: allocate 4 KiB from a
 * partition over a static 8 KiB buffer, then reallocate it to 5 KiB. */
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
    }
    p = (char*)mpart_alloc(mpid, 1024* 4);
    if(p == NULL)
    {
        perror("func mpart_alloc error\n");
    }
    // …… /** 从指定内存大小可变分区中重新分配内存*/
    printf("mpart_alloc: 4096 bytes at %p\n", (void *)p);
    p = (char*)mpart_realloc(mpid, p, 1024* 5);
    if(p == NULL)
    {
        perror("func mpart_realloc error\n");
    }
    // ……
    printf("mpart_realloc: 5120 bytes at %p\n", (void *)p);
    return (0);
}
