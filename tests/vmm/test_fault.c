/*
 * test_fault.c - fault injection in the port's page supply
 * (<gjbmem/fault.h>): with injection on, mmap, mmap64, mremap (growing
 * with MREMAP_MAYMOVE, and shrinking) and shm_open fail with ENOMEM, leave
 * the registry as it was and every earlier mapping intact; random injection
 * over thousands of mixed calls keeps the registry equal to a model and
 * loses no mapping; after reset all works again; partitions take no pages
 * from the port and are unaffected.
 */
#include "vmm_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define GJBMEM_NO_STD_NAMES
#include <gjbext.h>
#include <gjbmem/fault.h>
#include <mman.h>

static void assert_stats_equal(struct gjbmem_vmm_stats a, struct gjbmem_vmm_stats b)
{
    assert_int_equal(a.mappings, b.mappings);
    assert_int_equal(a.bytes_mapped, b.bytes_mapped);
    assert_int_equal(a.bytes_locked, b.bytes_locked);
    assert_int_equal(a.shm_opened, b.shm_opened);
    assert_int_equal(a.shared_anon_bytes, b.shared_anon_bytes);
}

/* True when every byte of [p, p+len) is c. */
static int all_bytes(const unsigned char *p, size_t len, unsigned char c)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static int teardown(void **state)
{
    (void)state;
    gjbmem_fault_reset();
    return 0;
}

/* Earlier mappings (anonymous private, shared, file) with patterns. */
struct held {
    unsigned char *p;
    size_t len;
    unsigned char fill;
};

static void make_held(struct held h[3], int fd)
{
    size_t pg = page_size();
    h[0].len = 3 * pg;
    h[0].p = gjbmem_mmap(NULL, h[0].len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    h[1].len = 2 * pg;
    h[1].p = gjbmem_mmap(NULL, h[1].len, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    h[2].len = 2 * pg;
    h[2].p = gjbmem_mmap64(NULL, h[2].len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    for (int i = 0; i < 3; i++) {
        assert_ptr_not_equal(h[i].p, MAP_FAILED);
        h[i].fill = (unsigned char)(0xA1 + i);
        memset(h[i].p, h[i].fill, h[i].len);
    }
}

static void check_held(const struct held h[3])
{
    for (int i = 0; i < 3; i++) {
        assert_true(pages_mapped(h[i].p, h[i].len));
        assert_true(all_bytes(h[i].p, h[i].len, h[i].fill));
    }
}

static void drop_held(struct held h[3])
{
    for (int i = 0; i < 3; i++)
        EXPECT_OK(gjbmem_munmap(h[i].p, h[i].len));
}

static void random_rejects_bad_rate(void **state)
{
    (void)state;
    EXPECT_ERR(gjbmem_fault_random(1001, 1), EINVAL);
    assert_int_equal(gjbmem_fault_count(), 0);
    /* The setting was left off: a mapping works. */
    void *p = gjbmem_mmap(NULL, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    EXPECT_OK(gjbmem_munmap(p, 1));
    EXPECT_OK(gjbmem_fault_random(0, 1));
    p = gjbmem_mmap(NULL, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    EXPECT_OK(gjbmem_munmap(p, 1));
    assert_int_equal(gjbmem_fault_count(), 0);
}

static void mapping_calls_fail_cleanly(void **state)
{
    (void)state;
    size_t pg = page_size();
    char path[64];
    int fd = temp_file(path, 8 * pg, 0x5C);
    assert_true(fd >= 0);
    struct held h[3];
    make_held(h, fd);
    struct gjbmem_vmm_stats before = vmm_now();

    gjbmem_fault_after(0);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    EXPECT_MAP_ERR(gjbmem_mmap64(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd,
                                 (gjbmem_off64_t)(2 * pg)), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    /* Growing with MREMAP_MAYMOVE and growing in place. */
    EXPECT_MAP_ERR(gjbmem_mremap(h[0].p, h[0].len, 16 * pg, MREMAP_MAYMOVE), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    EXPECT_MAP_ERR(gjbmem_mremap(h[1].p, h[1].len, 8 * pg, MREMAP_MAYMOVE), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    EXPECT_MAP_ERR(gjbmem_mremap(h[2].p, h[2].len, 4 * pg, 0), ENOMEM);
    assert_stats_equal(vmm_now(), before);
    assert_int_equal(gjbmem_fault_count(), 7);

    /* Argument errors come first and are not counted as injected. */
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                   EINVAL);
    EXPECT_MAP_ERR(gjbmem_mremap(h[0].p, h[0].len, 2 * pg, MREMAP_FIXED), ENOTSUP);
    assert_int_equal(gjbmem_fault_count(), 7);

    /* Calls that take no pages still work under injection. */
    EXPECT_OK(gjbmem_mprotect(h[0].p, h[0].len, PROT_READ | PROT_WRITE));
    EXPECT_OK(gjbmem_msync(h[2].p, h[2].len, MS_SYNC));
    check_held(h);
    assert_stats_equal(vmm_now(), before);

    gjbmem_fault_reset();
    assert_int_equal(gjbmem_fault_count(), 0);
    /* Everything works again: grow with a move, the contents follow. */
    unsigned char *g = gjbmem_mremap(h[0].p, h[0].len, 16 * pg, MREMAP_MAYMOVE);
    assert_ptr_not_equal(g, MAP_FAILED);
    assert_true(all_bytes(g, h[0].len, h[0].fill));
    h[0].p = g;
    h[0].len = 16 * pg;
    memset(g, h[0].fill, h[0].len);
    struct gjbmem_vmm_stats after = vmm_now();
    assert_int_equal(after.mappings, before.mappings);
    assert_int_equal(after.bytes_mapped, before.bytes_mapped + 13 * pg);
    void *q = gjbmem_mmap64(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, (gjbmem_off64_t)(2 * pg));
    assert_ptr_not_equal(q, MAP_FAILED);
    assert_true(all_bytes(q, 2 * pg, 0x5C));
    EXPECT_OK(gjbmem_munmap(q, 2 * pg));
    check_held(h);
    drop_held(h);
    close(fd);
    unlink(path);
}

/* A shrinking mremap takes no pages: injection never refuses it. */
static void shrinking_is_not_a_page_request(void **state)
{
    (void)state;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p = gjbmem_mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p, MAP_FAILED);
    memset(p, 0x5a, 4 * pg);
    gjbmem_fault_after(0);
    unsigned char *q = gjbmem_mremap(p, 4 * pg, 2 * pg, 0);
    assert_ptr_equal(q, p);
    assert_int_equal(gjbmem_fault_count(), 0);
    assert_true(all_bytes(q, 2 * pg, 0x5a));
    EXPECT_MAP_ERR(gjbmem_mremap(q, 2 * pg, 3 * pg, MREMAP_MAYMOVE), ENOMEM);
    assert_int_equal(gjbmem_fault_count(), 1);
    gjbmem_fault_reset();
    assert_int_equal(gjbmem_munmap(q, 2 * pg), 0);
}

static void after_n_lets_n_calls_through(void **state)
{
    (void)state;
    size_t pg = page_size();
    struct gjbmem_vmm_stats before = vmm_now();
    unsigned char *p[5];
    gjbmem_fault_after(3);
    for (int i = 0; i < 3; i++) {
        p[i] = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_ptr_not_equal(p[i], MAP_FAILED);
        memset(p[i], 0x30 + i, pg);
    }
    struct gjbmem_vmm_stats mid = vmm_now();
    assert_int_equal(mid.mappings, before.mappings + 3);
    /* The 4th call and all after it fail. */
    for (int i = 0; i < 4; i++) {
        EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
        EXPECT_MAP_ERR(gjbmem_mremap(p[i % 3], pg, 3 * pg, MREMAP_MAYMOVE), ENOMEM);
        assert_stats_equal(vmm_now(), mid);
    }
    assert_int_equal(gjbmem_fault_count(), 8);
    /* A new setting starts a new count. */
    gjbmem_fault_after(1);
    p[3] = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p[3], MAP_FAILED);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                   ENOMEM);
    assert_int_equal(gjbmem_fault_count(), 9);
    gjbmem_fault_reset();
    p[4] = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(p[4], MAP_FAILED);
    for (int i = 0; i < 3; i++) {
        assert_true(all_bytes(p[i], pg, (unsigned char)(0x30 + i)));
        EXPECT_OK(gjbmem_munmap(p[i], pg));
    }
    EXPECT_OK(gjbmem_munmap(p[3], pg));
    EXPECT_OK(gjbmem_munmap(p[4], pg));
    assert_stats_equal(vmm_now(), before);
}

static void shm_open_fails_cleanly(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "/gjbmem_test_fault_%ld", (long)getpid());
    (void)gjbmem_shm_unlink(name);
    size_t pg = page_size();
    char path[64];
    int tf = temp_file(path, 2 * pg, 0x11);
    assert_true(tf >= 0);
    struct held h[3];
    make_held(h, tf);
    struct gjbmem_vmm_stats before = vmm_now();

    gjbmem_fault_after(0);
    EXPECT_ERR(gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), ENOMEM);
    EXPECT_ERR(gjbmem_shm_open(name, O_RDWR | O_CREAT, 0600), ENOMEM);
    assert_int_equal(gjbmem_fault_count(), 2);
    /* A bad name is refused before the port: EINVAL, not counted. */
    EXPECT_ERR(gjbmem_shm_open("a/b", O_RDWR | O_CREAT, 0600), EINVAL);
    assert_int_equal(gjbmem_fault_count(), 2);
    assert_stats_equal(vmm_now(), before);
    /* No object was created. */
    EXPECT_ERR(gjbmem_shm_unlink(name), ENOENT);
    check_held(h);

    gjbmem_fault_reset();
    errno = SENTINEL;
    int fd = gjbmem_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(errno, SENTINEL);
    assert_int_equal(vmm_now().shm_opened, before.shm_opened + 1);
    assert_int_equal(ftruncate(fd, (off_t)pg), 0);
    unsigned char *m = gjbmem_mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_ptr_not_equal(m, MAP_FAILED);
    memset(m, 0x77, pg);
    /* Mapping the object under injection fails; the first mapping stays. */
    gjbmem_fault_after(0);
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0), ENOMEM);
    gjbmem_fault_reset();
    assert_true(all_bytes(m, pg, 0x77));
    EXPECT_OK(gjbmem_munmap(m, pg));
    close(fd);
    EXPECT_OK(gjbmem_shm_unlink(name));
    check_held(h);
    drop_held(h);
    close(tf);
    unlink(path);
}

/* --- Random injection against a model ----------------------------------- */

#define SLOTS 48
struct live {
    unsigned char *p;
    size_t len;
    unsigned char fill;
    int shared_anon;
};

static unsigned rng_state;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* Every live mapping still mapped and holding its pattern (one byte a
 * page, or every byte when full). */
static void check_live(const struct live *l, int full)
{
    size_t pg = page_size();
    for (int i = 0; i < SLOTS; i++) {
        if (l[i].p == NULL)
            continue;
        assert_true(pages_mapped(l[i].p, l[i].len));
        if (full) {
            assert_true(all_bytes(l[i].p, l[i].len, l[i].fill));
        } else {
            for (size_t o = 0; o < l[i].len; o += pg) {
                assert_int_equal(l[i].p[o], l[i].fill);
                assert_int_equal(l[i].p[o + pg - 1], l[i].fill);
            }
        }
    }
}

static void random_injection_keeps_registry(void **state)
{
    (void)state;
    size_t pg = page_size();
    char path[64];
    int fd = temp_file(path, 128 * pg, 0x3D); /* never touched beyond its end */
    assert_true(fd >= 0);
    char name[64];
    snprintf(name, sizeof name, "/gjbmem_test_fault_r_%ld", (long)getpid());
    struct live l[SLOTS] = {{0}};
    struct gjbmem_vmm_stats model = vmm_now();
    unsigned long failed = 0, ok = 0;
    const int ops = 4000;
    rng_state = 12345;
    assert_int_equal(gjbmem_fault_random(300, 777), 0);

    for (int op = 0; op < ops; op++) {
        int s = (int)rnd(SLOTS);
        unsigned kind = rnd(8);
        unsigned long c0 = gjbmem_fault_count();
        int done = 0, err = 0;
        if (l[s].p == NULL && kind < 5) {
            /* map: private anon, shared anon, private file (mmap64) */
            size_t len = (1 + rnd(4)) * pg;
            unsigned what = rnd(3);
            unsigned char *p;
            errno = SENTINEL;
            if (what == 0)
                p = gjbmem_mmap(NULL, len, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            else if (what == 1)
                p = gjbmem_mmap(NULL, len, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            else
                p = gjbmem_mmap64(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
                                  (gjbmem_off64_t)(rnd(4) * pg));
            if (p == MAP_FAILED) {
                err = errno;
            } else {
                assert_int_equal(errno, SENTINEL);
                l[s] = (struct live){p, len, (unsigned char)(1 + rnd(250)), what == 1};
                memset(p, l[s].fill, len);
                model.mappings++;
                model.bytes_mapped += len;
                if (what == 1)
                    model.shared_anon_bytes += len;
                done = 1;
            }
        } else if (l[s].p == NULL) {
            /* shm_open, then unlink (not injected) */
            errno = SENTINEL;
            int f = gjbmem_shm_open(name, O_RDWR | O_CREAT, 0600);
            if (f < 0) {
                err = errno;
            } else {
                close(f);
                EXPECT_OK(gjbmem_shm_unlink(name));
                model.shm_opened++;
                done = 1;
            }
        } else if (kind < 4) {
            /* grow (moving allowed) or shrink; a shared anonymous object
             * has a fixed size (pages past it would raise SIGBUS when
             * touched), so such mappings only shrink */
            size_t nl = kind < 3 && l[s].len < 32 * pg && !l[s].shared_anon ? l[s].len + (1 + rnd(4)) * pg
                                 : (l[s].len > pg ? l[s].len - pg : l[s].len);
            errno = SENTINEL;
            unsigned char *p = gjbmem_mremap(l[s].p, l[s].len, nl, MREMAP_MAYMOVE);
            if (p == MAP_FAILED) {
                err = errno;
            } else {
                assert_int_equal(errno, SENTINEL);
                size_t keep = nl < l[s].len ? nl : l[s].len;
                assert_true(all_bytes(p, keep, l[s].fill));
                model.bytes_mapped = model.bytes_mapped - l[s].len + nl;
                if (l[s].shared_anon)
                    model.shared_anon_bytes = model.shared_anon_bytes - l[s].len + nl;
                l[s].p = p;
                l[s].len = nl;
                memset(p, l[s].fill, nl);
                done = 1;
            }
        } else {
            /* unmap (never injected) */
            EXPECT_OK(gjbmem_munmap(l[s].p, l[s].len));
            model.mappings--;
            model.bytes_mapped -= l[s].len;
            if (l[s].shared_anon)
                model.shared_anon_bytes -= l[s].len;
            l[s].p = NULL;
            done = 1;
        }
        if (done) {
            ok++;
        } else {
            /* Only injected failures happen here, always ENOMEM. */
            assert_int_equal(err, ENOMEM);
            assert_int_equal(gjbmem_fault_count(), c0 + 1);
            failed++;
        }
        assert_stats_equal(vmm_now(), model);
        check_live(l, op % 256 == 0);
    }
    assert_int_equal(gjbmem_fault_count(), failed);
    assert_true(failed > 300 && ok > 1000); /* both paths well exercised */

    gjbmem_fault_reset();
    check_live(l, 1);
    for (int i = 0; i < SLOTS; i++) {
        if (l[i].p == NULL)
            continue;
        unsigned char *p = gjbmem_mremap(l[i].p, l[i].len, l[i].len + pg, MREMAP_MAYMOVE);
        assert_ptr_not_equal(p, MAP_FAILED); /* no failure after reset */
        assert_true(all_bytes(p, l[i].len, l[i].fill));
        EXPECT_OK(gjbmem_munmap(p, l[i].len + pg));
        model.mappings--;
        model.bytes_mapped -= l[i].len;
        if (l[i].shared_anon)
            model.shared_anon_bytes -= l[i].len;
    }
    assert_stats_equal(vmm_now(), model);
    assert_int_equal(gjbmem_fault_count(), 0);
    close(fd);
    unlink(path);
}

/* The same seed fails the same calls. */
static void random_is_deterministic(void **state)
{
    (void)state;
    size_t pg = page_size();
    unsigned char pattern[2][200];
    for (int run = 0; run < 2; run++) {
        assert_int_equal(gjbmem_fault_random(500, 42), 0);
        for (int i = 0; i < 200; i++) {
            void *p = gjbmem_mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            pattern[run][i] = p == MAP_FAILED;
            if (p != MAP_FAILED)
                EXPECT_OK(gjbmem_munmap(p, pg));
        }
        gjbmem_fault_reset();
    }
    assert_memory_equal(pattern[0], pattern[1], sizeof pattern[0]);
    int fails = 0;
    for (int i = 0; i < 200; i++)
        fails += pattern[0][i];
    assert_true(fails > 60 && fails < 140);
    /* 1000 permille fails everything. */
    assert_int_equal(gjbmem_fault_random(1000, 9), 0);
    for (int i = 0; i < 20; i++)
        EXPECT_MAP_ERR(gjbmem_mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                       ENOMEM);
    assert_int_equal(gjbmem_fault_count(), 20);
}

/* Partitions take no pages from the port: injection does not reach them.
 * (The library's first use takes the system heap's first region: it has
 * started before injection is turned on.) */
static void partitions_unaffected(void **state)
{
    (void)state;
    static _Alignas(16) char mem[64 * 1024], more[16 * 1024];
    mpart_id mid;
    assert_int_equal(mpart_module_init(MPART_MAX_PARTS), 0); /* the library starts */
    gjbmem_fault_after(0);
    assert_int_equal(mpart_create(mem, sizeof mem, &mid), 0);
    assert_int_equal(mpart_addmem(mid, more, sizeof more), 0);
    char *b[64];
    for (int i = 0; i < 64; i++) {
        b[i] = mpart_alloc(mid, 100 + (size_t)i * 8);
        assert_non_null(b[i]);
        memset(b[i], i, 100);
    }
    for (int i = 0; i < 64; i += 2)
        assert_int_equal(mpart_free(mid, b[i]), 0);
    char *r = mpart_realloc(mid, b[1], 4000);
    assert_non_null(r);
    b[1] = r;
    char *a = mpart_memalign(mid, 256, 300);
    assert_non_null(a);
    assert_int_equal(mpart_validate(mid), 0);
    for (int i = 1; i < 64; i += 2) {
        for (int k = 0; k < 100; k++)
            assert_int_equal(b[i][k], (char)i);
        assert_int_equal(mpart_free(mid, b[i]), 0);
    }
    assert_int_equal(mpart_free(mid, a), 0);
    assert_int_equal(mpart_validate(mid), 0);
    assert_int_equal(mpart_delete(mid), 0);
    assert_int_equal(gjbmem_fault_count(), 0);
    /* ... while the mapping layer is refused. */
    EXPECT_MAP_ERR(gjbmem_mmap(NULL, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                   ENOMEM);
    assert_int_equal(gjbmem_fault_count(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(random_rejects_bad_rate, teardown),
        cmocka_unit_test_teardown(mapping_calls_fail_cleanly, teardown),
        cmocka_unit_test_teardown(shrinking_is_not_a_page_request, teardown),
        cmocka_unit_test_teardown(after_n_lets_n_calls_through, teardown),
        cmocka_unit_test_teardown(shm_open_fails_cleanly, teardown),
        cmocka_unit_test_teardown(random_injection_keeps_registry, teardown),
        cmocka_unit_test_teardown(random_is_deterministic, teardown),
        cmocka_unit_test_teardown(partitions_unaffected, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
