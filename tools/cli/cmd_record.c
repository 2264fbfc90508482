/*
 * cmd_record.c - `gjbmem record -o FILE -- PROGRAM [ARGS]`: runs the program
 * with the recording library preloaded (tools/record/record.c), waits for
 * it, finishes every trace file it and its children wrote, and exits as the
 * program did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../trace/records.h"
#include "cli.h"

static const char help[] =
    "GJBMEM-RECORD(1)\n"
    "\n"
    "NAME\n"
    "    gjbmem record - write every malloc-family call of a program to a trace\n"
    "\n"
    "SYNOPSIS\n"
    "    gjbmem record -o FILE [--json] [--] PROGRAM [ARGS...]\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs PROGRAM (searched in PATH) with libgjbmem-record.so preloaded. Every\n"
    "    call of malloc, calloc, realloc, reallocarray, memalign, posix_memalign,\n"
    "    aligned_alloc, valloc, pvalloc, free and malloc_usable_size goes to glibc\n"
    "    as usual and is written to FILE: the call, the size and alignment asked\n"
    "    for, the block (as a small id, not its address) and the thread. The\n"
    "    program's input, output and exit status are those of a plain run (a\n"
    "    program killed by a signal makes gjbmem die of the same signal).\n"
    "\n"
    "    A child made by fork writes FILE.<pid>, starting with the blocks it\n"
    "    inherited; a program started by exec in a recorded process writes\n"
    "    FILE.<pid> too (FILE.<pid>.2, ... when taken). Records reach the file as\n"
    "    they are made, so a process that ends through _exit, exec or a signal\n"
    "    loses none. When the program has ended, gjbmem finishes every file of\n"
    "    this recording (waiting up to 10 s for processes still writing).\n"
    "\n"
    "    Statically linked and set-user-ID programs cannot be recorded (the\n"
    "    dynamic loader does not preload into them): no trace is written.\n"
    "\n"
    "OPTIONS\n"
    "    -o, --output FILE   the trace of the program (replaced if it exists)\n"
    "    --json              after the program ends, print on stderr a JSON object:\n"
    "                        the files written with their events, the program's\n"
    "                        exit status and peak resident set (bytes)\n"
    "    -h, --help          this text\n"
    "\n"
    "ENVIRONMENT\n"
    "    GJBMEM_RECORD_LIB   the recording library to preload (default: beside\n"
    "                        gjbmem, or in the installed library directory)\n"
    "\n"
    "EXIT STATUS\n"
    "    The program's; 127 when it cannot be found, 126 when it cannot be run;\n"
    "    2 on errors of gjbmem itself (bad arguments, no recording library).\n"
    "\n"
    "EXAMPLE\n"
    "    gjbmem record -o py.gjbt -- python3 -c 'print(sum(range(10)))'\n"
    "    gjbmem replay py.gjbt\n";

static const char *CMD = "record";

/* The recording library: $GJBMEM_RECORD_LIB, else beside this executable
 * (the build tree), else the installed library directory. */
static void find_library(char *out, size_t len)
{
    const char *env = getenv("GJBMEM_RECORD_LIB");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        if (access(out, R_OK) != 0)
            cli_die(CMD, "GJBMEM_RECORD_LIB=%s: %s", env, strerror(errno));
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        cli_die(CMD, "cannot find my own executable: %s", strerror(errno));
    exe[n] = 0;
    char *dir = dirname(exe);
    const char *tries[] = {"", "/" GJBMEM_BIN_TO_LIB};
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        snprintf(out, len, "%s%s/libgjbmem-record.so", dir, tries[i]);
        if (access(out, R_OK) == 0)
            return;
    }
    cli_die(CMD, "libgjbmem-record.so is neither beside %s nor in %s/%s", dir, dir,
            GJBMEM_BIN_TO_LIB);
}

/* LD_PRELOAD with lib first. */
static void set_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    char *v;
    if (old && *old) {
        if (asprintf(&v, "%s:%s", lib, old) < 0)
            cli_die(CMD, "out of memory");
    } else {
        v = strdup(lib);
    }
    if (!v || setenv("LD_PRELOAD", v, 1) != 0)
        cli_die(CMD, "cannot set LD_PRELOAD");
    free(v);
}

static pid_t child;

static void forward(int sig)
{
    if (child > 0)
        kill(child, sig);
}

/* Runs argv with the library preloaded; returns its wait status. */
static int run(char **argv, const char *lib, const char *file, unsigned long long session,
               struct rusage *ru)
{
    char s[32];
    snprintf(s, sizeof s, "%llu", session);
    fflush(NULL);
    child = fork();
    if (child < 0)
        cli_die(CMD, "fork: %s", strerror(errno));
    if (child == 0) {
        set_preload(lib);
        setenv("GJBMEM_RECORD_FILE", file, 1);
        setenv("GJBMEM_RECORD_SESSION", s, 1);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "gjbmem record: %s: %s\n", argv[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    /* The terminal's interrupt reaches the program; gjbmem waits for it to
     * end and still finishes the traces. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTERM, forward);
    signal(SIGHUP, forward);
    int status;
    while (wait4(child, &status, 0, ru) < 0)
        if (errno != EINTR)
            cli_die(CMD, "wait: %s", strerror(errno));
    return status;
}

/* True when the trace file at path belongs to this recording. */
static bool ours(const char *path, unsigned long long session)
{
    struct gjbt_trace t;
    unsigned char head[GJBT_MAGIC_LEN + 1 + 7 * GJBT_VARINT_MAX + 256];
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return false;
    ssize_t n = read(f, head, sizeof head);
    close(f);
    char err[128];
    return n > 0 && gjbt_parse_header(head, (size_t)n, &t.hdr, err, sizeof err) >= 0 &&
           t.hdr.session == session;
}

/* Waits (up to 10 s in all) until no process holds path open for writing. */
static void wait_for_writers(const char *path, time_t deadline)
{
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return;
    while (flock(f, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && time(NULL) < deadline)
        usleep(50000);
    close(f);
}

struct written {
    char path[PATH_MAX];
    struct gjbt_finish_info info;
    char err[160];
    int rc;
};

/* Finishes FILE and every FILE.* of this session; returns how many. */
static size_t finish_all(const char *file, unsigned long long session, struct written *w,
                         size_t cap)
{
    char dbuf[PATH_MAX], bbuf[PATH_MAX];
    snprintf(dbuf, sizeof dbuf, "%s", file);
    snprintf(bbuf, sizeof bbuf, "%s", file);
    const char *dir = dirname(dbuf), *base = basename(bbuf);
    size_t blen = strlen(base), n = 0;
    time_t deadline = time(NULL) + 10;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < cap) {
        if (strncmp(de->d_name, base, blen) != 0 || (de->d_name[blen] && de->d_name[blen] != '.'))
            continue;
        snprintf(w[n].path, sizeof w[n].path, "%s/%s", dir, de->d_name);
        if (!ours(w[n].path, session))
            continue;
        wait_for_writers(w[n].path, deadline);
        w[n].rc = gjbt_finish(w[n].path, &w[n].info, w[n].err, sizeof w[n].err);
        n++;
    }
    closedir(d);
    return n;
}

static void report_json(const struct written *w, size_t n, int status, const struct rusage *ru)
{
    fprintf(stderr, "{\"files\": [");
    for (size_t i = 0; i < n; i++) {
        const struct gjbt_finish_info *in = &w[i].info;
        fprintf(stderr, "%s{\"path\": ", i ? ", " : "");
        cli_json_string(stderr, w[i].path);
        fprintf(stderr, ", \"ok\": %s, \"pid\": %llu, \"origin\": %u, \"command\": ",
                w[i].rc == 0 ? "true" : "false", (unsigned long long)in->hdr.pid, in->hdr.origin);
        cli_json_string(stderr, in->hdr.command);
        fprintf(stderr, ", \"events\": %llu, \"inherited\": %llu, \"bytes\": %llu}",
                (unsigned long long)in->events, (unsigned long long)in->inherited,
                (unsigned long long)in->bytes);
    }
    fprintf(stderr, "], \"exit_status\": %d, \"signal\": %d, \"peak_rss_bytes\": %lld}\n",
            WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0, (long long)ru->ru_maxrss * 1024);
}

/* A short summary, only on a terminal (so a script sees the program's
 * output alone). */
static void report_text(const struct written *w, size_t n)
{
    if (!isatty(2))
        return;
    if (n == 0)
        fprintf(stderr, "gjbmem record: no trace was written (a static or set-user-ID program?)\n");
    for (size_t i = 0; i < n; i++) {
        if (w[i].rc != 0)
            fprintf(stderr, "gjbmem record: %s: %s\n", w[i].path, w[i].err);
        else
            fprintf(stderr, "gjbmem record: %s: %llu events (%s)\n", w[i].path,
                    (unsigned long long)w[i].info.events, w[i].info.hdr.command);
    }
}

int cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'j': json = true; break;
        case 'h': cli_help(help);
        default: cli_die(CMD, "bad option (gjbmem record --help)");
        }
    }
    if (!out)
        cli_die(CMD, "-o FILE is needed (gjbmem record --help)");
    if (optind >= argc)
        cli_die(CMD, "no program to run (gjbmem record --help)");
    char lib[PATH_MAX], file[PATH_MAX], dbuf[PATH_MAX], bbuf[PATH_MAX];
    find_library(lib, sizeof lib);
    snprintf(dbuf, sizeof dbuf, "%s", out);
    snprintf(bbuf, sizeof bbuf, "%s", out);
    char *dir = realpath(dirname(dbuf), NULL);
    if (!dir)
        cli_die(CMD, "%s: %s", out, strerror(errno));
    snprintf(file, sizeof file, "%s/%s", dir, basename(bbuf));
    free(dir);
    struct stat st; /* replace a trace, never a device, directory or link */
    if (lstat(file, &st) == 0 && !S_ISREG(st.st_mode))
        cli_die(CMD, "%s: exists and is not a regular file", file);
    if (unlink(file) != 0 && errno != ENOENT)
        cli_die(CMD, "%s: %s", file, strerror(errno));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long session =
        ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)ts.tv_sec ^
        ((unsigned long long)getpid() << 40);
    struct rusage ru;
    int status = run(argv + optind, lib, file, session, &ru);
    static struct written w[256];
    size_t n = finish_all(file, session, w, sizeof w / sizeof *w);
    if (json)
        report_json(w, n, status, &ru);
    else
        report_text(w, n);
    if (WIFSIGNALED(status)) { /* die as the program did */
        signal(WTERMSIG(status), SIG_DFL);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        raise(WTERMSIG(status));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}
