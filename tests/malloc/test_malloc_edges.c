/*
 * test_malloc_edges.c - the malloc replacement (libgjbmem-malloc.so), linked
 * directly: every edge of the malloc family that glibc programs rely on
 * (SPEC section 4), bad pointers, GJBMEM_SHOW (also for programs that
 * never allocate: exec'd children), GJBMEM_VALIDATE and
 * GJBMEM_ABORT_ON_BAD_FREE,
 * and that the C library's own allocations (strdup, asprintf, stdio) come
 * from the system heap too. After each test the system heap must validate.
 *
 * CTest runs it twice, with GJBMEM_POLICY=first-fit and =buddy; the test
 * checks that the heap took the policy asked for.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/posix.h"
#include "gjbmem/sysheap.h"

#include "../wordsize.h"

/* 2^62 bytes (a quarter of the address space) on LP64; TOO_MUCH_FOR_ILP32
 * on ILP32, where a quarter of the address space (1 GiB) can be had. */
#define WAY_TOO_MUCH (GJB_TEST_LP64 ? SIZE_MAX / 4 + 1 : TOO_MUCH_FOR_ILP32)

/* Compilers know malloc & co. and may fold away what these tests look at
 * (e.g. a malloc whose result is only compared with NULL): route the calls
 * through volatile pointers. */
static void *(*volatile p_malloc)(size_t) = malloc;
static void *(*volatile p_calloc)(size_t, size_t) = calloc;
static void *(*volatile p_realloc)(void *, size_t) = realloc;
static void *(*volatile p_reallocarray)(void *, size_t, size_t) = reallocarray;
static void *(*volatile p_memalign)(size_t, size_t) = memalign;
static void *(*volatile p_aligned_alloc)(size_t, size_t) = aligned_alloc;
static int (*volatile p_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile p_valloc)(size_t) = valloc;
static void *(*volatile p_pvalloc)(size_t) = pvalloc;
static void (*volatile p_free)(void *) = free;

static size_t page;

static int group_setup(void **state)
{
    (void)state;
    page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

/* After every test: the system heap is consistent. */
static int check_heap(void **state)
{
    (void)state;
    if (gjbmem_sysheap_validate() != 0) {
        print_error("gjbmem_sysheap_validate failed (errno %d)\n", errno);
        return -1;
    }
    return 0;
}

static size_t live_blocks(void)
{
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    return st.heap.alloc_blocks + st.direct_blocks;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static int same_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            return 0;
    return 1;
}

#define assert_aligned(p, a) assert_int_equal((uintptr_t)(p) % (uintptr_t)(a), 0)

/* ---- the replacement is in place --------------------------------------- */

static void replacement_in_place(void **state)
{
    (void)state;
    size_t before = live_blocks();
    char *p = p_malloc(100);
    assert_non_null(p);
    assert_true(gjbmem_usable_size(p) >= 100);
    assert_int_equal(live_blocks(), before + 1);
    p_free(p);
    assert_int_equal(live_blocks(), before);

    /* The policy asked for in the environment is the one in force. */
    const char *pol = getenv("GJBMEM_POLICY");
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    if (pol && strcmp(pol, "buddy") == 0)
        assert_int_equal(st.policy, BUDDY_ALLOCATION);
    else
        assert_int_equal(st.policy, FIRST_FIT_ALLOCATION);
}

/* The C library's internal allocations reach the replacement too. */
static void libc_allocations_routed(void **state)
{
    (void)state;
    char *s = strdup("gjbmem");
    assert_non_null(s);
    assert_true(gjbmem_usable_size(s) >= 7);
    free(s);

    char *a = NULL;
    assert_true(asprintf(&a, "%d-%s", 42, "x") > 0);
    assert_string_equal(a, "42-x");
    assert_true(gjbmem_usable_size(a) >= 5);
    free(a);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    for (int i = 0; i < 10000; i++)
        fprintf(f, "%d,", i);
    assert_int_equal(fclose(f), 0);
    assert_true(len > 40000);
    assert_true(gjbmem_usable_size(buf) >= len);
    free(buf);

    FILE *t = tmpfile(); /* stdio buffer from malloc, freed by fclose */
    assert_non_null(t);
    fputs("hello\n", t);
    rewind(t);
    char line[16];
    assert_non_null(fgets(line, sizeof line, t));
    assert_string_equal(line, "hello\n");
    assert_int_equal(fclose(t), 0);
}

/* ---- malloc ------------------------------------------------------------- */

static void malloc_zero_unique(void **state)
{
    (void)state;
    void *a = p_malloc(0), *b = p_malloc(0), *c = p_malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(b, c);
    assert_ptr_not_equal(a, c);
    assert_aligned(a, 16);
    p_free(b);
    p_free(a);
    p_free(c);
}

static void malloc_alignment(void **state)
{
    (void)state;
    static void *ps[600];
    size_t n = 0;
    for (size_t sz = 1; sz <= 4100; sz += 7)
        ps[n++] = p_malloc(sz);
    for (size_t sz = 200 * 1024; sz <= 1200 * 1024; sz += 100 * 1024 + 3)
        ps[n++] = p_malloc(sz); /* around and above the direct threshold */
    for (size_t i = 0; i < n; i++) {
        assert_non_null(ps[i]);
        assert_aligned(ps[i], 16);
        assert_aligned(ps[i], _Alignof(max_align_t));
    }
    for (size_t i = 0; i < n; i++)
        p_free(ps[i]);
}

static void malloc_failure_enomem(void **state)
{
    (void)state;
    /* Nothing beyond PTRDIFF_MAX, as glibc (on ILP32 PTRDIFF_MAX + 1 is
     * 2 GiB, which a 32-bit process could map); realloc refuses it too and
     * keeps the block. */
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 15, TOO_MUCH, (size_t)PTRDIFF_MAX + 1,
                           WAY_TOO_MUCH};
    char *keep = p_malloc(100);
    assert_non_null(keep);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        assert_null(p_malloc(huge[i]));
        assert_int_equal(errno, ENOMEM);
        errno = 0;
        assert_null(p_realloc(keep, huge[i]));
        assert_int_equal(errno, ENOMEM);
    }
    p_free(keep);
}

static void success_leaves_errno(void **state)
{
    (void)state;
    errno = 1234;
    void *p = p_malloc(10);
    assert_non_null(p);
    p = p_realloc(p, 5000);
    assert_non_null(p);
    void *q = p_calloc(3, 7);
    assert_non_null(q);
    void *r = p_memalign(64, 10);
    assert_non_null(r);
    void *big = p_malloc(1 << 20);
    assert_non_null(big);
    p_free(big);
    p_free(r);
    p_free(q);
    p_free(p);
    p_free(NULL);
    assert_int_equal(errno, 1234);
}

/* Every usable byte may be written. */
static void usable_size(void **state)
{
    (void)state;
    assert_int_equal(malloc_usable_size(NULL), 0);
    for (size_t sz = 0; sz < 3000; sz += 13) {
        unsigned char *p = p_malloc(sz);
        assert_non_null(p);
        size_t u = malloc_usable_size(p);
        assert_true(u >= sz);
        fill(p, u, (unsigned)sz);
        assert_int_equal(gjbmem_sysheap_validate(), 0);
        assert_true(same_fill(p, u, (unsigned)sz));
        p_free(p);
    }
    unsigned char *big = p_malloc(3 << 20);
    assert_non_null(big);
    size_t u = malloc_usable_size(big);
    assert_true(u >= (3u << 20));
    fill(big, u, 9);
    p_free(big);
}

/* ---- free --------------------------------------------------------------- */

static void free_null_noop(void **state)
{
    (void)state;
    size_t before = live_blocks();
    errno = 77;
    p_free(NULL);
    assert_int_equal(errno, 77);
    assert_int_equal(live_blocks(), before);
}

/* Foreign, interior and already-freed pointers: ignored, nothing written,
 * errno kept, the heap intact. */
static void free_bad_pointer_ignored(void **state)
{
    (void)state;
    if (getenv("GJBMEM_ABORT_ON_BAD_FREE"))
        skip();
    static char stat_buf[64];
    char stack_buf[64];
    memset(stack_buf, 0x11, sizeof stack_buf);
    memset(stat_buf, 0x22, sizeof stat_buf);

    unsigned char *p = p_malloc(256);
    assert_non_null(p);
    fill(p, 256, 3);
    size_t before = live_blocks();

    errno = 55;
    p_free(stack_buf);
    p_free(stat_buf + 16);
    p_free(p + 16); /* interior */
    p_free(p + 1);
    p_free((void *)(uintptr_t)0x1000); /* unmapped: must not even be read */
    assert_int_equal(errno, 55);
    assert_int_equal(live_blocks(), before);
    assert_true(same_fill(p, 256, 3));
    for (size_t i = 0; i < sizeof stack_buf; i++)
        assert_int_equal(stack_buf[i], 0x11);
    for (size_t i = 0; i < sizeof stat_buf; i++)
        assert_int_equal(stat_buf[i], 0x22);
    assert_int_equal(gjbmem_sysheap_validate(), 0);

    p_free(p);
    assert_int_equal(live_blocks(), before - 1);
    p_free(p); /* double free */
    assert_int_equal(errno, 55);
    assert_int_equal(live_blocks(), before - 1);

    /* A direct mapping freed twice. */
    void *big = p_malloc(1 << 20);
    assert_non_null(big);
    p_free(big);
    p_free(big);
    assert_int_equal(errno, 55);
    assert_int_equal(gjbmem_sysheap_validate(), 0);

    assert_int_equal(malloc_usable_size(stack_buf), 0);
}

static void realloc_bad_pointer(void **state)
{
    (void)state;
    if (getenv("GJBMEM_ABORT_ON_BAD_FREE"))
        skip();
    char stack_buf[32] = "untouched";
    errno = 0;
    assert_null(p_realloc(stack_buf, 100));
    assert_int_equal(errno, EINVAL);
    assert_string_equal(stack_buf, "untouched");
    void *p = p_malloc(40);
    p_free(p);
    errno = 0;
    assert_null(p_realloc(p, 100)); /* freed already */
    assert_int_equal(errno, EINVAL);
    /* realloc(bad, 0) is a bad free: ignored. */
    errno = 9;
    assert_null(p_realloc(stack_buf, 0));
    assert_int_equal(errno, 9);
}

/* Runs fn in a child with stderr on a pipe; returns the wait status and
 * what the child wrote to stderr in out. */
static int in_child(void (*fn)(void), char *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        alarm(20);
        fn();
        _exit(99);
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fds[0], out + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap - 1)
            break;
    }
    out[n] = '\0';
    close(fds[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static char g_local[16];

static void child_bad_free(void)
{
    setenv("GJBMEM_ABORT_ON_BAD_FREE", "1", 1);
    p_free(g_local + 4);
    _exit(0); /* not reached */
}

static void child_bad_realloc(void)
{
    setenv("GJBMEM_ABORT_ON_BAD_FREE", "1", 1);
    void *p = p_malloc(10);
    p_free(p);
    p = p_realloc(p, 20);
    _exit(0); /* not reached */
}

static void child_bad_free_default(void)
{
    unsetenv("GJBMEM_ABORT_ON_BAD_FREE");
    p_free(g_local + 4);
    _exit(gjbmem_sysheap_validate() == 0 ? 0 : 1);
}

static void abort_on_bad_free(void **state)
{
    (void)state;
    char out[512];
    int st = in_child(child_bad_free, out, sizeof out);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_non_null(strstr(out, "gjbmem: free(): invalid pointer 0x"));
    char want[64];
    snprintf(want, sizeof want, "%p", (void *)(g_local + 4));
    assert_non_null(strstr(out, want));
    assert_non_null(strchr(out, '\n'));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */

    st = in_child(child_bad_realloc, out, sizeof out);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_non_null(strstr(out, "gjbmem: realloc(): invalid pointer 0x"));

    st = in_child(child_bad_free_default, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_string_equal(out, "");
}

/* ---- GJBMEM_SHOW -------------------------------------------------------- */

static void child_show(void)
{
    setenv("GJBMEM_SHOW", "1", 1);
    void *p = malloc(1000);
    (void)p;
    exit(0); /* destructors run */
}

static void child_no_show(void)
{
    unsetenv("GJBMEM_SHOW");
    exit(0);
}

static void show_at_exit(void **state)
{
    (void)state;
    char out[8192];
    int st = in_child(child_show, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_non_null(strstr(out, "heap show >>"));
    st = in_child(child_no_show, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_null(strstr(out, "heap show >>"));
}

/* GJBMEM_SHOW=1 for programs that never allocate (issue 13): the C
 * library's `true` with the replacement preloaded, and this program,
 * exec'd to return from main at once. Each prints the table at exit, the
 * system heap holding its first region (4096 KiB, one segment or more). */
static const char *g_exec_path, *g_exec_arg;
static char g_preload[4096];

static void child_exec(void)
{
    setenv("GJBMEM_SHOW", "1", 1);
    if (g_preload[0])
        setenv("LD_PRELOAD", g_preload, 1);
    execl(g_exec_path, g_exec_path, g_exec_arg, (char *)NULL);
    _exit(98);
}

static void expect_fresh_table(const char *out)
{
    static const char head[] = "heap show >>\n\n"
                               "     HEAP         TOTAL      USED     MAX USED  SEGMENT USED%\n"
                               "-------------- ---------- ---------- ---------- ------- -----\n"
                               "system ";
    const char *row = strstr(out, head);
    if (!row)
        fail_msg("no table at exit; stderr was:\n%s", out);
    unsigned long total, used, maxused, seg, pct;
    assert_int_equal(sscanf(row + sizeof head - 1, "%luKB %luKB %luKB %lu %lu%%", &total, &used,
                            &maxused, &seg, &pct),
                     5);
    assert_int_equal(total, 4096);
    assert_true(seg >= 1);
    assert_true(used < total && pct < 100);
    const char *policy = getenv("GJBMEM_POLICY");
    bool buddy = policy && strcmp(policy, "buddy") == 0;
    assert_non_null(strstr(out, buddy ? "; policy BUDDY\n" : "; policy FIRST_FIT\n"));
}

static void show_when_nothing_allocated(void **state)
{
    (void)state;
    char out[8192];
    /* this program, linked with the replacement (readlink, not an exec of
     * /proc/self/exe: under valgrind that is the tool's own binary) */
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    g_exec_path = self;
    g_exec_arg = "--return-at-once";
    g_preload[0] = 0;
    int st = in_child(child_exec, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    expect_fresh_table(out);
    /* `true`, preloaded (where malloc resolves to, in this process, is the
     * replacement's file) */
    Dl_info dl;
    void *(*fn)(size_t) = p_malloc, *where; /* an address: ISO C casts no function pointer to void * */
    memcpy(&where, &fn, sizeof where);
    assert_true(dladdr(where, &dl) != 0 && dl.dli_fname);
    assert_true(strlen(dl.dli_fname) < sizeof g_preload);
    strcpy(g_preload, dl.dli_fname);
    assert_non_null(strstr(g_preload, "libgjbmem-malloc.so"));
    g_exec_path = access("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true";
    /* The host's `true` is a 64-bit program: it cannot preload this
     * replacement when it is built for ILP32 (the -m32 stage). */
    ONLY_ON_LP64();
    g_exec_arg = NULL;
    st = in_child(child_exec, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    expect_fresh_table(out);
}

/* GJBMEM_VALIDATE=1: the heap is checked at exit; damage aborts. */
static void child_validate_clean(void)
{
    setenv("GJBMEM_VALIDATE", "1", 1);
    void *p = malloc(100);
    free(p);
    exit(0);
}

/* Damages the heap the way a buggy program would, where the policy keeps
 * its metadata: FIRST_FIT the header word just before a block (an underflow of
 * the block), BUDDY the list links inside a freed block (a write after
 * free). Both leave the heap usable for what still allocates before the
 * destructor (a coverage build's gcov, say); FIRST_FIT follows its free
 * tree's links unchecked, so that damage is not done to it here. */
static void child_validate_damaged(void)
{
    setenv("GJBMEM_VALIDATE", "1", 1);
    struct gjbmem_sysheap_stats st;
    if (gjbmem_sysheap_stats(&st) != 0)
        _exit(3);
    unsigned char *a = p_malloc(64), *b = p_malloc(64), *c = p_malloc(64);
    (void)c;
    p_free(b);
    if (st.policy == BUDDY_ALLOCATION)
        memset(b, 0xa5, 16);
    else
        memset(a - sizeof(void *), 0xa5, sizeof(void *));
    exit(0);
}

static void validate_at_exit(void **state)
{
    (void)state;
    char out[1024];
    int st = in_child(child_validate_clean, out, sizeof out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_string_equal(out, "");
    st = in_child(child_validate_damaged, out, sizeof out);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_non_null(strstr(out, "gjbmem: the system heap is damaged at exit"));
}

/* ---- calloc ------------------------------------------------------------- */

static void calloc_edges(void **state)
{
    (void)state;
    void *a = p_calloc(0, 10), *b = p_calloc(10, 0), *c = p_calloc(0, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_ptr_not_equal(a, b);
    assert_ptr_not_equal(a, c);
    p_free(a);
    p_free(b);
    p_free(c);

    /* root * root overflows: 2^33 on LP64, 2^17 on ILP32 */
    const size_t root = (size_t)1 << (4 * sizeof(size_t) + 1);
    const size_t over[][2] = {{SIZE_MAX, 2}, {2, SIZE_MAX}, {root, root}, {SIZE_MAX / 3 + 1, 3}};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        errno = 0;
        assert_null(p_calloc(over[i][0], over[i][1]));
        assert_int_equal(errno, ENOMEM);
    }
    errno = 0;
    assert_null(p_calloc(1, TOO_MUCH));
    assert_int_equal(errno, ENOMEM);
}

/* Memory is zero even when it was used and freed before. */
static void calloc_zeroes_reused_memory(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 16, 100, 4000, 70000, 300 * 1024, 2 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (int round = 0; round < 4; round++) {
            unsigned char *d = p_malloc(n);
            assert_non_null(d);
            memset(d, 0xa5, malloc_usable_size(d));
            p_free(d);
            unsigned char *z = p_calloc(n, 1);
            assert_non_null(z);
            assert_aligned(z, 16);
            for (size_t i = 0; i < n; i++)
                if (z[i] != 0)
                    fail_msg("calloc(%zu) byte %zu is 0x%x", n, i, z[i]);
            p_free(z);
        }
    }
}

/* ---- realloc ------------------------------------------------------------ */

static void realloc_edges(void **state)
{
    (void)state;
    /* realloc(NULL, n) is malloc(n), realloc(NULL, 0) is malloc(0). */
    void *a = p_realloc(NULL, 0);
    assert_non_null(a);
    void *b = p_realloc(NULL, 0);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    void *c = p_realloc(NULL, 100);
    assert_non_null(c);
    assert_true(malloc_usable_size(c) >= 100);

    /* realloc(p, 0) frees p and returns NULL. */
    size_t before = live_blocks();
    errno = 31;
    assert_null(p_realloc(a, 0));
    assert_null(p_realloc(c, 0));
    assert_int_equal(errno, 31);
    assert_int_equal(live_blocks(), before - 2);
    void *big = p_malloc(1 << 20);
    assert_non_null(big);
    assert_null(p_realloc(big, 0));
    assert_int_equal(live_blocks(), before - 2);

    /* A growth that cannot be met: NULL, ENOMEM, the block intact. */
    fill(b, malloc_usable_size(b), 4);
    const size_t huge[] = {SIZE_MAX, TOO_MUCH, WAY_TOO_MUCH};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        assert_null(p_realloc(b, huge[i]));
        assert_int_equal(errno, ENOMEM);
    }
    assert_true(same_fill(b, malloc_usable_size(b), 4));
    p_free(b);
}

/* Contents survive every kind of move: small/large, grow/shrink, across
 * the direct-mapping threshold both ways. */
static void realloc_keeps_contents(void **state)
{
    (void)state;
    const size_t steps[] = {1,     15,     16,        17,         100,    1000,   4096,
                            60000, 300000, 1 << 20,   (3 << 20) + 5, 500000, 200000, 70000,
                            5000,  300,    17,        1,          8 << 20, 9,     0};
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t i = 0; steps[i] != 0; i++) {
        size_t n = steps[i];
        p = p_realloc(p, n);
        assert_non_null(p);
        assert_aligned(p, 16);
        size_t keep = have < n ? have : n;
        assert_true(same_fill(p, keep, 0x3c));
        fill(p, n, 0x3c);
        have = n;
        assert_int_equal(gjbmem_sysheap_validate(), 0);
    }
    p_free(p);

    /* In-place growth next to a freed neighbour and a memalign'd block. */
    unsigned char *x = p_malloc(64), *y = p_malloc(64), *z = p_memalign(256, 100);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(z);
    fill(x, 64, 1);
    fill(z, 100, 2);
    p_free(y);
    x = p_realloc(x, 120);
    assert_non_null(x);
    assert_true(same_fill(x, 64, 1));
    z = p_realloc(z, 5000);
    assert_non_null(z);
    assert_true(same_fill(z, 100, 2));
    p_free(x);
    p_free(z);
}

static void reallocarray_edges(void **state)
{
    (void)state;
    unsigned *p = p_reallocarray(NULL, 10, sizeof *p);
    assert_non_null(p);
    for (unsigned i = 0; i < 10; i++)
        p[i] = i * 3;
    p = p_reallocarray(p, 1000, sizeof *p);
    assert_non_null(p);
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(p[i], i * 3);

    errno = 0;
    assert_null(p_reallocarray(p, SIZE_MAX / 2, 4));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    const size_t big = (size_t)1 << (5 * sizeof(size_t)); /* 2^40 on LP64, 2^20 on ILP32 */
    assert_null(p_reallocarray(p, big, big));
    assert_int_equal(errno, ENOMEM);
    for (unsigned i = 0; i < 10; i++) /* intact */
        assert_int_equal(p[i], i * 3);
    errno = 0;
    assert_null(p_reallocarray(NULL, SIZE_MAX, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);

    /* A zero-sized result frees, as realloc(p, 0). */
    size_t before = live_blocks();
    assert_null(p_reallocarray(p, 0, 8));
    assert_int_equal(live_blocks(), before - 1);
    void *z = p_reallocarray(NULL, 0, 8);
    assert_non_null(z);
    p_free(z);
}

/* ---- aligned allocation ------------------------------------------------- */

static void memalign_edges(void **state)
{
    (void)state;
    for (size_t a = 1; a <= ((size_t)4 << 20); a <<= 1) {
        const size_t sizes[] = {0, 1, 100, 5000, 300 * 1024};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            unsigned char *p = p_memalign(a, sizes[k]);
            assert_non_null(p);
            assert_aligned(p, a);
            assert_aligned(p, 16);
            assert_true(malloc_usable_size(p) >= sizes[k]);
            fill(p, sizes[k], 5);
            p_free(p);
        }
    }
    /* glibc: an alignment that is not a power of two is rounded up. */
    void *p = p_memalign(24, 10);
    assert_non_null(p);
    assert_aligned(p, 32);
    p_free(p);
    p = p_memalign(3000, 10);
    assert_non_null(p);
    assert_aligned(p, 4096);
    p_free(p);
    p = p_memalign(0, 10);
    assert_non_null(p);
    assert_aligned(p, 16);
    p_free(p);
    errno = 0;
    assert_null(p_memalign(SIZE_MAX, 1));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(p_memalign(64, SIZE_MAX - 100));
    assert_int_equal(errno, ENOMEM);
}

static void posix_memalign_edges(void **state)
{
    (void)state;
    void *const sentinel = (void *)(uintptr_t)0x5a5a;
    /* sizeof(void *) / 2: 4 on LP64, 2 on ILP32 (where 4 is a valid alignment) */
    const size_t bad[] = {0, 1, 2, sizeof(void *) / 2, 24, 48, 3000, SIZE_MAX, SIZE_MAX / 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = sentinel;
        errno = 4321;
        assert_int_equal(p_posix_memalign(&p, bad[i], 100), EINVAL);
        assert_int_equal(errno, 4321);
        assert_ptr_equal(p, sentinel);
    }
    for (size_t a = sizeof(void *); a <= ((size_t)2 << 20); a <<= 1) {
        void *p = sentinel;
        errno = 4321;
        assert_int_equal(p_posix_memalign(&p, a, 1000), 0);
        assert_int_equal(errno, 4321);
        assert_ptr_not_equal(p, sentinel);
        assert_aligned(p, a);
        memset(p, 1, 1000);
        p_free(p);
    }
    /* Size 0: a unique freeable pointer. */
    void *z1 = NULL, *z2 = NULL;
    assert_int_equal(p_posix_memalign(&z1, 64, 0), 0);
    assert_int_equal(p_posix_memalign(&z2, 64, 0), 0);
    assert_non_null(z1);
    assert_non_null(z2);
    assert_ptr_not_equal(z1, z2);
    p_free(z1);
    p_free(z2);
    /* ENOMEM returned, and errno ENOMEM too (as glibc sets it); *memptr
     * untouched. */
    void *p = sentinel;
    const size_t huge[] = {SIZE_MAX - 100, TOO_MUCH, SIZE_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 4321;
        assert_int_equal(p_posix_memalign(&p, (size_t)64 >> i, huge[i]), ENOMEM);
        assert_int_equal(errno, ENOMEM);
        assert_ptr_equal(p, sentinel);
    }
}

static void aligned_alloc_edges(void **state)
{
    (void)state;
    const size_t bad[] = {0, 3, 24, 48, 1000, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(p_aligned_alloc(bad[i], 64));
        assert_int_equal(errno, EINVAL);
    }
    for (size_t a = 1; a <= ((size_t)1 << 20); a <<= 1) {
        void *p = p_aligned_alloc(a, 3 * a); /* a multiple, as C11 asked */
        assert_non_null(p);
        assert_aligned(p, a);
        p_free(p);
        p = p_aligned_alloc(a, 17); /* not a multiple (allowed since C17) */
        assert_non_null(p);
        assert_aligned(p, a);
        p_free(p);
    }
    void *z = p_aligned_alloc(32, 0);
    assert_non_null(z);
    p_free(z);
    errno = 0;
    assert_null(p_aligned_alloc(4096, SIZE_MAX - 4095));
    assert_int_equal(errno, ENOMEM);
}

static void valloc_pvalloc(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 12345, 300 * 1024, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        unsigned char *v = p_valloc(n);
        assert_non_null(v);
        assert_aligned(v, page);
        assert_true(malloc_usable_size(v) >= n);
        fill(v, n, 6);

        unsigned char *pv = p_pvalloc(n);
        assert_non_null(pv);
        assert_aligned(pv, page);
        size_t want = n == 0 ? page : (n + page - 1) / page * page;
        assert_true(malloc_usable_size(pv) >= want);
        memset(pv, 0x77, want); /* whole pages are usable */
        assert_int_equal(gjbmem_sysheap_validate(), 0);
        assert_true(same_fill(v, n, 6));
        p_free(v);
        p_free(pv);
    }
    void *a = p_valloc(0), *b = p_valloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    p_free(a);
    p_free(b);
    errno = 0;
    assert_null(p_pvalloc(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(p_pvalloc(SIZE_MAX - page));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(p_valloc(SIZE_MAX - 10));
    assert_int_equal(errno, ENOMEM);
}

/* ---- interrupt context (the port's simulated ISR flag) ------------------ */

static void isr_context_is_enomem(void **state)
{
    (void)state;
    void *keep = p_malloc(32);
    assert_non_null(keep);
    size_t before = live_blocks();
    gjbmem_posix_set_isr(1);
    errno = 0;
    void *p = p_malloc(32);
    int e1 = errno;
    errno = 0;
    void *q = p_calloc(2, 8);
    int e2 = errno;
    void *r = NULL;
    int rc = p_posix_memalign(&r, 64, 10);
    errno = 66;
    p_free(keep); /* refused in interrupt context: kept, errno unchanged */
    int e3 = errno;
    gjbmem_posix_set_isr(0);
    assert_null(p);
    assert_int_equal(e1, ENOMEM);
    assert_null(q);
    assert_int_equal(e2, ENOMEM);
    assert_int_equal(rc, ENOMEM);
    assert_int_equal(e3, 66);
    assert_int_equal(live_blocks(), before);
    p_free(keep);
    assert_int_equal(live_blocks(), before - 1);
}

/* ---- many blocks, then everything back ---------------------------------- */

static void churn_returns_to_empty(void **state)
{
    (void)state;
    enum { N = 4000 };
    static unsigned char *ps[N];
    static size_t sz[N];
    size_t before = live_blocks();
    unsigned x = 12345;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            x = x * 1103515245u + 12345u;
            if (ps[i]) {
                assert_true(same_fill(ps[i], sz[i], (unsigned)i));
                if (x & 0x100) {
                    p_free(ps[i]);
                    ps[i] = NULL;
                    continue;
                }
            }
            size_t n = (x >> 8) % ((x & 0x10000) ? 40000 : 300);
            if ((x & 0xf000000) == 0)
                n = 300 * 1024 + (x >> 20);
            unsigned char *p = p_realloc(ps[i], n ? n : 1);
            assert_non_null(p);
            if (ps[i]) {
                size_t keep = sz[i] < n ? sz[i] : n;
                assert_true(same_fill(p, keep, (unsigned)i));
            }
            ps[i] = p;
            sz[i] = n;
            fill(p, n, (unsigned)i);
        }
        assert_int_equal(gjbmem_sysheap_validate(), 0);
    }
    for (int i = 0; i < N; i++) {
        p_free(ps[i]);
        ps[i] = NULL;
    }
    assert_int_equal(live_blocks(), before);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--return-at-once") == 0)
        return 0; /* show_when_nothing_allocated: a program that never allocates */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(replacement_in_place, check_heap),
        cmocka_unit_test_teardown(libc_allocations_routed, check_heap),
        cmocka_unit_test_teardown(malloc_zero_unique, check_heap),
        cmocka_unit_test_teardown(malloc_alignment, check_heap),
        cmocka_unit_test_teardown(malloc_failure_enomem, check_heap),
        cmocka_unit_test_teardown(success_leaves_errno, check_heap),
        cmocka_unit_test_teardown(usable_size, check_heap),
        cmocka_unit_test_teardown(free_null_noop, check_heap),
        cmocka_unit_test_teardown(free_bad_pointer_ignored, check_heap),
        cmocka_unit_test_teardown(realloc_bad_pointer, check_heap),
        cmocka_unit_test_teardown(abort_on_bad_free, check_heap),
        cmocka_unit_test_teardown(show_at_exit, check_heap),
        cmocka_unit_test_teardown(show_when_nothing_allocated, check_heap),
        cmocka_unit_test_teardown(validate_at_exit, check_heap),
        cmocka_unit_test_teardown(calloc_edges, check_heap),
        cmocka_unit_test_teardown(calloc_zeroes_reused_memory, check_heap),
        cmocka_unit_test_teardown(realloc_edges, check_heap),
        cmocka_unit_test_teardown(realloc_keeps_contents, check_heap),
        cmocka_unit_test_teardown(reallocarray_edges, check_heap),
        cmocka_unit_test_teardown(memalign_edges, check_heap),
        cmocka_unit_test_teardown(posix_memalign_edges, check_heap),
        cmocka_unit_test_teardown(aligned_alloc_edges, check_heap),
        cmocka_unit_test_teardown(valloc_pvalloc, check_heap),
        cmocka_unit_test_teardown(isr_context_is_enomem, check_heap),
        cmocka_unit_test_teardown(churn_returns_to_empty, check_heap),
    };
    return cmocka_run_group_tests(tests, group_setup, check_heap);
}
