/* mpart_addmem.c - the manual's mpart_addmem sample: create a partition over a
 * static 8 KiB buffer and add 8 KiB of malloc'd memory to it. */
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
    memset(addr, 0, 1024* 8);
    ret = mpart_create(addr, 1024* 8,&mpid);
    if(ret != 0)
    {
        perror("func mpart_create error\n");
        return -1;
    }
    ret = mpart_addmem(mpid, add, 1024*8); /*向内存大小可变分区添加内存*/
    if(ret != 0)
    {
        perror("func mpart_addmem error\n");
        return -1;
    }
    // ……
    struct partinfo info;
    if (mpart_getinfo(mpid, &info) == 0)
        printf("mpart_addmem: %p added; segment %lu used %zu free %zu (total %zu)\n",
               (void *)add, info.segment, info.used, info.free, info.used + info.free);
    return 0;
}
