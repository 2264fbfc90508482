/*
 * progress.c - the progress bar (progress.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define BAR 30

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void progress_start(struct progress *p, bool quiet, const char *label)
{
    memset(p, 0, sizeof *p);
    p->on = !quiet && isatty(2);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->last = now_ms();
}

void progress_update(struct progress *p, size_t done, size_t total)
{
    if (!p->on || !total)
        return;
    uint64_t t = now_ms();
    if (t - p->last < 100 && done < total)
        return;
    p->last = t;
    unsigned pct = (unsigned)(done >= total ? 100 : (double)done * 100.0 / (double)total);
    char bar[BAR + 1];
    for (int i = 0; i < BAR; i++)
        bar[i] = i < (int)(pct * BAR / 100) ? '#' : '.';
    bar[BAR] = 0;
    fprintf(stderr, "\r%-28.28s [%s] %3u%%", p->label, bar, pct);
    fflush(stderr);
    p->drawn = true;
}

void progress_end(struct progress *p)
{
    if (p->on && p->drawn)
        fprintf(stderr, "\r%*s\r", 28 + BAR + 8, "");
    p->drawn = false;
}
