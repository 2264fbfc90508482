/*
 * gjbmem/posix.h for the tests on emulated boards: the POSIX port's
 * emulated interrupt context, here the bare port's in_isr hook
 * (tests/bare/hooks.c), so that the API tests compile unchanged.
 */
#ifndef GJBMEM_POSIX_H
#define GJBMEM_POSIX_H
/* Marks (non-zero) or unmarks (0) the program as running in interrupt
 * context: the in_isr hook answers it. */
void gjbmem_posix_set_isr(int in_isr);
/* Marks the program as a user (non-system) thread: in_system_context. */
void gjbmem_posix_set_user(int user);
#endif
