/*
 * test_shm_crash.c - processes killed inside mpart_alloc, mpart_free,
 * mpart_memalign and mpart_realloc on a partition in shared memory
 * (docs/SHARED.md, "Crashes"). Linked with gjbmem_steplib: the engine calls
 * gjb_step_hook before every block or bitmap word it stores, and a child
 * arms it to SIGKILL itself at the k-th store of a random run of
 * operations, k random. After each kill the parent (whose blocks survive)
 * calls into the partition: the robust lock reports the dead holder, the
 * partition is repaired, and the test checks that it validates, is not
 * marked damaged, and that every surviving block is allocated where it was
 * with its checksummed contents; then it frees the dead child's blocks.
 * The same for both policies (FIRST_FIT: block and bitmap words; BUDDY:
 * tags and links). Also: kills at random times (not at stores), and a
 * partition the dead child damaged beyond repair (every call then fails and
 * writes nothing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gjbext.h"
#include "gjbmem/config.h"
#include "shm_test.h"

extern void (*volatile gjb_step_hook)(void);

#define AREA (2u << 20)
#define SURVIVORS 96
#define MAXREQ 3000u

enum { OP_ALLOC, OP_FREE, OP_MEMALIGN, OP_REALLOC, OP_COUNT };
static const char *op_names[OP_COUNT] = {"alloc", "free", "memalign", "realloc"};

/* Shared with the children: where each kill landed. */
struct tally {
    long kills_in[OP_COUNT];
    volatile int op;         /* the child's operation under way */
    volatile long countdown; /* stores until the kill */
};
static struct tally *tally;
static char *area;

static void die_at_step(void)
{
    if (--tally->countdown == 0) {
        __atomic_fetch_add(&tally->kills_in[tally->op], 1, __ATOMIC_SEQ_CST);
        raise(SIGKILL);
    }
}

/* The header's heap_off field (docs/SHARED.md: the header's layout). */
static size_t heap_off(void)
{
    uint64_t off;
    memcpy(&off, area + 24, sizeof off);
    return (size_t)off;
}

/* The header's counters: recoveries (the holder died holding the lock)
 * and repairs (... inside an operation: the heap rebuilt). */
static void recovery_counts(uint32_t *recoveries, uint64_t *repaired)
{
    memcpy(recoveries, area + 56, sizeof *recoveries);
    memcpy(repaired, area + 64, sizeof *repaired);
}

/* --- the surviving process's blocks */

struct survivor {
    char *p;
    size_t n;
};
static struct survivor surv[SURVIVORS];
static long blocks_checked;

static void survivor_new(mpart_id m, int i, uint64_t *seed)
{
    size_t n = 8 + (size_t)(rnd(seed) % MAXREQ);
    surv[i].p = rnd(seed) % 4 ? mpart_alloc(m, n) : mpart_memalign(m, 64, n);
    assert_non_null(surv[i].p);
    surv[i].n = n;
    fill((unsigned char *)surv[i].p, n, (uint32_t)rnd(seed));
}

static bool is_survivor(const char *p)
{
    for (int i = 0; i < SURVIVORS; i++)
        if (surv[i].p == p)
            return true;
    return false;
}

/* Every survivor is allocated where it was, with its contents. */
static void check_survivors(mpart_id m)
{
    for (int i = 0; i < SURVIVORS; i++) {
        if (!surv[i].p)
            continue;
        assert_true(mpart_usable_size(m, surv[i].p) >= surv[i].n);
        assert_true(check((unsigned char *)surv[i].p, surv[i].n));
        blocks_checked++;
    }
}

/* Frees every allocated block that is not a survivor (the dead child's). */
static void sweep(mpart_id m)
{
    static struct mpart_block list[4096];
    size_t count;
    assert_int_equal(mpart_blocks(m, list, 4096, &count), 0);
    assert_true(count <= 4096);
    for (size_t i = 0; i < count; i++) {
        char *pay = (char *)list[i].start + list[i].header;
        if (list[i].used && !is_survivor(pay))
            assert_int_equal(mpart_free(m, pay), 0);
    }
    assert_int_equal(mpart_validate(m), 0);
}

/* --- the child: random operations on blocks of its own */

static void child_ops(mpart_id m, uint64_t seed, long countdown)
{
    char *mine[32] = {0};
    for (long step = 0; step < 400; step++) {
        if (step == 12) { /* a few blocks first, then the hook */
            tally->countdown = countdown;
            gjb_step_hook = die_at_step;
        }
        int k = (int)(rnd(&seed) % 32), op = (int)(rnd(&seed) % OP_COUNT);
        size_t n = 1 + (size_t)(rnd(&seed) % MAXREQ);
        if (!mine[k])
            op = op == OP_MEMALIGN ? OP_MEMALIGN : OP_ALLOC;
        tally->op = op;
        switch (op) {
        case OP_ALLOC: mine[k] = mine[k] ? mine[k] : mpart_alloc(m, n); break;
        case OP_MEMALIGN:
            mine[k] = mine[k] ? mine[k] : mpart_memalign(m, (size_t)32 << (rnd(&seed) % 8), n);
            break;
        case OP_FREE: mpart_free(m, mine[k]), mine[k] = NULL; break;
        default: {
            char *q = mpart_realloc(m, mine[k], n);
            mine[k] = q ? q : mine[k];
        }
        }
    }
}

/* Forks a child that runs child_ops and waits for it: true when it was
 * killed. */
static bool run_child(mpart_id m, uint64_t seed, long countdown)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_ops(m, seed, countdown);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        assert_int_equal(WTERMSIG(status), SIGKILL);
        return true;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return false;
}

/* Kills child at a random time, up to 2 ms after it started. */
static void kill_soon(pid_t pid, uint64_t *seed)
{
    struct timespec t = {0, (long)(rnd(seed) % 2000000)};
    nanosleep(&t, NULL);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* A child that runs random operations until it is killed. */
static pid_t endless_child(mpart_id m, uint64_t seed)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tally->countdown = -1; /* the hook never fires */
        for (uint64_t k = 0;; k++)
            child_ops(m, seed + k, -1);
    }
    return pid;
}

static int setup(void **state)
{
    (void)state;
    area = mmap(NULL, AREA, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    tally = mmap(NULL, sizeof *tally, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || tally == MAP_FAILED)
        return -1;
    memset(tally, 0, sizeof *tally);
    memset(surv, 0, sizeof surv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    munmap(area, AREA);
    munmap(tally, sizeof *tally);
    return 0;
}

/* At least 1,000 kills at random stores (GJB_STRESS_SCALE scales them) in
 * a partition of the given policy. */
static void kills_at_random_stores(int policy, uint64_t seed)
{
    mpart_id m;
    struct gjbmem_heap_stats st;
    assert_int_equal(mpart_create_in(area, AREA, policy, &m), 0);
    assert_int_equal(mpart_getstats(m, &st), 0);
    size_t fresh_free_blocks = st.free_blocks;
    long kills_before[OP_COUNT];
    memcpy(kills_before, tally->kills_in, sizeof kills_before);
    blocks_checked = 0;
    for (int i = 0; i < SURVIVORS; i++)
        survivor_new(m, i, &seed);
    long target = scaled(1200), kills = 0, runs = 0;
    while (kills < target) {
        int i = (int)(rnd(&seed) % SURVIVORS); /* the survivor changes its layout too */
        assert_int_equal(mpart_free(m, surv[i].p), 0);
        survivor_new(m, i, &seed);
        kills += run_child(m, rnd(&seed), 1 + (long)(rnd(&seed) % 150));
        runs++;
        assert_int_equal(mpart_validate(m), 0); /* the repair happens here */
        check_survivors(m);
        sweep(m);
        check_survivors(m);
    }
    uint32_t recoveries;
    uint64_t repaired;
    recovery_counts(&recoveries, &repaired);
    assert_int_equal(recoveries, kills); /* every kill found the lock held */
    assert_true(repaired > (uint64_t)kills * 9 / 10); /* nearly all inside an operation */
    for (int i = 0; i < SURVIVORS; i++)
        assert_int_equal(mpart_free(m, surv[i].p), 0);
    assert_int_equal(mpart_getstats(m, &st), 0);
    assert_int_equal(st.alloc_blocks, 0);
    assert_int_equal(st.free_blocks, fresh_free_blocks); /* all free, merged as when new */
    assert_int_equal(mpart_delete(m), 0);
    long in[OP_COUNT];
    for (int op = 0; op < OP_COUNT; op++)
        in[op] = tally->kills_in[op] - kills_before[op];
    printf("shm crash, %s: %ld kills in %ld runs (alloc %ld, free %ld, memalign %ld, realloc "
           "%ld); %lu repairs; %ld surviving blocks checked; none lost, none damaged\n",
           policy == BUDDY_ALLOCATION ? "BUDDY" : "FIRST_FIT", kills, runs, in[OP_ALLOC],
           in[OP_FREE], in[OP_MEMALIGN], in[OP_REALLOC], (unsigned long)repaired, blocks_checked);
    for (int op = 0; op < OP_COUNT; op++)
        assert_true(in[op] > 0 || target < 100);
    (void)op_names;
}

static void first_fit_kills_at_random_stores(void **state)
{
    (void)state;
    kills_at_random_stores(FIRST_FIT_ALLOCATION, 0x9e3779b97f4a7c15ULL);
}

static void buddy_kills_at_random_stores(void **state)
{
    (void)state;
    kills_at_random_stores(BUDDY_ALLOCATION, 0x2545f4914f6cdd1dULL);
}

/* Kills at random times: anywhere in the library or the child's own code. */
static void kills_at_random_times(int policy, uint64_t seed)
{
    mpart_id m;
    assert_int_equal(mpart_create_in(area, AREA, policy, &m), 0);
    for (int i = 0; i < SURVIVORS; i++)
        survivor_new(m, i, &seed);
    long target = scaled(200);
    for (long k = 0; k < target; k++) {
        kill_soon(endless_child(m, rnd(&seed)), &seed);
        assert_int_equal(mpart_validate(m), 0);
        check_survivors(m);
        sweep(m);
    }
    for (int i = 0; i < SURVIVORS; i++)
        assert_int_equal(mpart_free(m, surv[i].p), 0);
    assert_int_equal(mpart_delete(m), 0);
}

static void first_fit_kills_at_random_times(void **state)
{
    (void)state;
    kills_at_random_times(FIRST_FIT_ALLOCATION, 77);
}

static void buddy_kills_at_random_times(void **state)
{
    (void)state;
    kills_at_random_times(BUDDY_ALLOCATION, 4242);
}


/* The hook of a child that damages the heap's descriptor (its magic) at
 * its first store and dies. */
static void damage_and_die(void)
{
    memset(area + heap_off(), 0x55, 4);
    raise(SIGKILL);
}

/* Beyond repair: the partition is marked damaged; every call fails with
 * ENOTRECOVERABLE and writes nothing; it can still be deleted. */
static void damaged_partition_refuses(void **state)
{
    (void)state;
    mpart_id m;
    assert_int_equal(mpart_create_in(area, AREA, FIRST_FIT_ALLOCATION, &m), 0);
    char *p = mpart_alloc(m, 100);
    assert_non_null(p);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gjb_step_hook = damage_and_die;
        mpart_alloc(m, 50);
        _exit(1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    size_t len = AREA - heap_off();
    char *before = malloc(len);
    assert_non_null(before);
    errno = 0;
    assert_null(mpart_alloc(m, 10)); /* finds the dead holder, cannot repair */
    assert_int_equal(errno, ENOTRECOVERABLE);
    memcpy(before, area + heap_off(), len);
    struct partinfo pi;
    assert_int_equal(mpart_validate(m), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_int_equal(mpart_free(m, p), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_null(mpart_realloc(m, p, 500));
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_null(mpart_memalign(m, 64, 10));
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_int_equal(mpart_getinfo(m, &pi), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_int_equal(mpart_findmaxfree(m), -1);
    assert_int_equal(mpart_addmem(m, area + AREA - 4096, 4096), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_memory_equal(before, area + heap_off(), len);
    free(before);
    mpart_id again;
    assert_int_equal(mpart_attach(area, &again), -1);
    assert_int_equal(errno, ENOTRECOVERABLE);
    assert_int_equal(mpart_delete(m), 0); /* with its block: it is damaged */
}

int main(void)
{
    if (GJBMEM_HARDENING != 1) { /* shared partitions: level 1 only (ENOTSUP) */
        printf("shm crash: shared partitions need hardening level 1\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_fit_kills_at_random_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(buddy_kills_at_random_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(first_fit_kills_at_random_times, setup, teardown),
        cmocka_unit_test_setup_teardown(buddy_kills_at_random_times, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_partition_refuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
