/*
 * prog_ending.c MODE - a program the tool tests record that ends abruptly
 * with blocks still live: MODE "exit" ends with _exit(3), "kill" sends
 * itself SIGKILL, "segv" writes through a null pointer (SIGSEGV), "abort"
 * calls abort() (SIGABRT), "return" returns 0 from main. Before that it
 * makes 40 calls and prints "calls 40" on stdout and "ending by MODE" on
 * stderr.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "say.h"

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "return";
    long calls = 0;
    void *p[20];
    for (int i = 0; i < 20; i++) {
        p[i] = malloc(32 + (size_t)i * 64);
        EXPECT(p[i]);
        calls++;
    }
    for (int i = 0; i < 20; i += 2) {
        free(p[i]);
        calls++;
    }
    for (int i = 1; i < 20; i += 2) {
        p[i] = realloc(p[i], 2000);
        EXPECT(p[i]);
        calls++;
    }
    say(1, "calls", calls);
    say(2, "ending by", -1);
    say(2, mode, -1);
    if (strcmp(mode, "exit") == 0)
        _exit(3);
    if (strcmp(mode, "kill") == 0)
        raise(SIGKILL);
    if (strcmp(mode, "segv") == 0) {
        volatile int *volatile nowhere = NULL; /* a real store: not a trap, not dropped */
        *nowhere = 1;
    }
    if (strcmp(mode, "abort") == 0)
        abort();
    return 0;
}
