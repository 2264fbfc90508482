/*
 * cmocka.h for the tests on emulated boards: the part of cmocka's interface
 * that the engine and partition tests use (unit tests with setup and
 * teardown, groups, the assert_* macros, skip, fail), so that they compile
 * unchanged against a C library without cmocka. A failed assertion or skip
 * leaves the test with longjmp; the summary lines are cmocka's.
 */
#ifndef GJB_BARE_CMOCKA_H
#define GJB_BARE_CMOCKA_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup(f, s) {#f, f, s, NULL, NULL}
#define cmocka_unit_test_teardown(f, t) {#f, f, NULL, t, NULL}
#define cmocka_unit_test_setup_teardown(f, s, t) {#f, f, s, t, NULL}
#define cmocka_unit_test_prestate(f, p) {#f, f, NULL, NULL, p}
#define cmocka_unit_test_prestate_setup_teardown(f, s, t, p) {#f, f, s, t, p}

/* One test's way out (tests/bare/cmocka.c). */
extern jmp_buf gjb_cm_jump;
void gjb_cm_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void gjb_cm_skip(void) __attribute__((noreturn));
int gjb_cm_run(const char *group, const struct CMUnitTest *tests, size_t n,
               CMFixtureFunction setup, CMFixtureFunction teardown);

#define cmocka_run_group_tests(t, s, td) gjb_cm_run(#t, t, sizeof(t) / sizeof((t)[0]), s, td)
#define cmocka_run_group_tests_name(name, t, s, td)                                               \
    gjb_cm_run(name, t, sizeof(t) / sizeof((t)[0]), s, td)

#define print_message(...) printf(__VA_ARGS__)
#define print_error(...) fprintf(stderr, __VA_ARGS__)
#define skip() gjb_cm_skip()
#define fail() gjb_cm_fail(__FILE__, __LINE__, "fail()")
#define fail_msg(...) gjb_cm_fail(__FILE__, __LINE__, __VA_ARGS__)

#define assert_true(c)                                                                            \
    do {                                                                                          \
        if (!(c))                                                                                 \
            gjb_cm_fail(__FILE__, __LINE__, "%s", #c);                                            \
    } while (0)
#define assert_false(c)                                                                           \
    do {                                                                                          \
        if (c)                                                                                    \
            gjb_cm_fail(__FILE__, __LINE__, "!(%s)", #c);                                         \
    } while (0)
#define assert_int_equal(a, b)                                                                    \
    do {                                                                                          \
        unsigned long long gjb_a_ = (unsigned long long)(a), gjb_b_ = (unsigned long long)(b);   \
        if (gjb_a_ != gjb_b_) /* newlib's printf has no %j */                                     \
            gjb_cm_fail(__FILE__, __LINE__, "%#llx != %#llx (%s, %s)", gjb_a_, gjb_b_, #a, #b);   \
    } while (0)
#define assert_int_not_equal(a, b)                                                                \
    do {                                                                                          \
        if ((uintmax_t)(a) == (uintmax_t)(b))                                                     \
            gjb_cm_fail(__FILE__, __LINE__, "%s == %s", #a, #b);                                  \
    } while (0)
#define assert_ptr_equal(a, b)                                                                    \
    do {                                                                                          \
        const void *gjb_a_ = (const void *)(a), *gjb_b_ = (const void *)(b);                      \
        if (gjb_a_ != gjb_b_)                                                                     \
            gjb_cm_fail(__FILE__, __LINE__, "%p != %p (%s, %s)", gjb_a_, gjb_b_, #a, #b);         \
    } while (0)
#define assert_ptr_not_equal(a, b)                                                                \
    do {                                                                                          \
        if ((const void *)(a) == (const void *)(b))                                               \
            gjb_cm_fail(__FILE__, __LINE__, "%s == %s", #a, #b);                                  \
    } while (0)
#define assert_null(p) assert_ptr_equal(p, NULL)
#define assert_non_null(p) assert_ptr_not_equal(p, NULL)
#define assert_string_equal(a, b)                                                                 \
    do {                                                                                          \
        const char *gjb_a_ = (a), *gjb_b_ = (b);                                                  \
        if (strcmp(gjb_a_, gjb_b_) != 0)                                                          \
            gjb_cm_fail(__FILE__, __LINE__, "\"%s\" != \"%s\"", gjb_a_, gjb_b_);                  \
    } while (0)
#define assert_memory_equal(a, b, n)                                                              \
    do {                                                                                          \
        if (memcmp((a), (b), (n)) != 0)                                                           \
            gjb_cm_fail(__FILE__, __LINE__, "memory differs (%s, %s)", #a, #b);                   \
    } while (0)
#define assert_in_range(v, lo, hi)                                                                \
    do {                                                                                          \
        uintmax_t gjb_v_ = (uintmax_t)(v);                                                        \
        if (gjb_v_ < (uintmax_t)(lo) || gjb_v_ > (uintmax_t)(hi))                                 \
            gjb_cm_fail(__FILE__, __LINE__, "%s out of range", #v);                               \
    } while (0)

#endif
