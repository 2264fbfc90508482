/* mpart_free.c - the manual's mpart_free sample: allocate 4 KiB from a
 * partition over a static 8 KiB buffer and free it. */
#include<stdio.h>
#include<gjbext.h>
#include<string.h>
#include<stdlib.h>
int main (int argc, char**argv)
{
    int ret = 0; static char addr[1024*8];
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
        return -1;
    }
    // ……
    printf("mpart_alloc: 4096 bytes at %p\n", (void *)p);
    ret = mpart_free(mpid, p); /*释放从指定内存大小可变分区中分配的内存*/
    if(ret != 0)
    {
        perror("func mpart_free error\n");
    }
    // ……
    printf("mpart_free: returned %d\n", ret);
    return (0);
}
