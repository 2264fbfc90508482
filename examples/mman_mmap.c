/*
 * mman_mmap.c - the manual's mmap sample (内存文件映射), its "......" filled in.
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
    char* p = mmap(NULL, 1024* 4, PROT_WRITE|PROT_READ, MAP_SHARED, file, 0); /* 内存文件映射*/   
    if(p == (void*) -1)   
    {   
        perror("func mmap errorn");   
        return -1;   
    }   
    strcpy(p, "mmap sample");
    printf("%s: %s\n", p, strncmp(p, "mmap sample", 12) == 0 ? "ok" : "ERROR");
    ret = munmap(p, 1024 * 4);
    close(file);   
    return 0;   
}  
