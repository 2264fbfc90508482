/*
 * errpolicy.c - carrying out an error policy (gjbmem/errpolicy.h): the log
 * line (formatted here: no stdio in src/core), the hook, the abort.
 */
#include "api_internal.h"
#include "gjbmem/port.h"
#include "textline.h"

/* "gjbmem: mpart_free: partition 0x101: pointer 0x7f..: not an allocated block" */
static void log_line(const struct gjbmem_error *e)
{
    struct gjb_line m = {.n = 0};
    gjb_line_put(&m, "gjbmem: ");
    gjb_line_put(&m, e->call);
    if (e->heap) {
        gjb_line_put(&m, ": partition ");
        gjb_line_hex(&m, e->heap);
    } else {
        gjb_line_put(&m, ": system heap");
    }
    if (e->addr) {
        gjb_line_put(&m, e->corrupt ? ": block " : ": pointer ");
        gjb_line_hex(&m, (uintptr_t)e->addr);
    }
    gjb_line_put(&m, e->corrupt ? ": damaged heap metadata or guard" : ": not an allocated block");
    gjb_line_emit(2, &m);
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
