/*
 * malloc.c - the C library's malloc family routed to the gjbmem system heap
 * (libgjbmem-malloc.so).
 *
 * Use it with LD_PRELOAD=/path/to/libgjbmem-malloc.so, or link a program
 * against it (before the C library, which the linker always puts last). It
 * depends on libgjbmem.so, so a process that also links libgjbmem has one
 * system heap, which both the documented mem_* calls and malloc see.
 *
 * Exported: malloc, free, calloc, realloc, reallocarray, memalign,
 * posix_memalign, aligned_alloc, valloc, pvalloc, malloc_usable_size. They
 * behave as glibc's at the edges a program may rely on:
 *   - malloc(0), calloc(0, n), realloc(NULL, 0), memalign(a, 0) and the
 *     like return a unique pointer that free accepts;
 *   - realloc(p, 0) with p != NULL frees p and returns NULL;
 *   - every failure returns NULL with errno ENOMEM (also when n * size
 *     overflows in calloc and reallocarray); a successful call leaves errno
 *     alone, and so does free;
 *   - pointers are aligned to alignof(max_align_t) (16 on x86-64);
 *   - free(NULL) does nothing; malloc_usable_size(NULL) is 0;
 *   - posix_memalign returns EINVAL when the alignment is not a power of
 *     two multiple of sizeof(void *) (errno untouched), ENOMEM when memory
 *     is short (errno ENOMEM as well, as glibc sets it), and leaves
 *     *memptr alone on failure;
 *   - memalign rounds an alignment that is not a power of two up to the
 *     next one (as glibc does); aligned_alloc refuses it (NULL, EINVAL);
 *   - valloc is memalign(page size); pvalloc also rounds the size up to
 *     whole pages (pvalloc(0) gives one page).
 *
 * A pointer the system heap refuses (foreign, interior, already freed)
 * passed to free or realloc: by default it is ignored (free does nothing;
 * realloc returns NULL with errno EINVAL and leaves the memory alone), so a
 * stray free cannot corrupt the heap. With GJBMEM_ABORT_ON_BAD_FREE=1 in the
 * environment a one-line message goes to stderr and the process aborts, as
 * glibc does. malloc_usable_size of such a pointer is 0.
 *
 * GJBMEM_SHOW=1 in the environment prints the system heap's table
 * (gjbmem_mem_show_to(2), "heap show >>" ...) on stderr when the process
 * exits through exit() or a return from main (from this library's
 * destructor, so after the program's atexit handlers). When it is set at
 * start-up, a close-on-exec copy of descriptor 2 is kept so that the table
 * is printed even when the program closes stderr before it exits, as
 * coreutils programs do.
 *
 * GJBMEM_VALIDATE=1 in the environment checks the system heap
 * (gjbmem_sysheap_validate) at the same point; when it is damaged a one-line
 * message goes to stderr and the process aborts.
 *
 * Nothing on the allocation paths here calls a malloc-family function, and
 * neither does the system heap (it initialises itself on first use and
 * takes its memory from page mappings), so the first malloc of the process,
 * however early, is safe. (Only the GJBMEM_SHOW destructor may allocate,
 * through stdio, at exit, when the heap is fully working.)
 * The compiler is told not to treat these functions as builtins
 * (-fno-builtin) so that it cannot turn code here into calls to them.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gjbmem/sysheap.h>

#include "../core/textline.h" /* header-only: the formatter */

#define EXPORT __attribute__((visibility("default")))

/* The declarations of <stdlib.h>/<malloc.h> for the functions not every
 * libc declares with these feature macros. */
EXPORT void *memalign(size_t align, size_t size);
EXPORT void *pvalloc(size_t size);
EXPORT void *valloc(size_t size);
EXPORT size_t malloc_usable_size(void *p);
EXPORT void *reallocarray(void *p, size_t n, size_t size);

static size_t page_size(void)
{
    static size_t cached;
    size_t ps = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (ps == 0) {
        long v = sysconf(_SC_PAGESIZE); /* no allocation */
        ps = v > 0 ? (size_t)v : 4096;
        __atomic_store_n(&cached, ps, __ATOMIC_RELAXED);
    }
    return ps;
}

/* --- bad pointers ------------------------------------------------------ */

/* True when the environment sets name to exactly "1" (getenv does not
 * allocate). */
static int env_is_1(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] == '1' && v[1] == '\0';
}

static int abort_on_bad_free(void)
{
    return env_is_1("GJBMEM_ABORT_ON_BAD_FREE");
}

/* Writes "gjbmem: <what>: invalid pointer 0x...\n" to stderr without stdio
 * (which may allocate), formatted by the library's one formatter, and
 * aborts. */
static void bad_pointer_abort(const char *what, const void *p)
{
    struct gjb_line l = {.n = 0};
    gjb_line_put(&l, "gjbmem: ");
    gjb_line_put(&l, what);
    gjb_line_put(&l, ": invalid pointer ");
    gjb_line_hex(&l, (uintptr_t)p);
    gjb_line_put(&l, " (GJBMEM_ABORT_ON_BAD_FREE=1)\n");
    for (size_t off = 0; off < l.n;) {
        ssize_t w = write(2, l.buf + off, l.n - off);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (size_t)w;
    }
    abort();
}

/* --- allocation -------------------------------------------------------- */

/* Every allocating failure is ENOMEM to the caller, whatever the system
 * heap said (e.g. ERROR_KERNEL_IN_ISR when a test simulates interrupt
 * context): that is what malloc's callers know how to handle. */
static void *nomem(void)
{
    errno = ENOMEM;
    return NULL;
}

EXPORT void *malloc(size_t size)
{
    void *p = gjbmem_malloc_cached(size);
    return p != NULL ? p : nomem();
}

EXPORT void free(void *p)
{
    if (p == NULL)
        return;
    if (gjbmem_free_cached(p) == EINVAL && abort_on_bad_free()) /* errno untouched */
        bad_pointer_abort("free()", p);
}

/* calloc's requests up to this many bytes go through the thread caches
 * too (then zeroed): gjbmem_calloc's engine call under the arena's lock
 * costs more than zeroing a small block that came from fresh pages. */
#define CALLOC_CACHED 4096u

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (!__builtin_mul_overflow(n, size, &total) && total - 1 < CALLOC_CACHED) {
        void *p = gjbmem_malloc_cached(total);
        return p != NULL ? memset(p, 0, total) : nomem();
    }
    void *p = gjbmem_calloc(n, size); /* checks the overflow; 0 bytes: a unique block */
    return p != NULL ? p : nomem();
}

EXPORT void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    void *q = gjbmem_realloc(p, size);
    if (q != NULL)
        return q;
    if (errno == EINVAL) { /* p is not a block of the system heap */
        if (abort_on_bad_free())
            bad_pointer_abort("realloc()", p);
        return NULL; /* errno EINVAL; p left alone */
    }
    return nomem(); /* p intact */
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return nomem(); /* p intact */
    return realloc(p, total);
}

/* Aligned block; align is a power of two. */
static void *aligned(size_t align, size_t size)
{
    void *p;
    if (align <= _Alignof(max_align_t))
        p = gjbmem_malloc_cached(size);
    else
        p = gjbmem_memalign(align, size != 0 ? size : 1);
    return p != NULL ? p : nomem();
}

EXPORT void *memalign(size_t align, size_t size)
{
    /* glibc: an alignment that is not a power of two is rounded up to the
     * next one; one above the largest power of two is EINVAL. */
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (align & (align - 1)) {
        size_t a = 1;
        while (a < align)
            a <<= 1;
        align = a;
    }
    return aligned(align, size);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, size);
}

EXPORT int posix_memalign(void **memptr, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, size);
    if (p == NULL)
        return ENOMEM; /* errno ENOMEM too (aligned) */
    errno = saved;
    *memptr = p;
    return 0;
}

EXPORT void *valloc(size_t size)
{
    return aligned(page_size(), size);
}

EXPORT void *pvalloc(size_t size)
{
    size_t ps = page_size();
    if (size > SIZE_MAX - (ps - 1))
        return nomem();
    size = size == 0 ? ps : (size + ps - 1) & ~(ps - 1);
    return aligned(ps, size);
}

EXPORT size_t malloc_usable_size(void *p)
{
    return p != NULL ? gjbmem_usable_size(p) : 0;
}

/* --- GJBMEM_SHOW=1, GJBMEM_VALIDATE=1 ------------------------------------ */

/* A copy of file descriptor 2 taken at start-up when GJBMEM_SHOW=1 or
 * GJBMEM_VALIDATE=1: some programs close stderr before exit (coreutils'
 * close_stdout closes both standard streams in an atexit handler, which
 * runs before this library's destructor), and what the destructor prints
 * must still reach the original stderr. */
static int saved_fd = -1;

__attribute__((constructor)) static void gjbmem_malloc_start(void)
{
    if (env_is_1("GJBMEM_SHOW") || env_is_1("GJBMEM_VALIDATE"))
        saved_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
}

static int fd_open(int fd)
{
    return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

static void show(void)
{
    if (fd_open(fileno(stderr)) || saved_fd < 0) {
        gjbmem_mem_show_to(2);
        return;
    }
    /* stderr is closed: print through a stream on the saved descriptor,
     * put in stderr's place for the call (glibc's stderr is a plain
     * variable that programs may assign). */
    FILE *f = fdopen(saved_fd, "w");
    if (f == NULL)
        return;
    FILE *saved = stderr;
    stderr = f;
    gjbmem_mem_show_to(2);
    stderr = saved;
    fclose(f);
    saved_fd = -1;
}

__attribute__((destructor)) static void gjbmem_malloc_at_exit(void)
{
    if (env_is_1("GJBMEM_SHOW"))
        show();
    if (env_is_1("GJBMEM_VALIDATE") && gjbmem_sysheap_validate() != 0) {
        static const char msg[] =
            "gjbmem: the system heap is damaged at exit (gjbmem_sysheap_validate failed)\n";
        int fd = fd_open(2) ? 2 : saved_fd;
        if (fd >= 0 && write(fd, msg, sizeof msg - 1) < 0)
            fd = -1;
        abort();
    }
}
