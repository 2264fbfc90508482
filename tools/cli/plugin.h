/*
 * plugin.h - loading an allocator plugin (gjbmem_plugin.h) for replay and
 * size: the library opened with dlopen, its functions found with dlsym.
 */
#ifndef GJBMEM_TOOL_PLUGIN_H
#define GJBMEM_TOOL_PLUGIN_H

#include <stddef.h>

/* Allocator plugins one command takes (--allocator, repeated). */
#define RP_PLUGINS_MAX 8

struct rp_plugin {
    char name[64];     /* the library's file name, as the output names it */
    const char *path;  /* as given */
    void *handle;
    int (*init)(void *pool, size_t size);
    void *(*alloc)(size_t size, size_t align);
    void *(*realloc)(void *p, size_t size);
    void (*free)(void *p);
    size_t (*usable)(void *p);
    void (*fini)(void);
    size_t header;     /* gjbmem_plugin_header, or 0 */
};

/* Opens the library at path and finds its functions. Returns 0, or -1
 * with a message in err (it cannot be opened, or a required symbol is
 * missing: the library is closed again). */
int rp_plugin_load(const char *path, struct rp_plugin *pl, char *err, size_t errlen);

void rp_plugin_unload(struct rp_plugin *pl);

#endif
