/*
 * mman_munmap.c - the manual's munmap sample (取消文件映射), its "......" filled in.
 */
#include<stdio.h>  
#include<mman.h>  
#include<string.h>  
#include<stdlib.h>  
int main (int argc, char**argv)   
{   
    int file;   
    int ret = 0;   
    /* (filled in) the manual's /apps/mmap/file becomes a temporary file */
    char FILENAME[] = "/tmp/gjbmem_mman_XXXXXX";
    file = mkstemp(FILENAME);
    if (file == -1 || ftruncate(file, 1024 * 1024) != 0) {
        perror("func mkstemp error");
        return -1;
    }
    unlink(FILENAME);
    char *p = mmap(NULL, 1024 * 1024, PROT_WRITE | PROT_READ, MAP_SHARED, file, 0);
    if (p == (void *)-1) {
        perror("func mmap error");
        return -1;
    }
    ret = munmap(p, 1024* 1024); /* 取消内存文件映射*/   
    if(ret != 0)   
    {   
        perror("func munmap errorn");   
        return -1;   
    }   
    printf("munmap: ok\n");
    close(file);   
    return 0;   
}  
