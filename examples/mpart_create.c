/* mpart_create.c - the manual's mpart_create sample: create a variable-size
 * partition over a static 8 KiB buffer. */
#include<stdio.h>
#include<gjbext.h>
#include<string.h>
int main (int argc, char**argv)
{
    int ret = 0;
    static char addr[1024*8];
    mpart_id mpid;
    memset(addr, 0, 1024* 8);
    ret = mpart_create(addr, 1024* 8,&mpid); /* 创建一个内存大小可变分区*/
    if(ret != 0)
    {
        perror("func mpart_create error\n");
        return -1;
    }
    // ……
    printf("mpart_create: partition %#lx over %p, 8192 bytes\n", mpid, (void *)addr);
    return (0);
}
