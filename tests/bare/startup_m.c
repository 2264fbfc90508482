/*
 * startup_m.c - start-up of the test programs on an emulated Cortex-M
 * board (QEMU mps2-an385 with semihosting): the vector table, the reset
 * handler (copies .data, clears .bss, opens the semihosting streams of
 * newlib's librdimon, runs main, reports its status with exit), and a
 * fault handler that reports failure. Linked with tests/bare/mps2.ld.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int main(void);
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
extern char __data_load[], __data_start[], __data_end[], __bss_start__[], __bss_end__[];
extern char __stack_top[];

void gjb_bare_reset(void);
void gjb_bare_fault(void);

void gjb_bare_reset(void)
{
    memcpy(__data_start, __data_load, (size_t)(__data_end - __data_start));
    memset(__bss_start__, 0, (size_t)(__bss_end__ - __bss_start__));
    initialise_monitor_handles();
    __libc_init_array();
    exit(main());
}

void gjb_bare_fault(void)
{
    static const char msg[] = "FAIL: processor fault\n";
    fwrite(msg, 1, sizeof msg - 1, stderr);
    exit(99);
}

/* Initial stack, reset, NMI, hard fault, memory, bus and usage faults. */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top, gjb_bare_reset, gjb_bare_fault, gjb_bare_fault,
    gjb_bare_fault, gjb_bare_fault, gjb_bare_fault,
};

/* newlib's _exit in librdimon reports the status through semihosting. */
void _init(void);
void _fini(void);
void _init(void)
{
}
void _fini(void)
{
}

/* Debian's newlib has aligned_alloc call posix_memalign without providing
 * it: one over newlib's memalign (the model tests use aligned_alloc). */
#include <errno.h>
#include <malloc.h>
int posix_memalign(void **out, size_t align, size_t size);
int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = memalign(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
