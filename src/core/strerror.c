/*
 * strerror.c - text for the SylixOS error codes and the errno values the
 * library reports.
 */
#include <errno.h>

#include "gjbext.h"

const char *gjbmem_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case ERROR_KERNEL_HANDLE_NULL: return "invalid handle";
    case ERROR_KERNEL_IN_ISR: return "called from interrupt context";
    case ERROR_KERNEL_MEMORY: return "memory address error";
    case ERROR_REGION_NULL: return "bad memory control block";
    case ERROR_REGION_SIZE: return "region size error";
    case ERROR_REGION_ALIGN: return "region alignment error";
    case ERROR_VMM_VIRTUAL_PAGE: return "virtual page error";
    case EINVAL: return "invalid argument";
    case ENOMEM: return "out of memory";
    case ENOSPC: return "no space left (table full)";
    case EBUSY: return "resource busy";
    case EACCES: return "permission denied";
    case ENOTSUP: return "operation not supported";
    default: return "unknown error";
    }
}
