/*
 * sysheap_direct.c - the system heap's direct mappings: a request of
 * GJBMEM_SYSHEAP_DIRECT bytes or more gets pages of its own from the port,
 * recorded in a hash table (bigblock.c) and given back when freed. They
 * count against the limit but not in the heap's statistics. Lock held in
 * every function.
 */
#include "sysheap_state.h"

void *gjb_sys_direct_alloc(size_t align, size_t size)
{
    size_t len = gjb_sys_page_up(size), extra = align > gjb_sys.page ? align : 0;
    if (!len || len > SIZE_MAX - extra || len + extra > gjb_sys_room(gjb_big_growth(&gjb_sys.big)))
        return NULL; /* the mapping and the table's growth must both fit the limit */
    void *mem;
    if (gjb_port_pages_get(len + extra, &mem) != 0)
        return NULL;
    char *p = mem;
    if (extra) { /* aligned above a page: trimmed from a larger mapping */
        uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
        size_t lead = a - (uintptr_t)p;
        if (lead)
            gjb_port_pages_put(p, lead);
        if (extra - lead)
            gjb_port_pages_put((char *)a + len, extra - lead);
        p = (char *)a;
    }
    long grown = 0;
    if (gjb_big_put(&gjb_sys.big, p, len, &grown) != 0) {
        gjb_port_pages_put(p, len);
        return NULL;
    }
    gjb_sys.port += len + (size_t)grown;
    return p;
}

void gjb_sys_direct_free(void *p, size_t len)
{
    gjb_big_del(&gjb_sys.big, p);
    gjb_port_pages_put(p, len);
    gjb_sys.port -= len;
}

void *gjb_sys_direct_resize(void *p, size_t len, size_t size)
{
    size_t nlen = gjb_sys_page_up(size);
    void *q;
    if (!nlen || nlen - len > gjb_sys_room(0) || gjb_port_vm_remap(p, len, nlen, true, &q) != 0)
        return NULL;
    long table = 0;
    gjb_big_del(&gjb_sys.big, p);
    (void)gjb_big_put(&gjb_sys.big, q, nlen, &table); /* never grows: one entry out, one in */
    gjb_sys.port += nlen - len;
    return q;
}
