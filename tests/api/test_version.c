/*
 * test_version.c - the version the headers state (gjbmem/version.h, from
 * the project's VERSION) is the one the library reports, and its parts
 * agree with each other.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <gjbmem/version.h>

static void library_reports_the_headers_version(void **state)
{
    (void)state;
    assert_non_null(gjbmem_version());
    assert_string_equal(gjbmem_version(), GJBMEM_VERSION);
}

static void parts_make_the_string_and_the_number(void **state)
{
    (void)state;
    char s[64];
    snprintf(s, sizeof s, "%d.%d.%d", GJBMEM_VERSION_MAJOR, GJBMEM_VERSION_MINOR,
             GJBMEM_VERSION_PATCH);
    assert_string_equal(s, GJBMEM_VERSION);
    assert_true(GJBMEM_VERSION_MINOR >= 0 && GJBMEM_VERSION_MINOR < 100);
    assert_true(GJBMEM_VERSION_PATCH >= 0 && GJBMEM_VERSION_PATCH < 100);
    assert_int_equal(GJBMEM_VERSION_NUMBER, GJBMEM_VERSION_MAJOR * 10000 +
                                                GJBMEM_VERSION_MINOR * 100 + GJBMEM_VERSION_PATCH);
#if GJBMEM_VERSION_NUMBER < 100 /* usable in #if; 0.1.0 was the first release */
    fail_msg("GJBMEM_VERSION_NUMBER %d below 0.1.0", GJBMEM_VERSION_NUMBER);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(library_reports_the_headers_version),
        cmocka_unit_test(parts_make_the_string_and_the_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
