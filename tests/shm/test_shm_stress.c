/*
 * test_shm_stress.c - four processes share one named partition, each
 * through its own mapping (mpart_open_shared: different addresses). Each
 * allocates blocks (some aligned), fills them with a checksummed pattern,
 * resizes some (the contents must follow), and hands others to the next
 * process of a ring as offsets (mpart_to_offset, a pipe,
 * mpart_from_offset), which checks and frees them. A few million
 * operations in all (GJB_STRESS_SCALE scales them); at the end the
 * partition validates and holds no block. Both policies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/config.h"
#include "shm_test.h"

#define PROCS 4
#define KEEP 64
#define MAXREQ 2048u

static char name[64];

/* What each child reports. */
struct result {
    long ops, handed, received, checked;
};
static struct result *results;

struct own {
    char *p;
    size_t n;
};

/* Checks and frees the blocks the previous process handed over (all of
 * them, waiting for its end, when `all`). 0 or an exit code. */
static int take_handed(mpart_id m, int in, bool all, struct result *r)
{
    long off;
    for (;;) {
        ssize_t got = read(in, &off, sizeof off);
        if (got == 0 || (got < 0 && errno == EAGAIN && !all))
            return 0;
        if (got < 0 && errno == EAGAIN) {
            int fl = fcntl(in, F_GETFL);
            fcntl(in, F_SETFL, fl & ~O_NONBLOCK);
            continue;
        }
        if (got != (ssize_t)sizeof off)
            return 20;
        unsigned char *p = mpart_from_offset(m, off);
        if (!p || !check(p, MAXREQ + 64))
            return 21;
        if (mpart_free(m, (char *)p) != 0)
            return 22;
        r->received++, r->checked++, r->ops++;
    }
}

/* One operation on the process's own blocks. 0 or an exit code. */
static int step(mpart_id m, struct own *mine, int out, uint64_t *seed, struct result *r)
{
    int k = (int)(rnd(seed) % KEEP);
    uint64_t dice = rnd(seed) % 16;
    if (!mine[k].p) {
        size_t n = 8 + (size_t)(rnd(seed) % MAXREQ);
        mine[k].p = dice < 3 ? mpart_memalign(m, (size_t)32 << (dice * 2), n) : mpart_alloc(m, n);
        if (!mine[k].p)
            return 0; /* full for now: others free */
        mine[k].n = n;
        fill((unsigned char *)mine[k].p, n, (uint32_t)rnd(seed));
    } else if (!check((unsigned char *)mine[k].p, MAXREQ + 64)) {
        return 30;
    } else if (dice < 2) { /* resize: the contents follow */
        size_t n = 8 + (size_t)(rnd(seed) % MAXREQ);
        char *q = mpart_realloc(m, mine[k].p, n);
        if (!q)
            return 0;
        size_t keep = n < mine[k].n ? n : mine[k].n;
        unsigned char *b = (unsigned char *)q;
        for (size_t i = 8; i < keep; i++)
            if (b[i] != (unsigned char)(((uint32_t *)(void *)b)[1] + i * 131u))
                return 31;
        mine[k].p = q;
        mine[k].n = n;
        fill(b, n, (uint32_t)rnd(seed));
        r->checked++;
    } else if (dice < 8 && send_long(out, mpart_to_offset(m, mine[k].p)) == 0) {
        mine[k].p = NULL; /* the next process frees it */
        r->handed++;
    } else {
        if (mpart_free(m, mine[k].p) != 0)
            return 32;
        mine[k].p = NULL;
        r->checked++;
    }
    r->ops++;
    return 0;
}

static int child(int id, int in, int out, long ops, struct result *r)
{
    mpart_id m;
    if (mpart_open_shared(name, &m) != 0)
        return 10;
    struct own mine[KEEP] = {{0}};
    uint64_t seed = 0x1234567ULL * (uint64_t)(unsigned)(id + 1);
    int rc = 0;
    while (!rc && r->ops < ops) {
        rc = take_handed(m, in, false, r);
        if (!rc)
            rc = step(m, mine, out, &seed, r);
    }
    for (int k = 0; k < KEEP && !rc; k++)
        if (mine[k].p && (!check((unsigned char *)mine[k].p, MAXREQ + 64) ||
                          mpart_free(m, mine[k].p) != 0))
            rc = 40;
    close(out); /* the next process sees the end of its input */
    if (!rc)
        rc = take_handed(m, in, true, r);
    if (!rc && mpart_validate(m) != 0)
        rc = 41;
    if (!rc && mpart_close_shared(m) != 0)
        rc = 42;
    return rc;
}

static void ring(int policy, long ops_each)
{
    mpart_id m;
    snprintf(name, sizeof name, "/gjbmem-stress-%ld", (long)getpid());
    shm_unlink(name);
    assert_int_equal(mpart_create_shared(name, 8u << 20, policy, &m), 0);
    results = mmap(NULL, sizeof *results * PROCS, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_ptr_not_equal(results, MAP_FAILED);
    memset(results, 0, sizeof *results * PROCS);
    int pipes[PROCS][2];
    for (int i = 0; i < PROCS; i++) {
        assert_int_equal(pipe(pipes[i]), 0);
        fcntl(pipes[i][0], F_SETFL, O_NONBLOCK);
        fcntl(pipes[i][1], F_SETFL, O_NONBLOCK);
    }
    pid_t pid[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) { /* reads pipe i, writes pipe i+1 */
            int in = pipes[i][0], out = pipes[(i + 1) % PROCS][1];
            for (int j = 0; j < PROCS; j++) {
                if (pipes[j][0] != in)
                    close(pipes[j][0]);
                if (pipes[j][1] != out)
                    close(pipes[j][1]);
            }
            _exit(child(i, in, out, ops_each, &results[i]));
        }
    }
    for (int i = 0; i < PROCS; i++)
        close(pipes[i][0]), close(pipes[i][1]);
    struct result sum = {0};
    for (int i = 0; i < PROCS; i++) {
        int status;
        assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        sum.ops += results[i].ops, sum.handed += results[i].handed;
        sum.received += results[i].received, sum.checked += results[i].checked;
    }
    assert_int_equal(sum.handed, sum.received);
    assert_int_equal(mpart_validate(m), 0);
    struct gjbmem_heap_stats st;
    assert_int_equal(mpart_getstats(m, &st), 0);
    assert_int_equal(st.alloc_blocks, 0);
    assert_int_equal(mpart_delete(m), 0);
    printf("shm stress (%s): %d processes, %ld operations, %ld blocks handed over, %ld checked\n",
           policy == BUDDY_ALLOCATION ? "BUDDY" : "FIRST_FIT", PROCS, sum.ops, sum.handed,
           sum.checked);
    munmap(results, sizeof *results * PROCS);
}

static void four_processes_first_fit(void **state)
{
    (void)state;
    ring(FIRST_FIT_ALLOCATION, scaled(750000));
}

static void four_processes_buddy(void **state)
{
    (void)state;
    ring(BUDDY_ALLOCATION, scaled(150000));
}

int main(void)
{
    if (GJBMEM_HARDENING != 1) { /* shared partitions: level 1 only (ENOTSUP) */
        printf("shm stress: shared partitions need hardening level 1\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(four_processes_first_fit),
        cmocka_unit_test(four_processes_buddy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
