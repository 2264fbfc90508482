/*
 * gjbmem/errpolicy.h - what a partition or the system heap does when it
 * meets a bad pointer on free/realloc or finds its metadata damaged, like
 * the options VxWorks offers for its memory partitions. Included by
 * gjbmem/mpart.h and gjbmem/sysheap.h.
 *
 * The call always fails with its documented errno (nothing is written
 * through a bad pointer or a damaged link); the policy adds, in this order:
 * a one-line log through the port's error stream, a call of the user's
 * hook, and stopping the program. The hook runs with no lock of the
 * library held, so it may call the library (mpart_validate, mem_show ...).
 */
#ifndef GJBMEM_ERRPOLICY_H
#define GJBMEM_ERRPOLICY_H

#ifdef __cplusplus
extern "C" {
#endif

/* Policy flags, or'ed together. */
#define GJBMEM_ERR_RETURN 0x0u /* only return the error (the default) */
#define GJBMEM_ERR_LOG 0x1u    /* write one line: "gjbmem: <call>: ..." */
#define GJBMEM_ERR_HOOK 0x2u   /* call the hook */
#define GJBMEM_ERR_ABORT 0x4u  /* then stop the program (the port's abort) */
#define GJBMEM_ERR_ALL 0x7u

/* One report. */
struct gjbmem_error {
    unsigned long heap; /* the partition's id (mpart_id); 0: the system heap */
    const char *call;   /* the call that met it, e.g. "mpart_free" */
    int error;          /* the errno value the call fails with */
    int corrupt;        /* 1: damaged metadata (or a broken guard); 0: a bad pointer */
    const void *addr;   /* the pointer concerned; NULL when none */
};

typedef void (*gjbmem_error_hook)(const struct gjbmem_error *e, void *arg);

#ifdef __cplusplus
}
#endif

#endif
