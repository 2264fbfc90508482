/*
 * cmocka.c - the runner behind tests/bare/include/cmocka.h: runs each test
 * with its setup and teardown, catches failed assertions and skips (the
 * longjmp out of the test), prints cmocka's lines and returns the number
 * of failed tests (main's status).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cmocka.h"

jmp_buf gjb_cm_jump;

enum { RAN, FAILED, SKIPPED };

void gjb_cm_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("[  ERROR   ] --- ");
    vprintf(fmt, ap);
    printf("\n[   LINE   ] --- %s:%d: error: Failure!\n", file, line);
    va_end(ap);
    longjmp(gjb_cm_jump, 1 + FAILED);
}

void gjb_cm_skip(void)
{
    longjmp(gjb_cm_jump, 1 + SKIPPED);
}

int gjb_cm_run(const char *group, const struct CMUnitTest *tests, size_t n,
               CMFixtureFunction setup, CMFixtureFunction teardown)
{
    volatile size_t failed = 0, skipped = 0;
    void *group_state = NULL;
    printf("[==========] %s: Running %u test(s).\n", group, (unsigned)n);
    if (setup && setup(&group_state) != 0) {
        printf("[  ERROR   ] %s: group setup failed\n", group);
        return (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        const struct CMUnitTest *t = &tests[i];
        void *state = t->initial_state ? t->initial_state : group_state;
        printf("[ RUN      ] %s\n", t->name);
        volatile int how = setjmp(gjb_cm_jump);
        if (how == 0) {
            if (t->setup_func && t->setup_func(&state) != 0)
                gjb_cm_fail(__FILE__, __LINE__, "setup of %s failed", t->name);
            t->test_func(&state);
            how = 1 + RAN;
        }
        if (t->teardown_func) {
            /* a failed assertion in the teardown fails the test */
            volatile int down = setjmp(gjb_cm_jump);
            if (down == 0 && t->teardown_func(&state) != 0)
                down = 1 + FAILED;
            if (down == 1 + FAILED)
                how = 1 + FAILED;
        }
        if (how == 1 + SKIPPED) {
            skipped++;
            printf("[  SKIPPED ] %s\n", t->name);
        } else if (how == 1 + FAILED) {
            failed++;
            printf("[  FAILED  ] %s\n", t->name);
        } else {
            printf("[       OK ] %s\n", t->name);
        }
    }
    if (teardown)
        teardown(&group_state);
    printf("[==========] %s: %u test(s) run.\n", group, (unsigned)n);
    printf("[  PASSED  ] %u test(s).\n", (unsigned)(n - failed - skipped));
    if (skipped)
        printf("[  SKIPPED ] %u test(s).\n", (unsigned)skipped);
    if (failed)
        printf("[  FAILED  ] %u test(s).\n", (unsigned)failed);
    return (int)failed;
}
