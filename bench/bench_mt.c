/* bench/bench_mt.c - multi-threaded and allocation-heavy malloc workloads,
 * for timing whatever malloc the process has (glibc's, or one preloaded with
 * LD_PRELOAD: bench/mt.sh runs it under glibc, libgjbmem-malloc.so with both
 * policies, jemalloc, mimalloc and tcmalloc). Plain C11, libc and pthreads
 * only; it calls only malloc, calloc, realloc and free.
 *
 *   bench_mt threadloop T [N]  T threads, each N iterations on a private
 *                              window of 64 slots: free a random slot's block,
 *                              malloc 16..512 bytes into it, write it
 *   bench_mt loop [N]          the threadloop's loop in the main thread of a
 *                              process that starts no thread
 *   bench_mt server T [N]      T threads, N iterations each, on 4096 shared
 *                              slots: malloc (16..1024 bytes, 1 in 16 up to
 *                              16 KiB), write, atomic_exchange into a random
 *                              slot, free what came out (mostly a block
 *                              another thread allocated)
 *   bench_mt prodcons [N]      a producer thread mallocs N blocks (16..1024
 *                              bytes), writes them, passes them through an
 *                              SPSC ring (capacity 1024) to a consumer thread
 *                              that reads and frees them
 *   bench_mt large [N]         one thread, N iterations on a window of 4
 *                              slots: free the slot's block, malloc 256 KiB ..
 *                              4 MiB, write one byte per 4 KiB page
 *   bench_mt alloc-heavy [N]   one thread, N rounds of a small bignum
 *                              routine (factorials, Fibonacci numbers, trial
 *                              division, every result a fresh malloc'ed limb
 *                              array, realloc to grow) and a hash-set phase
 *                              (small malloc'ed nodes, inserts, deletes,
 *                              rehashes)
 *
 * Each prints one line
 *   workload=<name> threads=<T> seconds=<wall> ops=<count> checksum=<hex>
 * seconds: the workload's own wall time (CLOCK_MONOTONIC, set-up and exit
 * excluded); ops: the workload's operations (malloc+free pairs, or for
 * alloc-heavy the allocation calls: malloc, calloc, realloc). Every block's
 * first and last bytes are written when it is allocated and read back when it
 * is freed, into the checksum, so no work can be optimised away. The contents
 * depend only on each thread's own PRNG (seeded from the thread's index), and
 * every block allocated is freed once, so the checksum is the same for every
 * run with the same arguments, whatever the scheduling and the allocator:
 * bench/mt.sh compares it with glibc's.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */

static void die(const char *what)
{
    fprintf(stderr, "bench_mt: %s\n", what);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die("out of memory");
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64*, one state per thread. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t seed_for(unsigned idx)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL * (idx + 1) ^ 0xD1B54A32D192ED03ULL;
    return s ? s : 1;
}

/* A block of n >= 16 bytes: its size in the first 8 bytes (the first byte
 * among them), a tag in the last byte. */
static unsigned char *block_new(size_t n, uint64_t tag)
{
    unsigned char *p = xmalloc(n);
    uint64_t sz = n;
    memcpy(p, &sz, sizeof sz);
    p[n - 1] = (unsigned char)tag;
    return p;
}

/* Reads the block's first and last bytes (and size), frees it, and returns
 * its contribution to the checksum. */
static uint64_t block_free(unsigned char *p)
{
    uint64_t sz;
    memcpy(&sz, p, sizeof sz);
    uint64_t c = sz * 31u + p[0] + ((uint64_t)p[sz - 1] << 8);
    free(p);
    return c;
}

static size_t parse_count(const char *s, const char *what)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0) {
        fprintf(stderr, "bench_mt: %s must be a positive integer, not '%s'\n", what, s);
        exit(2);
    }
    return (size_t)v;
}

static void report(const char *name, unsigned threads, double secs, uint64_t ops, uint64_t sum)
{
    printf("workload=%s threads=%u seconds=%.3f ops=%llu checksum=%016llx\n", name, threads, secs,
           (unsigned long long)ops, (unsigned long long)sum);
}

struct worker {
    pthread_t th;
    unsigned idx;
    size_t iters;
    uint64_t sum;
};

static pthread_barrier_t start_line;

static void run_threads(struct worker *w, unsigned t, size_t iters, void *(*fn)(void *))
{
    for (unsigned i = 0; i < t; i++) {
        w[i].idx = i;
        w[i].iters = iters;
        w[i].sum = 0;
        if (pthread_create(&w[i].th, NULL, fn, &w[i]) != 0)
            die("pthread_create failed");
    }
}

static uint64_t join_threads(struct worker *w, unsigned t)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < t; i++) {
        pthread_join(w[i].th, NULL);
        sum += w[i].sum;
    }
    return sum;
}

/* --- threadloop ---------------------------------------------------------- */

enum { TL_WINDOW = 64 };

/* The thread-local loop: iters iterations on a private window, seeded by
 * idx; returns the checksum. */
static uint64_t tl_run(unsigned idx, size_t iters)
{
    uint64_t s = seed_for(idx);
    unsigned char *slot[TL_WINDOW] = {0};
    uint64_t sum = 0;
    for (size_t i = 0; i < iters; i++) {
        uint64_t r = rnd(&s);
        unsigned k = (unsigned)(r % TL_WINDOW);
        if (slot[k])
            sum += block_free(slot[k]);
        slot[k] = block_new(16 + (size_t)((r >> 8) % 497), r >> 20);
    }
    for (unsigned k = 0; k < TL_WINDOW; k++)
        if (slot[k])
            sum += block_free(slot[k]);
    return sum;
}

static void *threadloop_worker(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(&start_line);
    w->sum = tl_run(w->idx, w->iters);
    return NULL;
}

/* The same loop in the main thread of a process that starts no thread. */
static void run_loop(size_t iters)
{
    double t0 = now();
    uint64_t sum = tl_run(0, iters);
    report("loop", 1, now() - t0, iters, sum);
}

/* --- server -------------------------------------------------------------- */

enum { SRV_SLOTS = 4096 };
static _Atomic(unsigned char *) srv_slot[SRV_SLOTS];

static void *server_worker(void *arg)
{
    struct worker *w = arg;
    uint64_t s = seed_for(w->idx);
    uint64_t sum = 0;
    pthread_barrier_wait(&start_line);
    for (size_t i = 0; i < w->iters; i++) {
        uint64_t r = rnd(&s);
        size_t n = (r & 15) == 0 ? 16 + (size_t)((r >> 8) % (16384 - 15))
                                 : 16 + (size_t)((r >> 8) % (1024 - 15));
        unsigned char *p = block_new(n, r >> 32);
        unsigned char *old = atomic_exchange_explicit(&srv_slot[(r >> 40) % SRV_SLOTS], p,
                                                      memory_order_acq_rel);
        if (old)
            sum += block_free(old);
    }
    w->sum = sum;
    return NULL;
}

/* --- the two multi-threaded workloads on T workers ------------------------ */

static void run_mt(const char *name, unsigned t, size_t iters, void *(*fn)(void *))
{
    struct worker *w = xmalloc(t * sizeof *w);
    if (pthread_barrier_init(&start_line, NULL, t + 1) != 0)
        die("pthread_barrier_init failed");
    run_threads(w, t, iters, fn);
    pthread_barrier_wait(&start_line);
    double t0 = now();
    uint64_t sum = join_threads(w, t);
    for (unsigned k = 0; k < SRV_SLOTS; k++) { /* server's leftovers */
        unsigned char *p = atomic_exchange(&srv_slot[k], NULL);
        if (p)
            sum += block_free(p);
    }
    double secs = now() - t0;
    pthread_barrier_destroy(&start_line);
    free(w);
    report(name, t, secs, (uint64_t)t * iters, sum);
}

/* --- prodcons ------------------------------------------------------------ */

enum { RING = 1024 };
static unsigned char *ring[RING];
/* head: next slot the producer fills; tail: next the consumer empties. Each
 * on its own cache line. */
static _Alignas(64) atomic_size_t ring_head;
static _Alignas(64) atomic_size_t ring_tail;
static size_t pc_n;
static uint64_t pc_sum;

static void *producer(void *arg)
{
    (void)arg;
    uint64_t s = seed_for(0);
    size_t head = 0;
    for (size_t i = 0; i < pc_n; i++) {
        uint64_t r = rnd(&s);
        unsigned char *p = block_new(16 + (size_t)((r >> 8) % (1024 - 15)), r >> 32);
        for (unsigned spins = 0;
             head - atomic_load_explicit(&ring_tail, memory_order_acquire) == RING; spins++)
            if (spins > 4096)
                sched_yield();
        ring[head % RING] = p;
        atomic_store_explicit(&ring_head, ++head, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    size_t tail = 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < pc_n; i++) {
        for (unsigned spins = 0;
             atomic_load_explicit(&ring_head, memory_order_acquire) == tail; spins++)
            if (spins > 4096)
                sched_yield();
        unsigned char *p = ring[tail % RING];
        atomic_store_explicit(&ring_tail, ++tail, memory_order_release);
        sum += block_free(p);
    }
    pc_sum = sum;
    return NULL;
}

static void run_prodcons(size_t n)
{
    pthread_t pt, ct;
    pc_n = n;
    double t0 = now();
    if (pthread_create(&ct, NULL, consumer, NULL) != 0 ||
        pthread_create(&pt, NULL, producer, NULL) != 0)
        die("pthread_create failed");
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    report("prodcons", 2, now() - t0, n, pc_sum);
}

/* --- large --------------------------------------------------------------- */

static void run_large(size_t n)
{
    enum { WIN = 4, PAGE = 4096, MIN = 256 << 10, MAX = 4 << 20 };
    unsigned char *slot[WIN] = {0};
    uint64_t s = seed_for(0), sum = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rnd(&s);
        unsigned k = (unsigned)(r % WIN);
        if (slot[k])
            sum += block_free(slot[k]);
        size_t sz = MIN + (size_t)((r >> 8) % (MAX - MIN + 1));
        unsigned char *p = block_new(sz, r >> 40);
        for (size_t off = PAGE; off < sz - 1; off += PAGE)
            p[off] = (unsigned char)off;
        slot[k] = p;
    }
    for (unsigned k = 0; k < WIN; k++)
        if (slot[k])
            sum += block_free(slot[k]);
    report("large", 1, now() - t0, n, sum);
}

/* --- alloc-heavy: bignums ------------------------------------------------ */

/* Counts the allocation calls of alloc-heavy (its ops). */
static uint64_t ah_allocs;

static void *ah_malloc(size_t n)
{
    ah_allocs++;
    return xmalloc(n);
}

static void *ah_calloc(size_t k, size_t n)
{
    ah_allocs++;
    void *p = calloc(k, n);
    if (!p)
        die("out of memory");
    return p;
}

static void *ah_realloc(void *p, size_t n)
{
    ah_allocs++;
    void *q = realloc(p, n);
    if (!q)
        die("out of memory");
    return q;
}

/* An unsigned integer: n limbs (base 2^32, least significant first, no
 * leading zero limb; zero has n == 0) in a separately allocated array. */
typedef struct {
    size_t n, cap;
    uint32_t *d;
} big;

static big *big_new(size_t cap)
{
    big *b = ah_malloc(sizeof *b);
    b->n = 0;
    b->cap = cap ? cap : 1;
    b->d = ah_malloc(b->cap * sizeof *b->d);
    return b;
}

static big *big_from(uint64_t v)
{
    big *b = big_new(2);
    while (v) {
        b->d[b->n++] = (uint32_t)v;
        v >>= 32;
    }
    return b;
}

/* Reads the limb array's first and last limbs into the checksum. */
static uint64_t big_free(big *b)
{
    uint64_t c = b->n;
    if (b->n)
        c += b->d[0] + ((uint64_t)b->d[b->n - 1] << 7);
    free(b->d);
    free(b);
    return c;
}

static void big_push(big *b, uint32_t limb)
{
    if (b->n == b->cap) {
        b->cap = b->cap + b->cap / 2 + 1;
        b->d = ah_realloc(b->d, b->cap * sizeof *b->d);
    }
    b->d[b->n++] = limb;
}

static void big_trim(big *b)
{
    while (b->n && b->d[b->n - 1] == 0)
        b->n--;
}

static big *big_add(const big *a, const big *b)
{
    if (a->n < b->n) {
        const big *t = a;
        a = b;
        b = t;
    }
    big *r = big_new(a->n); /* often one limb short: big_push reallocs */
    uint64_t carry = 0;
    for (size_t i = 0; i < a->n; i++) {
        carry += (uint64_t)a->d[i] + (i < b->n ? b->d[i] : 0);
        big_push(r, (uint32_t)carry);
        carry >>= 32;
    }
    if (carry)
        big_push(r, (uint32_t)carry);
    return r;
}

static big *big_mul_small(const big *a, uint32_t m)
{
    big *r = big_new(a->n);
    uint64_t carry = 0;
    for (size_t i = 0; i < a->n; i++) {
        carry += (uint64_t)a->d[i] * m;
        big_push(r, (uint32_t)carry);
        carry >>= 32;
    }
    if (carry)
        big_push(r, (uint32_t)carry);
    big_trim(r);
    return r;
}

static big *big_mul(const big *a, const big *b)
{
    big *r = big_new(a->n + b->n);
    r->n = a->n + b->n;
    memset(r->d, 0, r->n * sizeof *r->d);
    for (size_t i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < b->n; j++) {
            carry += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
            r->d[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        r->d[i + b->n] = (uint32_t)carry;
    }
    big_trim(r);
    return r;
}

/* The quotient a / m (a new number) and the remainder in *rem. */
static big *big_divmod_small(const big *a, uint32_t m, uint32_t *rem)
{
    big *q = big_new(a->n);
    q->n = a->n;
    uint64_t r = 0;
    for (size_t i = a->n; i-- > 0;) {
        r = (r << 32) | a->d[i];
        q->d[i] = (uint32_t)(r / m);
        r %= m;
    }
    big_trim(q);
    *rem = (uint32_t)r;
    return q;
}

static int big_is_one(const big *a) { return a->n == 1 && a->d[0] == 1; }

/* Factors a (consumed) by trial division with the odd numbers up to lim, the
 * way a naive factoring program would: every trial allocates a quotient. */
static uint64_t big_factor(big *a, uint32_t lim)
{
    uint64_t sum = 0;
    for (uint32_t p = 2; p <= lim && !big_is_one(a) && a->n; p += (p == 2 ? 1 : 2)) {
        for (;;) {
            uint32_t rem;
            big *q = big_divmod_small(a, p, &rem);
            if (rem) {
                sum += big_free(q);
                break;
            }
            sum += p + big_free(a);
            a = q;
        }
    }
    return sum + big_free(a);
}

static uint64_t bignum_phase(uint64_t *s)
{
    uint64_t sum = 0;
    /* Factorials: k! = (k-1)! * k, each a new number. */
    big *f = big_from(1);
    for (uint32_t k = 2; k <= 300; k++) {
        big *g = big_mul_small(f, k);
        sum += big_free(f);
        f = g;
    }
    sum += big_free(f);
    /* Fibonacci numbers: F(k+1) = F(k) + F(k-1). */
    big *a = big_from(0), *b = big_from(1);
    for (int k = 0; k < 600; k++) {
        big *c = big_add(a, b);
        sum += big_free(a);
        a = b;
        b = c;
    }
    sum += big_free(a) + big_free(b);
    /* Products of random small numbers, then trial division of them. */
    for (int k = 0; k < 40; k++) {
        big *x = big_from(1 + (rnd(s) >> 40));
        for (int j = 0; j < 3; j++) {
            big *y = big_from(1 + (rnd(s) >> 44)), *z = big_mul(x, y);
            sum += big_free(x) + big_free(y);
            x = z;
        }
        big *sq = big_mul(x, x);
        sum += big_free(x);
        sum += big_factor(sq, 200);
    }
    return sum;
}

/* --- alloc-heavy: a hash set of small nodes ------------------------------ */

typedef struct node {
    struct node *next;
    uint64_t key;
    unsigned char len; /* bytes of name[] */
    char name[];       /* 1..48 bytes: a term's literal string, say */
} node;

typedef struct {
    node **b;
    size_t nb, count;
} hset;

static size_t hidx(uint64_t key, size_t nb) { return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (nb - 1); }

static void hset_init(hset *h)
{
    h->nb = 16;
    h->count = 0;
    h->b = ah_calloc(h->nb, sizeof *h->b);
}

static void hset_grow(hset *h)
{
    size_t nb = h->nb * 2;
    node **b = ah_calloc(nb, sizeof *b);
    for (size_t i = 0; i < h->nb; i++) {
        for (node *n = h->b[i], *next; n; n = next) {
            next = n->next;
            size_t j = hidx(n->key, nb);
            n->next = b[j];
            b[j] = n;
        }
    }
    free(h->b);
    h->b = b;
    h->nb = nb;
}

static uint64_t node_free(node *n)
{
    uint64_t c = n->key + (unsigned char)n->name[0] + (unsigned char)n->name[n->len - 1];
    free(n);
    return c;
}

/* Inserts key (if absent); returns 1 if it was inserted. */
static int hset_insert(hset *h, uint64_t key)
{
    size_t i = hidx(key, h->nb);
    for (node *n = h->b[i]; n; n = n->next)
        if (n->key == key)
            return 0;
    unsigned len = 1 + (unsigned)(key % 48);
    node *n = ah_malloc(sizeof *n + len);
    n->key = key;
    n->len = (unsigned char)len;
    n->name[0] = (char)('a' + key % 26);
    n->name[len - 1] = (char)('A' + key % 23);
    n->next = h->b[i];
    h->b[i] = n;
    if (++h->count > h->nb)
        hset_grow(h);
    return 1;
}

static uint64_t hset_remove(hset *h, uint64_t key)
{
    for (node **pp = &h->b[hidx(key, h->nb)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->key == key) {
            node *n = *pp;
            *pp = n->next;
            h->count--;
            return node_free(n);
        }
    }
    return 0;
}

static int hset_has(const hset *h, uint64_t key)
{
    for (node *n = h->b[hidx(key, h->nb)]; n; n = n->next)
        if (n->key == key)
            return 1;
    return 0;
}

static uint64_t hset_clear(hset *h)
{
    uint64_t sum = h->count;
    for (size_t i = 0; i < h->nb; i++) {
        for (node *n = h->b[i], *next; n; n = next) {
            next = n->next;
            sum += node_free(n);
        }
    }
    free(h->b);
    h->b = NULL;
    return sum;
}

/* Two sets of random keys over a small universe, churned by inserts and
 * deletes, then their intersection built as a third set (the term merging of
 * a logic minimiser, in spirit). */
static uint64_t set_phase(uint64_t *s)
{
    uint64_t sum = 0;
    hset a, b, c;
    hset_init(&a);
    hset_init(&b);
    hset_init(&c);
    for (int i = 0; i < 6000; i++) {
        uint64_t r = rnd(s);
        uint64_t key = (r >> 16) % 4096;
        hset *h = (r & 1) ? &a : &b;
        if ((r >> 1) % 3 == 0)
            sum += hset_remove(h, key);
        else
            sum += (uint64_t)hset_insert(h, key);
    }
    for (size_t i = 0; i < a.nb; i++)
        for (node *n = a.b[i]; n; n = n->next)
            if (hset_has(&b, n->key))
                hset_insert(&c, n->key ^ 0x5a5a);
    sum += hset_clear(&c) * 3 + hset_clear(&b) * 5 + hset_clear(&a);
    return sum;
}

static void run_alloc_heavy(size_t n)
{
    uint64_t s = seed_for(0), sum = 0;
    ah_allocs = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        sum = sum * 3 + bignum_phase(&s);
        sum = sum * 3 + set_phase(&s);
    }
    report("alloc-heavy", 1, now() - t0, ah_allocs, sum);
}

/* ------------------------------------------------------------------------ */

static void usage(void)
{
    fputs("usage: bench_mt threadloop T [N] | loop [N] | server T [N] | prodcons [N] | large [N] | alloc-heavy [N]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *w = argv[1];
    if (!strcmp(w, "threadloop") || !strcmp(w, "server")) {
        int tl = !strcmp(w, "threadloop");
        if (argc < 3 || argc > 4)
            usage();
        size_t t = parse_count(argv[2], "T");
        if (t > 1024)
            die("T must be at most 1024");
        size_t n = argc > 3 ? parse_count(argv[3], "N") : tl ? 50000000 : 4000000;
        run_mt(w, (unsigned)t, n, tl ? threadloop_worker : server_worker);
    } else if (!strcmp(w, "loop")) {
        if (argc > 3)
            usage();
        run_loop(argc > 2 ? parse_count(argv[2], "N") : 50000000);
    } else if (!strcmp(w, "prodcons") || !strcmp(w, "large") || !strcmp(w, "alloc-heavy")) {
        if (argc > 3)
            usage();
        if (!strcmp(w, "prodcons"))
            run_prodcons(argc > 2 ? parse_count(argv[2], "N") : 1000000);
        else if (!strcmp(w, "large"))
            run_large(argc > 2 ? parse_count(argv[2], "N") : 2000);
        else
            run_alloc_heavy(argc > 2 ? parse_count(argv[2], "N") : 1000);
    } else {
        usage();
    }
    return 0;
}
