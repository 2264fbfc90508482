/*
 * mman_msync.c - the manual's msync sample (同步内存文件与被映射文件), its "......" filled in.
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
    char *p = mmap(NULL, 1024 * 4, PROT_WRITE | PROT_READ, MAP_SHARED, file, 0);
    if (p == (void *)-1) {
        perror("func mmap error");
        return -1;
    }
    strcpy(p, "synced");
    ret = msync(p, 1024, MS_ASYNC); /* 同步内存文件与被映射文件*/   
    if(ret != 0)   
    {   
        perror("func msync errorn");   
    }   
    char back[8] = {0};
    if (pread(file, back, 6, 0) != 6 || strcmp(back, "synced") != 0)
        printf("msync: ERROR\n");
    else
        printf("msync: ok\n");
    munmap(p, 1024 * 4);
    close(file);   
    return 0;   
}  
