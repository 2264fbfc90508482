/*
 * bench_shm.c - alloc+free pairs on a partition in shared memory
 * (docs/SHARED.md): 1, 2 and 4 processes, each with its own mapping and id
 * (mpart_open_shared), against the same partition used by 1, 2 and 4
 * threads of one process (one id), and a private partition (mpart_create)
 * by one thread: the price of the process-shared robust lock and the
 * intent record. glibc's malloc and free, one thread, the same sequence,
 * are the baseline of the run.
 *
 *   bench_shm [PAIRS] [REPEATS]   (default 2,000,000 pairs per worker, best of 5)
 *
 * Each worker keeps 16 blocks of 16-512 bytes live and, per pair, frees one
 * and allocates one of another size (the same sequence in every run). The
 * figure is nanoseconds per pair per worker (wall time of the slowest
 * worker / its pairs), the best of REPEATS runs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gjbext.h>

#define SIZE (16u << 20)
#define LIVE 16

static long pairs = 2000000;
static char name[64];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The same pairs with glibc's malloc and free. */
static int work_glibc(unsigned seed)
{
    char *live[LIVE];
    for (int i = 0; i < LIVE; i++)
        if (!(live[i] = malloc(16 + (size_t)(i * 31) % 497)))
            return -1;
    uint32_t x = seed * 2654435761u + 1;
    for (long i = 0; i < pairs; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        unsigned k = x % LIVE;
        free(live[k]);
        if (!(live[k] = malloc(16 + (x >> 8) % 497)))
            return -1;
    }
    for (int i = 0; i < LIVE; i++)
        free(live[i]);
    return 0;
}

/* The pairs of one worker on partition m: 0, or -1 when a call failed. */
static int work(mpart_id m, unsigned seed)
{
    char *live[LIVE];
    for (int i = 0; i < LIVE; i++)
        if (!(live[i] = mpart_alloc(m, 16 + (size_t)(i * 31) % 497)))
            return -1;
    uint32_t x = seed * 2654435761u + 1;
    for (long i = 0; i < pairs; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        unsigned k = x % LIVE;
        if (mpart_free(m, live[k]) != 0 || !(live[k] = mpart_alloc(m, 16 + (x >> 8) % 497)))
            return -1;
    }
    for (int i = 0; i < LIVE; i++)
        mpart_free(m, live[i]);
    return 0;
}

struct thread_arg {
    mpart_id m;
    unsigned seed;
    int rc;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    a->rc = work(a->m, a->seed);
    return NULL;
}

/* n threads on partition m: seconds. */
static double run_threads(mpart_id m, int n)
{
    pthread_t t[4];
    struct thread_arg a[4];
    double t0 = now();
    for (int i = 0; i < n; i++) {
        a[i] = (struct thread_arg){m, (unsigned)i + 1, 0};
        pthread_create(&t[i], NULL, thread_main, &a[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (a[i].rc)
            exit(1);
    }
    return now() - t0;
}

/* n processes, each opening the named partition itself: seconds (the
 * slowest child's own time for its pairs, from the common start on; not
 * its exit). */
static double run_processes(int n)
{
    int go[2];
    double *times = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pipe(go) != 0 || times == MAP_FAILED)
        exit(1);
    pid_t pid[4];
    for (int i = 0; i < n; i++) {
        if ((pid[i] = fork()) == 0) {
            mpart_id m;
            char c;
            if (mpart_open_shared(name, &m) != 0 || read(go[0], &c, 1) != 1)
                _exit(2);
            double t0 = now();
            int rc = work(m, (unsigned)i + 1);
            times[i] = now() - t0;
            mpart_close_shared(m);
            _exit(rc ? 1 : 0);
        }
    }
    usleep(100000); /* every child has mapped the partition */
    if (write(go[1], "gggg", (size_t)n) != n)
        exit(1);
    double t = 0;
    for (int i = 0; i < n; i++) {
        int status;
        waitpid(pid[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            exit(1);
        t = times[i] > t ? times[i] : t;
    }
    close(go[0]);
    close(go[1]);
    munmap(times, 4096);
    return t;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        pairs = atol(argv[1]);
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    snprintf(name, sizeof name, "/gjbmem-bench-%ld", (long)getpid());
    mpart_id shared, priv;
    char *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || mpart_create(mem, SIZE, &priv) != 0 ||
        mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &shared) != 0) {
        perror("bench_shm: setup");
        return 1;
    }
    printf("bench_shm: %ld alloc+free pairs per worker, best of %d; ns per pair per worker\n",
           pairs, repeats);
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (work_glibc(1))
            return 1;
        double t = now() - t0;
        best = t < best ? t : best;
    }
    double glibc_ns = best * 1e9 / (double)pairs;
    best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t = run_threads(priv, 1);
        best = t < best ? t : best;
    }
    double private_ns = best * 1e9 / (double)pairs;
    printf("%-28s %8.1f\n", "glibc malloc+free, 1 thread", glibc_ns);
    printf("%-28s %8.1f  (%.2fx glibc)\n", "private partition, 1 thread", private_ns,
           private_ns / glibc_ns);
    for (int n = 1; n <= 4; n *= 2) {
        best = 1e30;
        for (int r = 0; r < repeats; r++) {
            double t = run_threads(shared, n);
            best = t < best ? t : best;
        }
        printf("shared, %d thread%s %*s %8.1f  (%.2fx private)\n", n, n > 1 ? "s" : " ", 11, "",
               best * 1e9 / (double)pairs, best * 1e9 / (double)pairs / private_ns);
    }
    for (int n = 1; n <= 4; n *= 2) {
        best = 1e30;
        for (int r = 0; r < repeats; r++) {
            double t = run_processes(n);
            best = t < best ? t : best;
        }
        printf("shared, %d process%s %*s %8.1f  (%.2fx private)\n", n, n > 1 ? "es" : "  ", 9,
               "", best * 1e9 / (double)pairs, best * 1e9 / (double)pairs / private_ns);
    }
    mpart_delete(shared);
    mpart_delete(priv);
    return 0;
}
