/*
 * prog_threads.c - a program the tool tests record: THREADS worker threads
 * (argument 1, default 4, at least 2) hand blocks to one another. Worker i
 * allocates ROUNDS blocks (argument 2, default 300, at most 4096), each with malloc,
 * calloc or memalign, and posts each to worker i + 1 (mod THREADS), which
 * grows it with realloc, asks malloc_usable_size and frees it: every block
 * is made on one thread and resized and freed on another. It prints
 * "calls N" (the calls the program made itself; pthread_create's own
 * allocations are glibc's, not counted) and "threads T" on stdout,
 * deterministic whatever the interleaving.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "say.h"

#define MAX_THREADS 16
#define RING 4096 /* more than ROUNDS: post never waits, so no cycle of waits */

struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    void *slot[RING];
    size_t head, tail; /* posted: head - tail */
};

static struct mailbox box[MAX_THREADS];
static int nthreads;
static long rounds;
static atomic_long calls;

static void post(struct mailbox *b, void *p)
{
    pthread_mutex_lock(&b->lock);
    b->slot[b->head++ % RING] = p;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}

static void *take(struct mailbox *b)
{
    pthread_mutex_lock(&b->lock);
    while (b->head == b->tail)
        pthread_cond_wait(&b->changed, &b->lock);
    void *p = b->slot[b->tail++ % RING];
    pthread_mutex_unlock(&b->lock);
    return p;
}

/* Receives one block from the previous worker: resize, ask, free. */
static void consume(struct mailbox *mine, long j)
{
    char *q = take(mine);
    EXPECT(q[0] == 0x5a);
    q = realloc(q, 64 + (size_t)(j % 7) * 100);
    EXPECT(q && q[0] == 0x5a);
    EXPECT(malloc_usable_size(q) >= 64);
    free(q);
    atomic_fetch_add(&calls, 3);
}

static void *worker(void *arg)
{
    int me = (int)(long)arg;
    struct mailbox *next = &box[(me + 1) % nthreads], *mine = &box[me];
    long done = 0;
    for (long j = 0; j < rounds; j++) {
        size_t size = 16 + (size_t)((j * 37 + me * 11) % 500);
        char *p;
        switch (j % 3) {
        case 0: p = malloc(size); break;
        case 1: p = calloc(1, size); break;
        default: p = memalign(64, size); break;
        }
        EXPECT(p);
        atomic_fetch_add(&calls, 1);
        p[0] = 0x5a;
        post(next, p);
        /* Keep up with what the previous worker sends (it never waits for
         * us: a wait here ends once it has made a few more blocks). */
        while (done < j / 2)
            consume(mine, done++);
    }
    while (done < rounds)
        consume(mine, done++);
    return NULL;
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 4;
    rounds = argc > 2 ? atol(argv[2]) : 300;
    EXPECT(nthreads >= 2 && nthreads <= MAX_THREADS && rounds > 0 && rounds <= RING);
    for (int i = 0; i < nthreads; i++) {
        pthread_mutex_init(&box[i].lock, NULL);
        pthread_cond_init(&box[i].changed, NULL);
    }
    /* The main thread allocates first and frees last: thread 1 of the trace. */
    void *mine = malloc(1000);
    atomic_fetch_add(&calls, 1);
    EXPECT(mine);
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        EXPECT(pthread_create(&t[i], NULL, worker, (void *)(long)i) == 0);
    for (int i = 0; i < nthreads; i++)
        EXPECT(pthread_join(t[i], NULL) == 0);
    free(mine);
    atomic_fetch_add(&calls, 1);
    say(1, "calls", atomic_load(&calls));
    say(1, "threads", nthreads);
    return 0;
}
