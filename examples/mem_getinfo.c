/* The manual's mem_getinfo sample (Thread1, its "errorn" typo fixed), run from a
 * thread of main as the manual's "系统线程" (system thread). */
#include <pthread.h>
#include <gjbext.h>
#include <stdio.h>
#include <stdlib.h>
void *Thread1(void *arg)
{
    int ret = 0;
    struct meminfo info;
    ret = mem_getinfo(&info); /* 获取系统当前内存信息 */
    if (ret != 0)
    {
        printf("*func* mem_getinfo error\n");
        return (void *)-1;
    }
    mem_show(); /* 显示系统当前内存信息 */
    return NULL;
}
int main(void)
{
    pthread_t t;
    void *rv = (void *)-1;
    char *p = malloc(1000); /* something in the table besides the heap's own */
    if (pthread_create(&t, NULL, Thread1, NULL) != 0 || pthread_join(t, &rv) != 0 || rv != NULL)
        printf("*func* Thread1 error\n");
    free(p);
    return 0;
}
