/* mpart_delete.c - the manual's mpart_delete sample: create a partition over a
 * static 8 KiB buffer, then delete it. */
#include<stdio.h>
#include<gjbext.h>
#include<string.h>
int main (int argc, char**argv)
{
    int ret = 0;
    static char addr[1024*8];
    mpart_id mpid;
    memset(addr, 0, 1024* 8);
    ret = mpart_create(addr, 1024* 8,&mpid);
    if(ret != 0)
    {
        perror("func mpart_create error\n");
        return -1;
    }
    // ……
    printf("mpart_create: partition %#lx\n", mpid);
    ret = mpart_delete(mpid); /* 删除一个内存大小可变分区*/
    if(ret != 0)
    {
        perror("func mpart_delete error\n");
        return -1;
    }
    printf("mpart_delete: partition %#lx deleted\n", mpid);
    return (0);
}
