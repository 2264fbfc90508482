/*
 * mman_mprotect.c - the manual's mprotect sample (设置进程内指定的地址段属性), its "......" filled in.
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
    char *p = mmap(NULL, 1024 * 4, PROT_READ, MAP_SHARED, file, 0);
    if (p == (void *)-1) {
        perror("func mmap error");
        return -1;
    }
    ret = mprotect(p, 1024, PROT_WRITE); /* 设置进程内指定的地址段属性*/   
    if(ret != 0)   
    {   
        perror("func mprotect errorn");   
        return -1;   
    }   
    p[0] = 'w';
    printf("mprotect: ok\n");
    munmap(p, 1024 * 4);
    close(file);   
    return 0;   
}  
