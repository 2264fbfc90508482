/*
 * mman_shm_unlink.c - the manual's shm_unlink sample, its "......" filled
 * in. The object name "file" of the manual carries the pid here.
 */
#include<stdio.h>  
#include<mman.h>  
#include<string.h>   
#include<errno.h>
static char shm_name[64];
int main (int argc, char**argv)   
{   
    int file;   
    int ret = 0;   
    snprintf(shm_name, sizeof shm_name, "gjbmem_mman_file_u%ld", (long)getpid());
    file = shm_open(shm_name, O_CREAT|O_RDWR, 0777);   
    if(file == -1)   
    {   
        perror("func shm_open errorn");   
        return -1;   
    }   
    // ……   
    close(file);
    shm_unlink(shm_name); /* 移除一个共享内存*/   
    ret = shm_open(shm_name, O_RDWR, 0);
    printf("shm_unlink: %s\n", ret == -1 && errno == ENOENT ? "ok" : "ERROR");
    return (0);   
}  
