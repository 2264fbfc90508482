/*
 * finish.c - finishing a trace a recording left behind (gjbt_finish): the
 * file is cut after its last whole record (a process that ended without
 * closing its trace leaves zero bytes, or an unfinished record that starts
 * with one) and the END record is appended.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records.h"
#include "trace.h"

/* Scans the records after the header; *cut: where the whole ones end. */
static void scan(const unsigned char *buf, size_t len, size_t start, struct gjbt_finish_info *in,
                 size_t *cut)
{
    const unsigned char *p = buf + start, *end = buf + len;
    for (;;) {
        const unsigned char *at = p;
        struct gjbt_raw r;
        if (gjbt_next_record(&p, end, &r) != GJBT_REC_OK) {
            *cut = (size_t)(at - buf);
            return;
        }
        if (r.op == GJBT_END) {
            in->was_finished = true;
            *cut = (size_t)(p - buf);
            return;
        }
        in->events += r.op <= GJBT_USABLE_SIZE;
        in->inherited += r.op == GJBT_INHERIT;
    }
}

int gjbt_finish(const char *path, struct gjbt_finish_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    int f = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (f < 0 || fstat(f, &st) != 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        if (f >= 0)
            close(f);
        return -1;
    }
    size_t len = (size_t)st.st_size, cut = 0;
    unsigned char *m = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, f, 0) : NULL;
    int rc = -1;
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map: %s", strerror(errno));
    } else if (len == 0) {
        snprintf(err, errlen, "the file is empty (the process wrote no header)");
    } else {
        long hl = gjbt_parse_header(m, len, &info->hdr, err, errlen);
        if (hl >= 0) {
            scan(m, len, (size_t)hl, info, &cut);
            rc = 0;
        }
    }
    if (rc == 0 && !info->was_finished) {
        unsigned char end[1 + 2 * GJBT_VARINT_MAX + 4];
        size_t n = 0;
        end[n++] = GJBT_END;
        n += gjbt_put_varint(end + n, info->events);
        n += gjbt_put_varint(end + n, info->inherited);
        uint32_t sum = gjbt_fnv(GJBT_FNV_INIT, m, cut);
        for (int i = 0; i < 4; i++)
            end[n++] = (unsigned char)(sum >> (8 * i));
        if (ftruncate(f, (off_t)cut) != 0 || pwrite(f, end, n, (off_t)cut) != (ssize_t)n) {
            snprintf(err, errlen, "cannot write: %s", strerror(errno));
            rc = -1;
        }
        cut += n;
    }
    info->bytes = cut;
    if (m && m != MAP_FAILED)
        munmap(m, len);
    close(f);
    return rc;
}
