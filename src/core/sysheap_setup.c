/*
 * sysheap_setup.c - the system heap's start-up (gjb_sysheap_init, run once
 * by the library's initialisation): its settings from the environment
 * (GJBMEM_POLICY, GJBMEM_HEAP_LIMIT), its fork handlers, mem_show's summary
 * line, and its first region, so that a fresh process already reports it.
 */
#include "sysheap_state.h"

static bool same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* "123", "64K", "512M", "2G" -> bytes; false when malformed or too big. */
static bool parse_size(const char *s, size_t *out)
{
    size_t v = 0;
    if (!s || *s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (SIZE_MAX - (size_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    unsigned shift = *s == 'K' || *s == 'k' ? 10 : *s == 'M' || *s == 'm' ? 20
                   : *s == 'G' || *s == 'g' ? 30 : 0;
    if (shift)
        s++;
    if (*s || (shift && v > SIZE_MAX >> shift))
        return false;
    *out = v << shift;
    return true;
}

/* Every lock of the system heap made new (and every arena's sequence
 * count even: none of them is held). */
static void init_locks(void)
{
    for (unsigned i = 0; i < SYS_ARENAS; i++) {
        struct gjb_arena *a = &gjb_sys.arena[i];
        gjb_port_lock_init(&a->lock);
        unsigned s = atomic_load_explicit(&a->seq, memory_order_relaxed);
        atomic_store_explicit(&a->seq, (s + 1) & ~1u, memory_order_relaxed);
    }
    gjb_port_lock_init(&gjb_sys.lock);
    gjb_slab_lock_init();
}

/* Fork: the locks are held across it, so the child inherits a consistent
 * heap; the child's copies of the locks are made new. (The port may skip
 * these where no other thread can hold a lock: gjbmem/port.h.) */
static void on_prepare(void)
{
    gjb_slab_lock(); /* (taken before the others: sysheap_slab.c) */
    gjb_sys_lock_all();
}

static void on_parent(void)
{
    gjb_sys_unlock_all();
    gjb_slab_unlock();
}

/* The child: new locks, and the caches of the threads that did not fork
 * give their blocks back. */
static void on_child(void)
{
    init_locks();
    gjb_tc_after_fork();
}

void gjb_sysheap_init(void)
{
    init_locks();
    gjb_sys.page = gjb_port_page_size();
    const char *pol = gjb_port_getenv("GJBMEM_POLICY");
    gjb_sys.policy = pol && same(pol, "buddy") ? GJB_BUDDY : GJB_FIRST_FIT;
    gjb_slab_setup(gjb_sys.policy);
    unsigned long long mem = gjb_port_memory_size();
    gjb_sys.limit = mem > SIZE_MAX ? SIZE_MAX : (size_t)mem;
    size_t lim;
    if (parse_size(gjb_port_getenv("GJBMEM_HEAP_LIMIT"), &lim))
        gjb_sys.limit = lim;
    gjb_port_at_fork(on_prepare, on_parent, on_child);
    gjb_port_at_thread_exit(gjb_tc_thread_exit);
    gjb_show_register(gjb_sys_summary);
    (void)gjb_sys_grow(&gjb_sys.arena[0], 0); /* the first region, when the limit and the host allow one */
}
