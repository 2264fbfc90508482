/*
 * prog_fork.c - a program the tool tests record: the parent allocates 8
 * blocks and forks; the child allocates blocks of its own, frees the
 * inherited blocks 0-3, resizes block 4, frees what it made and ends with
 * _exit; the parent waits for it, then frees its blocks. Each prints how
 * many calls it made on stdout ("child calls N", then "parent calls M":
 * the parent writes after the child has ended, so the order is fixed).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "say.h"

int main(void)
{
    long calls = 0;
    void *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = malloc(64 + (size_t)i * 300);
        EXPECT(p[i]);
        calls++;
    }
    free(p[7]); /* not inherited */
    calls++;
    pid_t pid = fork();
    EXPECT(pid >= 0);
    if (pid == 0) {
        long mine = 0;
        void *q[5];
        for (int i = 0; i < 5; i++) {
            q[i] = calloc(3, 100 + (size_t)i * 50);
            EXPECT(q[i]);
            mine++;
        }
        for (int i = 0; i < 4; i++) {
            free(p[i]);
            mine++;
        }
        p[4] = realloc(p[4], 10000);
        EXPECT(p[4]);
        mine++;
        for (int i = 0; i < 5; i++) {
            free(q[i]);
            mine++;
        }
        say(1, "child calls", mine);
        _exit(0); /* no exit handlers: blocks 4-6 stay live */
    }
    int status;
    EXPECT(waitpid(pid, &status, 0) == pid);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 7; i++) {
        free(p[i]);
        calls++;
    }
    say(1, "parent calls", calls);
    return 0;
}
