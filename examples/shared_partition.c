/*
 * shared_partition.c - a partition shared by processes (docs/SHARED.md).
 *
 * Part 1, the fpm_shm pattern (spec/fpm-shm.zh.md): an anonymous shared
 * mapping made before fork holds a partition; the child attaches it (its
 * own id), allocates a message and hands it to the parent as an offset
 * through a pipe; the parent reads and frees it.
 *
 * Part 2, a named object: the parent creates "/gjbmem-example-<pid>"; a
 * child opens it by name (its own mapping, at another address), allocates
 * a block, writes into it and passes the offset; the parent checks it,
 * frees it and deletes the partition once the child has let go.
 *
 * Prints "ok" when everything worked, "error ..." otherwise.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gjbext.h>
#include <mman.h> /* mmap, munmap: the mapping layer's */

#define SIZE (64 * 1024)

static int child_anonymous(void *mem, int out)
{
    mpart_id mid;
    if (mpart_attach(mem, &mid) != 0)
        return 1;
    char *msg = mpart_alloc(mid, 64);
    if (!msg)
        return 2;
    strcpy(msg, "hello from the child");
    long off = mpart_to_offset(mid, msg);
    return write(out, &off, sizeof off) == (ssize_t)sizeof off ? 0 : 3;
}

static int child_named(void *name, int out)
{
    mpart_id mid;
    if (mpart_open_shared(name, &mid) != 0)
        return 1;
    char *msg = mpart_alloc(mid, 64);
    if (!msg)
        return 2;
    strcpy(msg, "hello by name");
    long off = mpart_to_offset(mid, msg);
    if (write(out, &off, sizeof off) != (ssize_t)sizeof off)
        return 3;
    return mpart_close_shared(mid) == 0 ? 0 : 4;
}

/* Runs child in a new process; returns the offset it sent, or -1. */
static long run(int (*child)(void *, int), void *arg)
{
    int fds[2];
    long off = -1;
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        _exit(child(arg, fds[1]));
    int status = 0;
    if (read(fds[0], &off, sizeof off) != (ssize_t)sizeof off)
        off = -1;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? off : -1;
}

int main(void)
{
    /* Part 1: MAP_SHARED | MAP_ANONYMOUS before fork */
    void *mem = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_SHARED, -1, 0);
    mpart_id mid;
    if (mem == MAP_FAILED || mpart_create_in(mem, SIZE, FIRST_FIT_ALLOCATION, &mid) != 0) {
        perror("error: mpart_create_in");
        return 1;
    }
    long off = run(child_anonymous, mem);
    char *msg = off < 0 ? NULL : mpart_from_offset(mid, off);
    if (!msg || strcmp(msg, "hello from the child") != 0 || mpart_free(mid, msg) != 0 ||
        mpart_validate(mid) != 0 || mpart_delete(mid) != 0) {
        printf("error: anonymous shared partition\n");
        return 1;
    }
    munmap(mem, SIZE);

    /* Part 2: a named object, opened at another address */
    char name[64];
    snprintf(name, sizeof name, "/gjbmem-example-%ld", (long)getpid());
    if (mpart_create_shared(name, SIZE, FIRST_FIT_ALLOCATION, &mid) != 0) {
        perror("error: mpart_create_shared");
        return 1;
    }
    off = run(child_named, name);
    msg = off < 0 ? NULL : mpart_from_offset(mid, off);
    if (!msg || strcmp(msg, "hello by name") != 0 || mpart_free(mid, msg) != 0 ||
        mpart_delete(mid) != 0) {
        printf("error: named shared partition\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
