/*
 * ownership.c - which memory belongs to whom: the one place that decides
 * whether memory may be handed to a partition (mpart_create, mpart_addmem)
 * or to the system heap (gjbmem_sysheap_add_memory). Each heap's region
 * table is the truth about its own memory (there is no second copy to keep
 * in step); this file asks each side (gjb_mpart_owns, gjb_sysheap_overlap:
 * neither calls anything else) and applies the rules:
 *
 *   a partition may take memory that no partition holds and, of the system
 *   heap's, only bytes inside the usable bytes of one allocated block or
 *   one direct mapping (the manual's samples malloc a partition's memory);
 *   the system heap may take memory that no partition holds and that is
 *   nothing of its own (regions, blocks, direct mappings).
 *
 * Lock order, the library's only one: the global lock (the caller holds it
 * from the check until the memory is handed over, so no other claim slips
 * in between; gjb_mpart_owns reads the partitions' region tables under it),
 * then a partition's lock, then the system heap's (mpart_addmem holds its
 * partition's while it asks gjb_sysheap_overlap). Nothing takes a
 * partition's lock while it holds the system heap's.
 */
#include "api_internal.h"

bool gjb_memory_free_for_partition(const void *mem, size_t size)
{
    return !gjb_mpart_owns(mem, size) && gjb_sysheap_overlap(mem, size) != GJB_SYS_OTHER;
}

bool gjb_memory_free_for_sysheap(const void *mem, size_t size)
{
    return !gjb_mpart_owns(mem, size) && gjb_sysheap_overlap(mem, size) == GJB_SYS_NONE;
}
