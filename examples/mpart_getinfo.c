/* mpart_getinfo.c - the manual's mpart_getinfo sample: the statistics of a
 * fresh partition over a static 8 KiB buffer. */
#include<stdio.h>
#include<gjbext.h>
#include<string.h>
int main (int argc, char**argv)
{
    int ret = 0;
    static char addr[1024*8];
    mpart_id mpid;
    struct partinfo info;
    memset(addr, 0, 1024* 8);
    ret = mpart_create(addr, 1024* 8,&mpid);
    if(ret != 0)
    {
        perror("func mpart_create error\n");
        return -1;
    }
    // ……
    ret = mpart_getinfo(mpid,&info); /* 获取指定内存大小可变分区信息*/
    if(ret == 0)
    {
        // ……
        printf("segment %lu used %zu maxused %zu free %zu\n", info.segment, info.used,
               info.maxused, info.free);
    }
    // ……
    if (ret != 0)
        perror("func mpart_getinfo error\n");
    return (0);
}
