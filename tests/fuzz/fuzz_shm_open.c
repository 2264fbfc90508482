/*
 * fuzz_shm_open.c - libFuzzer target for opening a partition in shared
 * memory that another process may have damaged or made hostile
 * (mpart_attach, docs/SHARED.md, "Untrusted memory").
 *
 * A template image is made once per policy: a partition over a MAP_SHARED
 * mapping, some blocks allocated, some freed, let go. Each input picks a
 * template and a way to spoil it: byte patches (2-byte offset, value) over
 * the whole image, or raw bytes over its start. The image is copied into a
 * MAP_SHARED mapping with an inaccessible page on each side and
 * mpart_attach is called. The lock's word is fuzzed too: a holder that is
 * alive (this process, init) makes the open give up (ETIMEDOUT, after the
 * 1 ms GJBMEM_SHM_OPEN_WAIT_MS set here), a holder that is gone makes it
 * take the lock over and run the recovery on the hostile heap. It must not
 * crash nor touch memory outside the mapping (the guard pages fault; ASan
 * and UBSan watch the rest); refused without a recovery, it must give one
 * of its documented errors and leave the heap's bytes as they were;
 * accepted, the partition must validate and serve an allocation and a
 * free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gjbext.h>
#include <gjbmem/mpart.h>

#include "../../src/core/mpart_shared.h" /* gjb_shp_layout: the lock's place */

#define IMAGE (64u * 1024u)

static unsigned char template_img[2][IMAGE];
static unsigned char *image; /* IMAGE bytes between two PROT_NONE pages */
static unsigned char before[IMAGE];
static size_t lock_off, lock_len, hdr_bytes;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_shm_open: %s (errno %d)\n", what, errno);
    abort();
}

static void make_template(int policy)
{
    mpart_id m;
    memset(image, 0, IMAGE);
    if (mpart_create_in(image, IMAGE, policy, &m) != 0)
        die("create_in");
    char *p[12];
    for (int i = 0; i < 12; i++)
        if (!(p[i] = mpart_alloc(m, (size_t)(24 + 100 * i))))
            die("alloc");
    for (int i = 0; i < 12; i += 3)
        mpart_free(m, p[i]);
    if (mpart_close_shared(m) != 0)
        die("close");
    memcpy(template_img[policy], image, IMAGE);
}

static void init(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *all = mmap(NULL, IMAGE + 2 * (size_t)page, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (all == MAP_FAILED)
        die("mmap");
    mprotect(all, (size_t)page, PROT_NONE);
    mprotect(all + page + IMAGE, (size_t)page, PROT_NONE);
    image = all + page;
    gjb_shp_layout(&lock_off, &lock_len, &hdr_bytes);
    setenv("GJBMEM_SHM_OPEN_WAIT_MS", "1", 1);
    make_template(FIRST_FIT_ALLOCATION);
    make_template(BUDDY_ALLOCATION);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!image)
        init();
    if (n < 1)
        return 0;
    int policy = data[0] & 1;
    memcpy(image, template_img[policy], IMAGE);
    if (data[0] & 2) { /* raw bytes over the start */
        size_t len = n - 1 < IMAGE ? n - 1 : IMAGE;
        memcpy(image, data + 1, len);
    } else { /* patches: offset (2 bytes, scaled to the image), value */
        for (size_t i = 1; i + 3 <= n; i += 3) {
            size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8) % IMAGE;
            image[off] = data[i + 2];
        }
    }
    uint32_t holder;
    memcpy(&holder, image + lock_off, sizeof holder);
    memcpy(before, image, IMAGE);
    mpart_id m;
    errno = 0;
    if (mpart_attach(image, &m) != 0) {
        if (errno != EINVAL && errno != ENOENT && errno != ENOTRECOVERABLE && errno != ENOSPC &&
            errno != ETIMEDOUT)
            die("attach: an undocumented error");
        if (!holder && memcmp(before + hdr_bytes, image + hdr_bytes, IMAGE - hdr_bytes) != 0)
            die("attach refused, but the heap's bytes changed");
        return 0;
    }
    if (mpart_validate(m) != 0)
        die("attached, but does not validate");
    char *p = mpart_alloc(m, 40);
    if (p && mpart_free(m, p) != 0)
        die("free of a new block");
    if (mpart_validate(m) != 0)
        die("does not validate after alloc and free");
    if (mpart_close_shared(m) != 0)
        die("close");
    return 0;
}
