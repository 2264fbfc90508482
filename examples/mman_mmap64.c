/*
 * mman_mmap64.c - the manual's mmap64 sample (内存文件映射), its "......" filled in.
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
    char* p = mmap64(NULL, 1024* 4 , PROT_WRITE|PROT_READ, MAP_SHARED, file, 0); /*内存文件映射*/   
    if(p == (void*) -1)   
    {   
        perror("func mmap64 errorn");   
        return -1;   
    }   
    strcpy(p, "mmap64 sample");
    printf("%s: %s\n", p, ret == 0 ? "ok" : "ERROR");
    ret = munmap(p, 1024 * 4);
    close(file);
    return 0;   
}  
