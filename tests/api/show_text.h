/*
 * show_text.h - the exact text mem_show must print for the present state,
 * made independently of the library with printf and the row format of the
 * SylixOS `free` command (RegionShow.c): for the tests that compare
 * mem_show's output with it (test_sysheap, test_sysheap_env).
 *
 * Needs <gjbext.h>, <gjbmem/sysheap.h>, <gjbmem/vmm.h>, <stdio.h>,
 * <stdlib.h>, <sys/types.h> and cmocka included first.
 */
#ifndef GJB_TEST_SHOW_TEXT_H
#define GJB_TEST_SHOW_TEXT_H

#define SHOW_HEAD                                                                                 \
    "heap show >>\n"                                                                              \
    "\n"                                                                                          \
    "     HEAP         TOTAL      USED     MAX USED  SEGMENT USED%\n"                            \
    "-------------- ---------- ---------- ---------- ------- -----\n"

struct show_text {
    char buf[8192];
    size_t n;
};

static void show_add(struct show_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void show_add(struct show_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    assert_true(k >= 0 && (size_t)k < sizeof t->buf - t->n);
    t->n += (size_t)k;
}

/* One heap's row, as RegionShow prints it. */
static void show_row(struct show_text *t, const char *name, size_t total, size_t used,
                     size_t maxused, unsigned long segment)
{
    assert_true(total >= 100);
    show_add(t, "%-14s %8zuKB %8zuKB %8zuKB %7ld %3zd%%\n", name, total / 1024, used / 1024,
             maxused / 1024, (long)segment, (ssize_t)(used / (total / 100)));
}

static int show_by_slot(const void *a, const void *b)
{
    unsigned long x = *(const mpart_id *)a & 0xff, y = *(const mpart_id *)b & 0xff;
    return (x > y) - (x < y);
}

/* The whole text for the system heap and the n live partitions ids (in any
 * order; mem_show lists them by slot). */
static const char *show_expected(struct show_text *t, const mpart_id *ids, int n)
{
    struct meminfo mi;
    assert_int_equal(mem_getinfo(&mi), 0);
    t->n = 0;
    show_add(t, "%s", SHOW_HEAD);
    show_row(t, "system", mi.used + mi.free, mi.used, mi.maxused, mi.segment);
    mpart_id sorted[64];
    assert_true(n >= 0 && n <= 64);
    memcpy(sorted, ids, (size_t)n * sizeof *ids);
    qsort(sorted, (size_t)n, sizeof *sorted, show_by_slot);
    for (int i = 0; i < n; i++) {
        struct partinfo pi;
        char name[32];
        assert_int_equal(mpart_getinfo(sorted[i], &pi), 0);
        snprintf(name, sizeof name, "mpart %#lx", sorted[i]);
        show_row(t, name, pi.used + pi.free, pi.used, pi.maxused, pi.segment);
    }
    struct gjbmem_sysheap_stats st;
    struct gjbmem_vmm_stats vs;
    assert_int_equal(gjbmem_sysheap_stats(&st), 0);
    assert_int_equal(gjbmem_vmm_stats(&vs), 0);
    show_add(t,
             "\nsystem heap: %zu direct mappings of %zu bytes; %zu bytes from the host, limit "
             "%zu; policy %s\n",
             st.direct_blocks, st.direct_bytes, st.port_bytes, st.limit,
             st.policy == BUDDY_ALLOCATION ? "BUDDY" : "FIRST_FIT");
    show_add(t,
             "mappings: %zu live, %zu bytes mapped, %zu bytes locked, %zu shared-memory objects "
             "opened, %zu bytes shared anonymous\n",
             vs.mappings, vs.bytes_mapped, vs.bytes_locked, vs.shm_opened, vs.shared_anon_bytes);
    return t->buf;
}

#endif
