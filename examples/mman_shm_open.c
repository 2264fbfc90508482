/*
 * mman_shm_open.c - the manual's shm_open sample, its "......" filled in.
 * The object name "file" of the manual carries the pid here, and the
 * object is unlinked at the end.
 */
#include<stdio.h>  
#include<mman.h>  
#include<string.h>   
static char shm_name[64];
int main (int argc, char**argv)   
{   
    int file;   
    int ret = 0;   
    snprintf(shm_name, sizeof shm_name, "gjbmem_mman_file_%ld", (long)getpid());
    file = shm_open(shm_name, O_CREAT|O_RDWR, 0777); /* 打开一个共享内存*/   
    if(file == -1)   
    {   
        perror("func shm_open errorn");   
        return -1;   
    }   
    // ……   
    ret = ftruncate(file, 4096);
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
    if (ret != 0 || p == (void *)-1) {
        perror("func mmap error");
        return -1;
    }
    strcpy(p, "shared");
    printf("shm_open: %s\n", strcmp(p, "shared") == 0 ? "ok" : "ERROR");
    munmap(p, 4096);
    close(file);
    shm_unlink(shm_name);
    return (0);   
}  
