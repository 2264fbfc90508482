/*
 * errpolicy.c - carrying out an error policy (gjbmem/errpolicy.h): the log
 * line (formatted here: no stdio in src/core), the hook, the abort.
 */
#include "api_internal.h"
#include "gjbmem/port.h"

struct msg {
    char buf[200];
    unsigned n;
};

static void put(struct msg *m, const char *s)
{
    while (*s && m->n < sizeof m->buf - 1)
        m->buf[m->n++] = *s++;
}

static void hex(struct msg *m, uintptr_t v)
{
    static const char digits[] = "0123456789abcdef";
    char d[2 * sizeof v + 1];
    unsigned k = 0;
    do
        d[k++] = digits[v & 15];
    while ((v >>= 4) && k < sizeof d - 1);
    put(m, "0x");
    while (k) {
        char c[2] = {d[--k], 0};
        put(m, c);
    }
}

/* "gjbmem: mpart_free: partition 0x101: pointer 0x7f..: not an allocated block" */
static void log_line(const struct gjbmem_error *e)
{
    struct msg m = {.n = 0};
    put(&m, "gjbmem: ");
    put(&m, e->call);
    if (e->heap) {
        put(&m, ": partition ");
        hex(&m, e->heap);
    } else {
        put(&m, ": system heap");
    }
    if (e->addr) {
        put(&m, e->corrupt ? ": block " : ": pointer ");
        hex(&m, (uintptr_t)e->addr);
    }
    put(&m, e->corrupt ? ": damaged heap metadata or guard" : ": not an allocated block");
    put(&m, "\n");
    gjb_port_write(2, m.buf, m.n);
}

bool gjb_errpolicy_valid(unsigned flags, gjbmem_error_hook hook)
{
    return !(flags & ~GJBMEM_ERR_ALL) && (!(flags & GJBMEM_ERR_HOOK) || hook);
}

/* In interrupt context (only mpart_validate reports there) neither the log
 * nor the hook runs: they may block. */
void gjb_errpolicy_report(const struct gjb_errpolicy *pol, const struct gjbmem_error *e)
{
    bool isr = gjb_port_in_isr();
    if ((pol->flags & GJBMEM_ERR_LOG) && !isr)
        log_line(e);
    if ((pol->flags & GJBMEM_ERR_HOOK) && pol->hook && !isr)
        pol->hook(e, pol->arg);
    if (pol->flags & GJBMEM_ERR_ABORT)
        gjb_port_abort();
}
