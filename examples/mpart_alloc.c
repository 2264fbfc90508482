/* mpart_alloc.c - the manual's mpart_alloc sample: allocate 4 KiB from a
 * partition over a static 8 KiB buffer. */
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
    p = (char*)mpart_alloc(mpid, 1024* 4); /* 从内存大小可变分区分配内存*/
    if(p == NULL)
    {
        perror("func mpart_alloc error\n");
    }
    // ……
    printf("mpart_alloc: 4096 bytes at %p (partition %p..%p)\n", (void *)p, (void *)addr,
           (void *)(addr + sizeof addr));
    return (0);
}
