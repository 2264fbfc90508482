/*
 * sysheap_arenas.c - the system heap's arenas: which one a thread
 * allocates from, which one holds a block, and all of them locked at once
 * (statistics that sum them, heap_mem_init, fork).
 *
 * A thread gets an arena at its first allocation, round the SYS_ARENAS in
 * turn (the first thread arena 0), and keeps it: threads up to SYS_ARENAS
 * never share a lock on their own allocations. An arena gets its first
 * region when its first thread comes; when the limit leaves no room for
 * one, the thread allocates from arena 0.
 */
#include "sysheap_state.h"

struct gjb_arena *gjb_sys_assign(void)
{
    gjb_fast_init_once(gjb_lib_init);
    unsigned i = atomic_fetch_add_explicit(&gjb_sys.next, 1, memory_order_relaxed) % SYS_ARENAS;
    struct gjb_arena *a = &gjb_sys.arena[i];
    gjb_arena_lock(a);
    bool ready = a->h != NULL || gjb_sys_grow(a, 0) == 0;
    gjb_arena_unlock(a);
    if (!ready)
        i = 0;
    gjb_thread()->arena = &gjb_sys.arena[i];
    return &gjb_sys.arena[i];
}

struct gjb_arena *gjb_sys_owner(const void *p, size_t *raw)
{
    unsigned lo, hi = gjb_sys_candidates(p, &lo);
    for (unsigned i = lo; i < hi; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_arena_lock(a);
        if ((*raw = gjb_arena_raw(a, p)) != 0)
            return a;
        gjb_arena_unlock(a);
    }
    return NULL;
}

void gjb_sys_lock_all(void)
{
    gjb_fast_init_once(gjb_lib_init);
    for (unsigned i = 0; i < SYS_ARENAS; i++)
        gjb_arena_lock(&gjb_sys.arena[i]);
    gjb_fast_lock_mt(&gjb_sys.lock);
}

void gjb_sys_unlock_all(void)
{
    gjb_fast_unlock_mt(&gjb_sys.lock);
    for (unsigned i = SYS_ARENAS; i-- > 0;)
        gjb_arena_unlock(&gjb_sys.arena[i]);
}
