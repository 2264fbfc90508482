/* heap_mem_init: the manual gives no sample. Selects BUDDY for the system
 * heap before anything is allocated from it, allocates, shows the table. */
#include <gjbext.h>
#include <gjbmem/sysheap.h>
#include <stdio.h>
int main(void)
{
    if (heap_mem_init(BUDDY_ALLOCATION) != 0) {
        perror("*func* heap_mem_init error");
        return 1;
    }
    void *p = gjbmem_malloc(4096);
    if (!p || ((unsigned long)p & 4095) != 0 || heap_mem_init(FIRST_FIT_ALLOCATION) != -1 ||
        errno != EBUSY) {
        printf("*func* heap_mem_init error\n");
        return 1;
    }
    mem_show();
    gjbmem_free(p);
    return heap_mem_init(FIRST_FIT_ALLOCATION) == 0 ? 0 : 1;
}
