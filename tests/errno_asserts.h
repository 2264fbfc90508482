/*
 * errno_asserts.h - cmocka assertions on a call's result and errno, shared
 * by the API tests. Include after <cmocka.h> and <errno.h>.
 *
 *   OK(call)              returns 0 and leaves errno alone (SPEC section 1)
 *   FAILS(call, err)      returns -1 with errno err
 *   FAILS_NULL(call, err) returns NULL with errno err
 */
#ifndef GJB_ERRNO_ASSERTS_H
#define GJB_ERRNO_ASSERTS_H

#define SENTINEL 7714 /* errno value that a successful call must leave alone */

#define OK(call)                                                                                  \
    do {                                                                                          \
        errno = SENTINEL;                                                                         \
        assert_int_equal((call), 0);                                                              \
        assert_int_equal(errno, SENTINEL);                                                        \
    } while (0)

#define FAILS(call, err)                                                                          \
    do {                                                                                          \
        errno = 0;                                                                                \
        assert_int_equal((call), -1);                                                             \
        assert_int_equal(errno, (err));                                                           \
    } while (0)

#define FAILS_NULL(call, err)                                                                     \
    do {                                                                                          \
        errno = 0;                                                                                \
        assert_null(call);                                                                        \
        assert_int_equal(errno, (err));                                                           \
    } while (0)

#endif
