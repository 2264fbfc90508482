/*
 * test_bare_port.c - the bare-metal port on a target: the system heap on
 * areas handed over (before any, after one, after several; policy switch;
 * the errors of SPEC section 4), interrupt context through the in_isr hook,
 * mem_show through the write hook, the mapping layer and shared partitions
 * answering ENOSYS, the defaults without hooks (no locks, errors kept in
 * gjb_bare_errno, output dropped), and partitions beside the system heap
 * (no overlap either way). Runs on the emulated boards (tests/bare/run.sh)
 * and, built with the POSIX-free sources, nowhere else.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/mpart.h"
#include "gjbmem/posix.h"
#include "gjbmem/sysheap.h"
#include "gjbmem/vmm.h"
#include "gjbmem_bare.h"

/* <mman.h>'s prototypes need the host's headers: the ones used here, as
 * src/port/bare/nommu.c declares them. */
void *gjbmem_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int gjbmem_munmap(void *addr, size_t len);
int gjbmem_mlockall(int flags);
int gjbmem_shm_open(const char *name, int oflag, mode_t mode);
int gjbmem_posix_madvise(void *addr, size_t len, int advice);

static _Alignas(16) char area1[64 * 1024];
static _Alignas(16) char area2[16 * 1024];
static _Alignas(16) char part_mem[8 * 1024];

/* The text mem_show wrote (through hooks.c's write hook, which this
 * program's own hook wraps in show_capture). */
static char shown[2048];
static size_t nshown;
static int capture_write(int stream, const char *s, unsigned long n)
{
    (void)stream;
    if (nshown + n < sizeof shown) {
        memcpy(shown + nshown, s, n);
        nshown += n;
        shown[nshown] = 0;
    }
    return 0;
}

/* Runs first: nothing handed over yet. */
static void empty_before_any_area(void **state)
{
    (void)state;
    struct meminfo mi = {1, 1, 1, 1};
    assert_int_equal(mem_getinfo(&mi), 0);
    assert_int_equal(mi.segment, 0);
    assert_int_equal(mi.free, 0);
    assert_int_equal(mem_findmax(), 0);
    errno = 0;
    assert_null(gjbmem_malloc(16));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_int_equal(gjbmem_free((void *)area1), -1); /* not a block of the heap */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

static void first_area_makes_the_heap(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(gjbmem_sysheap_add_memory(NULL, 100), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(gjbmem_sysheap_add_memory(area1, 0), -1);
    assert_int_equal(gjbmem_sysheap_add_memory(area1, 8), -1); /* too small */
    assert_int_equal(gjbmem_sysheap_add_memory(area1, sizeof area1), 0);
    struct meminfo mi;
    assert_int_equal(mem_getinfo(&mi), 0);
    assert_int_equal(mi.segment, 1);
    assert_true(mi.free > sizeof area1 / 2 && mi.free < sizeof area1);
    assert_int_equal(mi.used + mi.free, sizeof area1); /* all of it under management */
    assert_true(mem_findmax() > 0 && (size_t)mem_findmax() <= mi.free);
    /* the same memory again, or a part of it: refused */
    errno = 0;
    assert_int_equal(gjbmem_sysheap_add_memory(area1 + 1024, 1024), -1);
    assert_int_equal(errno, EINVAL);
}

static void allocation_calls(void **state)
{
    (void)state;
    struct meminfo before;
    assert_int_equal(mem_getinfo(&before), 0);
    char *a = gjbmem_malloc(100);
    assert_non_null(a);
    assert_true(a >= area1 && a + 100 <= area1 + sizeof area1);
    assert_int_equal((uintptr_t)a % _Alignof(max_align_t), 0);
    memset(a, 0x5a, 100);
    char *z = gjbmem_calloc(10, 10);
    assert_non_null(z);
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    char *al = gjbmem_memalign(256, 40);
    assert_non_null(al);
    assert_int_equal((uintptr_t)al % 256, 0);
    errno = 0;
    assert_null(gjbmem_memalign(24, 40));
    assert_int_equal(errno, EINVAL);
    char *b = gjbmem_realloc(a, 3000);
    assert_non_null(b);
    for (int i = 0; i < 100; i++)
        assert_int_equal((unsigned char)b[i], 0x5a);
    assert_true(gjbmem_usable_size(b) >= 3000);
    errno = 0;
    assert_null(gjbmem_calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    assert_null(gjbmem_malloc(sizeof area1)); /* more than it holds */
    assert_int_equal(errno, ENOMEM);
    char *m0 = gjbmem_malloc(0); /* a unique freeable pointer */
    assert_non_null(m0);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(gjbmem_free(m0), 0);
    assert_int_equal(gjbmem_free(b), 0);
    assert_int_equal(gjbmem_free(z), 0);
    assert_int_equal(gjbmem_free(al), 0);
    errno = 0;
    assert_int_equal(gjbmem_free(b), -1); /* double free */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(gjbmem_free_cached(b), EINVAL);
    assert_int_equal(gjbmem_free(NULL), 0);
    struct meminfo after;
    assert_int_equal(mem_getinfo(&after), 0);
    assert_int_equal(after.free, before.free);
    assert_int_equal(after.segment, 1);
    assert_true(after.maxused > before.used);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

static void more_areas_and_limit(void **state)
{
    (void)state;
    struct meminfo one;
    assert_int_equal(mem_getinfo(&one), 0);
    assert_int_equal(gjbmem_sysheap_add_memory(area2, sizeof area2), 0);
    struct meminfo two;
    assert_int_equal(mem_getinfo(&two), 0);
    assert_int_equal(two.segment, 2);
    assert_true(two.free > one.free);
    /* a block larger than the first area's largest comes from nowhere, one
     * that fits the second only once the first is full */
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.heap.regions, 2);
    assert_int_equal(st.policy, FIRST_FIT_ALLOCATION);
    errno = 0;
    assert_int_equal(gjbmem_sysheap_set_limit(1024), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(gjbmem_sysheap_set_limit(SIZE_MAX), 0);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
}

static void policy_switch(void **state)
{
    (void)state;
    char *p = gjbmem_malloc(64);
    assert_non_null(p);
    errno = 0;
    assert_int_equal(heap_mem_init(BUDDY_ALLOCATION), -1); /* a block is allocated */
    assert_int_equal(errno, EBUSY);
    assert_int_equal(heap_mem_init(7), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(heap_mem_init(FIRST_FIT_ALLOCATION), 0); /* the same: no-op */
    assert_int_equal(gjbmem_free(p), 0);
    assert_int_equal(heap_mem_init(BUDDY_ALLOCATION), 0);
    struct gjbmem_sysheap_stats st;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.policy, BUDDY_ALLOCATION);
    assert_int_equal(st.heap.regions, 2); /* both areas kept */
    assert_int_equal(st.heap.header_bytes, 0); /* BUDDY: no header */
    char *q = gjbmem_malloc(100);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % 128, 0); /* a 128-byte buddy block */
    assert_int_equal(gjbmem_free(q), 0);
    assert_int_equal(gjbmem_sysheap_validate(), 0);
    assert_int_equal(heap_mem_init(FIRST_FIT_ALLOCATION), 0);
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(st.policy, FIRST_FIT_ALLOCATION);
    assert_int_equal(st.heap.segments, 2);
}

static void interrupt_context(void **state)
{
    (void)state;
    char *p = gjbmem_malloc(32);
    assert_non_null(p);
    gjbmem_posix_set_isr(1);
    errno = 0;
    assert_null(gjbmem_malloc(32));
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    assert_int_equal(gjbmem_free(p), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    assert_int_equal(heap_mem_init(BUDDY_ALLOCATION), -1);
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    struct meminfo mi;
    assert_int_equal(mem_getinfo(&mi), -1); /* not system context */
    assert_int_equal(errno, EACCES);
    gjbmem_posix_set_isr(0);
    gjbmem_posix_set_user(1);
    assert_int_equal(mem_getinfo(&mi), -1);
    assert_int_equal(errno, EACCES);
    gjbmem_posix_set_user(0);
    assert_int_equal(gjbmem_free(p), 0);
}

/* A lock_try that finds every lock held, as when an interrupt comes while
 * a thread is inside a partition's call (with an RTOS mutex). */
static bool busy_try(void *lock)
{
    (void)lock;
    return false;
}

/* In interrupt context the read-only calls try the lock and never wait: a
 * busy partition reads as unavailable (ERROR_KERNEL_HANDLE_NULL); a free one
 * answers. */
static void read_only_calls_in_interrupt_context(void **state)
{
    (void)state;
    mpart_id mid;
    assert_int_equal(mpart_create(part_mem, sizeof part_mem, &mid), 0);
    struct partinfo pi;
    gjbmem_posix_set_isr(1);
    assert_int_equal(mpart_getinfo(mid, &pi), 0);
    assert_true(mpart_findmaxfree(mid) > 0);
    assert_int_equal(mpart_validate(mid), 0);
    extern struct gjb_bare_hooks gjb_test_hooks;
    struct gjb_bare_hooks h = gjb_test_hooks;
    h.lock_try = busy_try;
    assert_int_equal(gjb_bare_set_hooks(&h), 0);
    errno = 0;
    assert_int_equal(mpart_getinfo(mid, &pi), -1);
    assert_int_equal(errno, ERROR_KERNEL_HANDLE_NULL);
    assert_int_equal(mpart_findmaxfree(mid), -1);
    assert_int_equal(gjb_bare_set_hooks(&gjb_test_hooks), 0);
    errno = 0;
    assert_null(mpart_alloc(mid, 16)); /* never allowed there */
    assert_int_equal(errno, ERROR_KERNEL_IN_ISR);
    gjbmem_posix_set_isr(0);
    assert_int_equal(mpart_delete(mid), 0);
}

static void partitions_beside_the_system_heap(void **state)
{
    (void)state;
    mpart_id mid;
    errno = 0;
    assert_int_equal(mpart_create(area1 + 4096, 4096, &mid), -1); /* the system heap's */
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mpart_create(part_mem, sizeof part_mem, &mid), 0);
    errno = 0;
    assert_int_equal(gjbmem_sysheap_add_memory(part_mem, sizeof part_mem), -1);
    assert_int_equal(errno, EINVAL);
    void *p = mpart_alloc(mid, 200);
    assert_non_null(p);
    assert_int_equal(gjbmem_free(p), -1); /* a partition's block, not the heap's */
    assert_int_equal(mpart_free(mid, p), 0);
    assert_int_equal(mpart_delete(mid), 0);
}

static void mem_show_through_the_hook(void **state)
{
    (void)state;
    mpart_id mid;
    assert_int_equal(mpart_create(part_mem, sizeof part_mem, &mid), 0);
    extern struct gjb_bare_hooks gjb_test_hooks;
    struct gjb_bare_hooks h = gjb_test_hooks;
    h.write = capture_write;
    assert_int_equal(gjb_bare_set_hooks(&h), 0);
    nshown = 0;
    mem_show();
    assert_int_equal(gjb_bare_set_hooks(&gjb_test_hooks), 0);
    assert_non_null(strstr(shown, "heap show >>\n"));
    assert_non_null(strstr(shown, "     HEAP         TOTAL      USED     MAX USED  SEGMENT USED%\n"));
    assert_non_null(strstr(shown, "\nsystem        "));
    assert_non_null(strstr(shown, "\nmpart "));
    assert_non_null(strstr(shown, "mappings: none (no MMU: the mapping calls answer ENOSYS)\n"));
    assert_int_equal(mpart_delete(mid), 0);
}

static void mapping_layer_answers_enosys(void **state)
{
    (void)state;
    errno = 0;
    assert_ptr_equal(gjbmem_mmap(NULL, 4096, 3, 0x22, -1, 0), (void *)-1);
    assert_int_equal(errno, ENOSYS);
    errno = 0;
    assert_int_equal(gjbmem_munmap(area1, 4096), -1);
    assert_int_equal(errno, ENOSYS);
    errno = 0;
    assert_int_equal(gjbmem_mlockall(1), -1);
    assert_int_equal(errno, ENOSYS);
    errno = 0;
    assert_int_equal(gjbmem_shm_open("/x", 0, 0), -1);
    assert_int_equal(errno, ENOSYS);
    errno = 0;
    assert_int_equal(gjbmem_posix_madvise(area1, 4096, 0), ENOSYS);
    assert_int_equal(errno, 0); /* returned, not set */
    struct gjbmem_vmm_stats vs = {1, 1, 1, 1, 1};
    assert_int_equal(gjbmem_vmm_stats(&vs), 0);
    assert_int_equal(vs.mappings + vs.bytes_mapped + vs.shm_opened, 0);
    mpart_id mid;
    errno = 0;
    assert_int_equal(mpart_create_shared("p", 65536, FIRST_FIT_ALLOCATION, &mid), -1);
    assert_int_equal(errno, ENOSYS);
    errno = 0;
    assert_int_equal(mpart_create_in(part_mem, sizeof part_mem, BUDDY_ALLOCATION, &mid), -1);
    assert_int_equal(errno, ENOSYS);
}

static void defaults_without_hooks(void **state)
{
    (void)state;
    extern struct gjb_bare_hooks gjb_test_hooks;
    struct gjb_bare_hooks half = {0};
    half.lock_take = gjb_test_hooks.lock_take; /* some lock hooks, not all four */
    assert_int_equal(gjb_bare_set_hooks(&half), -1);
    assert_int_equal(gjb_bare_set_hooks(NULL), 0);
    gjb_bare_set_errno_value(0);
    errno = 0;
    assert_null(gjbmem_memalign(3, 8)); /* the error goes to gjb_bare_errno */
    assert_int_equal(gjb_bare_errno(), EINVAL);
    assert_int_equal(errno, 0);
    gjbmem_posix_set_isr(1); /* no in_isr hook: never interrupt context */
    char *p = gjbmem_malloc(8);
    gjbmem_posix_set_isr(0);
    assert_non_null(p);
    nshown = 0;
    mem_show(); /* no write hook: dropped, nothing breaks */
    assert_int_equal(gjbmem_free(p), 0);
    assert_int_equal(gjb_bare_set_hooks(&gjb_test_hooks), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_before_any_area),
        cmocka_unit_test(first_area_makes_the_heap),
        cmocka_unit_test(allocation_calls),
        cmocka_unit_test(more_areas_and_limit),
        cmocka_unit_test(policy_switch),
        cmocka_unit_test(interrupt_context),
        cmocka_unit_test(read_only_calls_in_interrupt_context),
        cmocka_unit_test(partitions_beside_the_system_heap),
        cmocka_unit_test(mem_show_through_the_hook),
        cmocka_unit_test(mapping_layer_answers_enosys),
        cmocka_unit_test(defaults_without_hooks),
    };
    return cmocka_run_group_tests_name("bare_port", tests, NULL, NULL);
}
