/* mpart_findmaxfree.c - the manual's mpart_findmaxfree sample: the largest free
 * segment of a fresh partition over a static 8 KiB buffer. */
#include<stdio.h>
#include<gjbext.h>
#include<string.h>
int main (int argc, char**argv)
{
    int ret = 0;
    static char addr[1024*8];
    mpart_id mpid;
    int maxfree;
    memset(addr, 0, 1024* 8);
    ret = mpart_create(addr, 1024* 8,&mpid);
    if(ret != 0)
    {
        perror("func mpart_create error\n");
        return -1;
    }
    // ……
    /**获取指定内存大小可变分区最大空闲分断*/
    maxfree = mpart_findmaxfree(mpid);
    if(maxfree != -1)
    {
        printf("mpid max free :%d\n", maxfree);
    }
    // ……
    if (maxfree == -1)
        perror("func mpart_findmaxfree error\n");
    return (0);
}
