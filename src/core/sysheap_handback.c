/*
 * sysheap_handback.c - blocks a thread's cache hands back to another
 * thread's arena (the thread caches: sysheap_cache.c).
 *
 * A thread's cache gives blocks of another thread's arena back without that
 * arena's lock: it pushes them, still kept (allocated in the engine, the
 * link and the mark of a kept block, and a third word with their bin
 * masked by the mark: remote_link), on the arena's list a->remote with one
 * compare-and-swap. A thread of the arena takes the whole list with one
 * exchange, without the lock either (gjb_handback_take), and trusts each
 * block as the cache trusts its bins': by its mark. Nodes on a list change
 * only once taken off it (validate takes it off too, and puts it back).
 * The counts (a->remote_n, a->remote_bytes) are added before a push and
 * taken off after a take: they are never below the blocks on the list.
 */
#include "tcache.h"

#define REMOTE_MAX 256u /* blocks on a list above which pushers take the lock */

/* Makes p (of bin b) a node of a list, before next. */
static void remote_link(char *p, const char *next, size_t b)
{
    uintptr_t m = gjb_tc_mark(p, next), w[3] = {(uintptr_t)next, m, m ^ b};
    memcpy(p, w, sizeof w);
}

/* Usable bytes of a block of bin b. */
static size_t bin_usable(const struct gjb_tcache *tc, size_t b)
{
    bool buddy = atomic_load_explicit(&tc->bins, memory_order_relaxed) == gjb_tc_bin_of[1];
    return b * TC_G - gjb_tc_hdr[buddy];
}

bool gjb_handback_push(struct gjb_tcache *tc, struct gjb_arena *a, char **q, unsigned k,
                       size_t b)
{
    if (atomic_load_explicit(&a->remote_n, memory_order_relaxed) >= REMOTE_MAX)
        return false;
    for (unsigned i = 0; i + 1 < k; i++)
        remote_link(q[i], q[i + 1], b);
    atomic_fetch_add_explicit(&a->remote_n, k, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->remote_bytes, k * bin_usable(tc, b), memory_order_relaxed);
    char *head = atomic_load_explicit(&a->remote, memory_order_relaxed);
    do
        remote_link(q[k - 1], head, b);
    while (!atomic_compare_exchange_weak_explicit(&a->remote, &head, q[0], memory_order_release,
                                                  memory_order_relaxed));
    return true;
}

/* The bin of list node p (its link in *next), or 0 when p is not whole. */
static size_t remote_bin(const char *p, char **next)
{
    uintptr_t w[3];
    memcpy(w, p, sizeof w);
    *next = (char *)w[0];
    size_t b = (size_t)(w[2] ^ w[1]);
    return w[1] == gjb_tc_mark(p, *next) && b - 1 < TC_BINS - 1 ? b : 0;
}

void *gjb_handback_take(struct gjb_tcache *tc, struct gjb_arena *a, bool held)
{
    if (!atomic_load_explicit(&a->remote, memory_order_relaxed))
        return NULL;
    char *p = atomic_exchange_explicit(&a->remote, NULL, memory_order_acquire), *next;
    size_t most = atomic_load_explicit(&a->remote_n, memory_order_relaxed), n = 0, bytes = 0, b;
    bool locked = held;
    for (; p && n < most && (b = remote_bin(p, &next)) != 0; n++, p = next) {
        bytes += tc ? bin_usable(tc, b) : b * TC_G - gjb_tc_hdr[gjb_sys.policy == GJB_BUDDY];
        if (tc && tc_keep(tc, p, b * TC_G))
            continue;
        if (!locked)
            gjb_arena_lock(a);
        locked = true;
        memset(p + sizeof(uintptr_t), 0, sizeof(uintptr_t)); /* no mark: live, then freed */
        (void)gjb_heap_free(a->h, p); /* out of line: a slow path */
    }
    if (locked && !held)
        gjb_arena_unlock(a);
    atomic_fetch_sub_explicit(&a->remote_n, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&a->remote_bytes, bytes, memory_order_relaxed);
    return p;
}

void *gjb_tc_drain_remote(struct gjb_arena *a)
{
    return gjb_handback_take(NULL, a, true);
}

bool gjb_tc_remote_ok(struct gjb_arena *a)
{
    char *first = atomic_exchange_explicit(&a->remote, NULL, memory_order_acquire), *p, *next;
    char *last = NULL;
    size_t most = atomic_load_explicit(&a->remote_n, memory_order_relaxed), n = 0, b = 0;
    size_t hdr = gjb_tc_hdr[gjb_sys.policy == GJB_BUDDY];
    for (p = first; p; n++, last = p, p = next) {
        size_t u = n < most && a->h ? gjb_heap_usable_size(a->h, p) : 0;
        if (!u || (b = remote_bin(p, &next)) == 0 || u + hdr != b * TC_G)
            return false; /* the list stays off: its blocks stay allocated */
    }
    if (!last)
        return true;
    char *head = NULL; /* the list back, before what was pushed meanwhile */
    do
        remote_link(last, head, b);
    while (!atomic_compare_exchange_weak_explicit(&a->remote, &head, first, memory_order_release,
                                                  memory_order_relaxed));
    return true;
}

