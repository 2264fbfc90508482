/*
 * shm_maker.c - makes what `gjbmem show --shm` looks at (tests/tool/shm.sh):
 * `shm_maker NAME` creates the named shared partition NAME, allocates ten
 * blocks of 1000 bytes, frees two, and lets go without deleting it (the
 * partition lives on in the object). `shm_maker -d NAME` deletes it
 * (opened, its blocks freed). Exit status 0, 77 where shared partitions
 * are not built (hardening levels 2-3: ENOTSUP), or 1 with a message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gjbext.h>

int main(int argc, char **argv)
{
    mpart_id m;
    if (argc == 3 && strcmp(argv[1], "-d") == 0) {
        if (mpart_open_shared(argv[2], &m) != 0)
            return perror("shm_maker: open"), 1;
        size_t n = 0;
        static struct mpart_block b[64];
        if (mpart_blocks(m, b, 64, &n) != 0 || n > 64)
            return perror("shm_maker: blocks"), 1;
        for (size_t i = 0; i < n; i++)
            if (b[i].used && mpart_free(m, (char *)b[i].start + b[i].header) != 0)
                return perror("shm_maker: free"), 1;
        return mpart_delete(m) == 0 ? 0 : (perror("shm_maker: delete"), 1);
    }
    if (argc != 2 || mpart_create_shared(argv[1], 256 * 1024, FIRST_FIT_ALLOCATION, &m) != 0)
        return errno == ENOTSUP ? 77 : (perror("shm_maker: create"), 1);
    char *p[10];
    for (int i = 0; i < 10; i++)
        if (!(p[i] = mpart_alloc(m, 1000)))
            return perror("shm_maker: alloc"), 1;
    mpart_free(m, p[3]);
    mpart_free(m, p[7]);
    return mpart_close_shared(m) == 0 ? 0 : (perror("shm_maker: close"), 1);
}
