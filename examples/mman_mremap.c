/*
 * mman_mremap.c - the manual's mremap sample (重新设置映射文件大小), its "......" filled in.
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
    p[0] = 'm';
    char*q = (char*)mremap(p, 1024* 4, 1024* 16, MREMAP_MAYMOVE);   
    if(q == (void*) -1) /* 内存文件映射*/   
    {   
        perror("func mremap error");   
    }   
    // ……   
    q[1024 * 16 - 1] = 'e';
    printf("mremap: %s\n", q[0] == 'm' ? "ok" : "ERROR");
    ret = munmap(q, 1024 * 16);
    close(file);
    return 0;   
}  
