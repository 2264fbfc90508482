/*
 * plugin.c - loading an allocator plugin (plugin.h, gjbmem_plugin.h).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"

/* The library's file name: what follows the last '/'. */
static void base_name(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    snprintf(out, len, "%s", slash && slash[1] ? slash + 1 : path);
}

/* The symbol's address in *slot (an object or function pointer: POSIX
 * lets dlsym's result be stored through a void * lvalue). */
static int find(struct rp_plugin *pl, const char *sym, void *slot, char *missing,
                size_t len)
{
    void *p = dlsym(pl->handle, sym);
    memcpy(slot, &p, sizeof p);
    if (p)
        return 0;
    size_t used = strlen(missing);
    snprintf(missing + used, len - used, "%s%s", used ? ", " : "", sym);
    return -1;
}

int rp_plugin_load(const char *path, struct rp_plugin *pl, char *err, size_t errlen)
{
    memset(pl, 0, sizeof *pl);
    pl->path = path;
    base_name(path, pl->name, sizeof pl->name);
    /* dlopen searches the library path for a name without a '/'. */
    char local[4096];
    snprintf(local, sizeof local, "%s%s", strchr(path, '/') ? "" : "./", path);
    pl->handle = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    if (!pl->handle) {
        snprintf(err, errlen, "cannot load the allocator: %s", dlerror());
        return -1;
    }
    char missing[256] = "";
    int bad = 0;
    bad |= find(pl, "gjbmem_plugin_init", &pl->init, missing, sizeof missing);
    bad |= find(pl, "gjbmem_plugin_alloc", &pl->alloc, missing, sizeof missing);
    bad |= find(pl, "gjbmem_plugin_realloc", &pl->realloc, missing, sizeof missing);
    bad |= find(pl, "gjbmem_plugin_free", &pl->free, missing, sizeof missing);
    bad |= find(pl, "gjbmem_plugin_usable", &pl->usable, missing, sizeof missing);
    bad |= find(pl, "gjbmem_plugin_fini", &pl->fini, missing, sizeof missing);
    if (bad) {
        snprintf(err, errlen, "not a gjbmem allocator plugin: it does not define %s "
                 "(see tools/cli/gjbmem_plugin.h)", missing);
        rp_plugin_unload(pl);
        return -1;
    }
    const size_t *header = dlsym(pl->handle, "gjbmem_plugin_header");
    pl->header = header ? *header : 0;
    return 0;
}

void rp_plugin_unload(struct rp_plugin *pl)
{
    if (pl->handle)
        dlclose(pl->handle);
    pl->handle = NULL;
}
