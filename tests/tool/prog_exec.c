/*
 * prog_exec.c PROGRAM [ARGS] - a program the tool tests record that
 * allocates (12 calls, 4 blocks left live), prints "exec calls 12" on
 * stdout, then replaces itself with PROGRAM (execv), whose allocations go
 * to a trace of their own.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "say.h"

int main(int argc, char **argv)
{
    EXPECT(argc > 1);
    long calls = 0;
    void *p[8];
    for (int i = 0; i < 8; i++) {
        p[i] = malloc(100 + (size_t)i * 10);
        EXPECT(p[i]);
        calls++;
    }
    for (int i = 0; i < 4; i++) {
        free(p[i]);
        calls++;
    }
    say(1, "exec calls", calls);
    execv(argv[1], argv + 1);
    say(2, "prog_exec: execv failed", -1);
    return 127;
}
