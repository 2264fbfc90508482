/*
 * fftree.c - the free blocks of a first-fit heap, as a red-black tree keyed
 * by address and augmented with the largest block size in each subtree.
 *
 * The lowest-addressed block of at least `need` bytes is found by one
 * descent (go left while the left subtree holds a large enough block), so
 * first fit costs O(log n) with no list walk. A node lives inside its free
 * block; its colour is the block header's GJB_RED bit.
 *
 * Two updates avoid restructuring altogether, because they keep the block's
 * place in address order: a block that shrinks or grows only refreshes the
 * subtree maxima above it (stopping as soon as one is unchanged), and a
 * block whose start moves without passing a neighbour (a split from the
 * front, a merge with the block before it) moves its node in O(1).
 */
#include "heap_internal.h"

static inline struct gjb_node *node_of(char *b)
{
    return (struct gjb_node *)(void *)(b + GJB_W);
}

static inline char *blk(const gjb_heap *h, intptr_t off)
{
    return off ? gjb_ptr(h, off) : NULL;
}

static inline bool is_red(const char *b)
{
    return b && (gjb_hdr(b) & GJB_RED);
}

static inline void paint(char *b, bool red)
{
    if (b)
        gjb_set_hdr(b, (gjb_hdr(b) & ~GJB_RED) | (red ? GJB_RED : 0));
}

static inline size_t sub_max(const gjb_heap *h, intptr_t off)
{
    return off ? gjb_node(h, off)->max : 0;
}

static size_t recompute(const gjb_heap *h, char *b)
{
    struct gjb_node *n = node_of(b);
    size_t m = gjb_size(b);
    size_t l = sub_max(h, n->link[0]);
    size_t r = sub_max(h, n->link[1]);
    if (l > m)
        m = l;
    return r > m ? r : m;
}

/* Refreshes the maxima from b up, stopping at the first unchanged one. */
static void fix_max_up(const gjb_heap *h, char *b)
{
    while (b) {
        struct gjb_node *n = node_of(b);
        size_t m = recompute(h, b);
        if (m == n->max)
            return;
        n->max = m;
        b = blk(h, n->parent);
    }
}

/* A block of size old left the subtrees from b up: refresh their maxima
 * while that block was their largest. */
static void shrink_walk(const gjb_heap *h, char *b, size_t old)
{
    while (b) {
        struct gjb_node *n = node_of(b);
        if (n->max != old)
            return;
        size_t m = recompute(h, b);
        if (m == old)
            return;
        n->max = m;
        b = blk(h, n->parent);
    }
}

/* Block b's size went from old to new: refresh the maxima above it. A
 * growth raises them until one is already large enough; a shrink matters
 * only while b was the largest block of the subtree. */
static void fix_max_resized(const gjb_heap *h, char *b, size_t old, size_t new)
{
    if (new > old) {
        for (struct gjb_node *n = node_of(b); n->max < new;) {
            n->max = new;
            if (!n->parent)
                return;
            n = gjb_node(h, n->parent);
        }
        return;
    }
    shrink_walk(h, b, old);
}

/* Puts the subtree `child` where `old` hangs under parent p. */
static void replace_child(gjb_heap *h, char *p, const char *old, intptr_t child)
{
    if (!p) {
        h->root = child;
        return;
    }
    struct gjb_node *pn = node_of(p);
    pn->link[pn->link[0] != gjb_off(h, old)] = child;
}

/* Rotates x down towards `dir` (0: left rotation); its other child rises. */
static void rotate(gjb_heap *h, char *x, int dir)
{
    struct gjb_node *xn = node_of(x);
    intptr_t xo = gjb_off(h, x), yo = xn->link[!dir];
    char *y = gjb_ptr(h, yo);
    struct gjb_node *yn = node_of(y);

    xn->link[!dir] = yn->link[dir];
    if (yn->link[dir])
        gjb_node(h, yn->link[dir])->parent = xo;
    yn->parent = xn->parent;
    replace_child(h, blk(h, xn->parent), x, yo);
    yn->link[dir] = xo;
    xn->parent = yo;
    yn->max = xn->max;
    xn->max = recompute(h, x);
}

static void insert_fixup(gjb_heap *h, char *z)
{
    char *p;
    while ((p = blk(h, node_of(z)->parent)) && is_red(p)) {
        char *g = gjb_ptr(h, node_of(p)->parent); /* a red node is never the root */
        int dir = node_of(g)->link[1] == gjb_off(h, p);
        char *u = blk(h, node_of(g)->link[!dir]);
        if (is_red(u)) {
            paint(p, false);
            paint(u, false);
            paint(g, true);
            z = g;
            continue;
        }
        if (node_of(p)->link[!dir] == gjb_off(h, z)) {
            rotate(h, p, dir);
            z = p;
            p = gjb_ptr(h, node_of(z)->parent);
        }
        paint(p, false);
        paint(g, true);
        rotate(h, g, !dir);
    }
    paint(blk(h, h->root), false);
}

void gjb_tree_insert(gjb_heap *h, char *b)
{
    size_t s = gjb_size(b);
    intptr_t bo = gjb_off(h, b), po = 0, cur = h->root;
    int dir = 0;

    while (cur) {
        struct gjb_node *cn = gjb_node(h, cur);
        if (cn->max < s)
            cn->max = s;
        po = cur;
        dir = bo > cur;
        cur = cn->link[dir];
    }
    struct gjb_node *n = node_of(b);
    n->parent = po;
    n->link[0] = n->link[1] = 0;
    n->max = s;
    if (po)
        gjb_node(h, po)->link[dir] = bo;
    else
        h->root = bo;
    paint(b, true);
    insert_fixup(h, b);
}

static void remove_fixup(gjb_heap *h, char *x, char *xp)
{
    while (xp && !is_red(x)) {
        struct gjb_node *pn = node_of(xp);
        int dir = pn->link[0] != (x ? gjb_off(h, x) : 0);
        char *w = gjb_ptr(h, pn->link[!dir]); /* x's sibling exists */
        if (is_red(w)) {
            paint(w, false);
            paint(xp, true);
            rotate(h, xp, dir);
            w = gjb_ptr(h, pn->link[!dir]);
        }
        struct gjb_node *wn = node_of(w);
        if (!is_red(blk(h, wn->link[0])) && !is_red(blk(h, wn->link[1]))) {
            paint(w, true);
            x = xp;
            xp = blk(h, pn->parent);
            continue;
        }
        if (!is_red(blk(h, wn->link[!dir]))) {
            paint(blk(h, wn->link[dir]), false);
            paint(w, true);
            rotate(h, w, !dir);
            w = gjb_ptr(h, pn->link[!dir]);
            wn = node_of(w);
        }
        paint(w, is_red(xp));
        paint(xp, false);
        paint(blk(h, wn->link[!dir]), false);
        rotate(h, xp, dir);
        x = blk(h, h->root);
        break;
    }
    paint(x, false);
}

void gjb_tree_remove(gjb_heap *h, char *z)
{
    struct gjb_node *zn = node_of(z);
    char *y = z;
    if (zn->link[0] && zn->link[1]) { /* splice out z's successor instead */
        y = gjb_ptr(h, zn->link[1]);
        while (node_of(y)->link[0])
            y = gjb_ptr(h, node_of(y)->link[0]);
    }
    struct gjb_node *yn = node_of(y);
    intptr_t xo = yn->link[0] ? yn->link[0] : yn->link[1];
    char *xp = blk(h, yn->parent);
    bool black_removed = !is_red(y);

    if (xo)
        gjb_node(h, xo)->parent = yn->parent;
    replace_child(h, xp, y, xo);
    if (y != z) { /* y takes z's place and colour */
        intptr_t yo = gjb_off(h, y);
        if (xp == z) {
            xp = y;
            if (xo)
                gjb_node(h, xo)->parent = yo;
        }
        *yn = *zn;
        paint(y, is_red(z));
        replace_child(h, blk(h, zn->parent), z, yo);
        gjb_node(h, yn->link[0])->parent = yo;
        if (yn->link[1])
            gjb_node(h, yn->link[1])->parent = yo;
    }
    /* The subtrees from xp up to y's new place lost block y (or z, if y is
     * z), and the walk may pass y's place only if z's maximum equalled y's
     * size. y took z's maximum, which may be stale: recompute from y. */
    shrink_walk(h, xp, gjb_size(y));
    if (y != z)
        fix_max_up(h, y);
    if (black_removed)
        remove_fixup(h, blk(h, xo), xp);
}

void gjb_tree_move(gjb_heap *h, char *from, char *to, size_t new_size)
{
    struct gjb_node n = *node_of(from); /* the two nodes may overlap */
    size_t red = gjb_hdr(from) & GJB_RED, old = gjb_size(from);
    intptr_t to_off = gjb_off(h, to);

    replace_child(h, blk(h, n.parent), from, to_off);
    gjb_set_hdr(to, new_size | GJB_FREE | red);
    *node_of(to) = n;
    if (n.link[0])
        gjb_node(h, n.link[0])->parent = to_off;
    if (n.link[1])
        gjb_node(h, n.link[1])->parent = to_off;
    fix_max_resized(h, to, old, new_size);
}

void gjb_tree_resized(gjb_heap *h, char *b, size_t new_size)
{
    size_t hd = gjb_hdr(b);
    gjb_set_hdr(b, new_size | (hd & GJB_FLAGS));
    fix_max_resized(h, b, hd & ~GJB_FLAGS, new_size);
}

char *gjb_tree_first_fit(const gjb_heap *h, size_t need)
{
    intptr_t cur = h->root;
    if (!cur || gjb_node(h, cur)->max < need)
        return NULL;
    for (;;) {
        struct gjb_node *n = gjb_node(h, cur);
        if (n->link[0] && gjb_node(h, n->link[0])->max >= need)
            cur = n->link[0];
        else if (gjb_size(gjb_ptr(h, cur)) >= need)
            return gjb_ptr(h, cur);
        else if ((cur = n->link[1]) == 0)
            return NULL; /* only a damaged tree gets here: fail, never loop */
    }
}

size_t gjb_tree_max(const gjb_heap *h)
{
    return sub_max(h, h->root);
}

/* --- validation -------------------------------------------------------- */

struct tree_walk {
    const gjb_heap *h;
    size_t count, bytes;
    intptr_t last_end; /* end of the previous block in address order */
    bool started;
};

/* Checks the subtree at off; returns its black height or -1. */
static int check_subtree(struct tree_walk *w, intptr_t off, intptr_t parent, int depth)
{
    if (!off)
        return 1;
    if (depth > 2 * (int)(sizeof(size_t) * 8))
        return -1; /* deeper than any red-black tree can be: a cycle */
    const gjb_heap *h = w->h;
    char *b = gjb_ptr(h, off);
    const struct gjb_region *r = gjb_region_of(h, b);
    if (!r || !gjb_bit_test(h, r, b) || !gjb_is_free(b))
        return -1;
    struct gjb_node *n = node_of(b);
    if (n->parent != parent || n->max != recompute(h, b))
        return -1;
    if (is_red(b) && (is_red(blk(h, n->link[0])) || is_red(blk(h, n->link[1]))))
        return -1;
    int lh = check_subtree(w, n->link[0], off, depth + 1);
    if (lh < 0 || (w->started && off < w->last_end))
        return -1;
    w->started = true;
    w->last_end = off + (intptr_t)gjb_size(b);
    w->count++;
    w->bytes += gjb_size(b);
    int rh = check_subtree(w, n->link[1], off, depth + 1);
    if (rh != lh)
        return -1;
    return lh + !is_red(b);
}

int gjb_tree_validate(const gjb_heap *h, size_t *count, size_t *bytes)
{
    struct tree_walk w = {h, 0, 0, 0, false};
    if (is_red(blk(h, h->root)) || check_subtree(&w, h->root, 0, 0) < 0)
        return GJB_E_CORRUPT;
    *count = w.count;
    *bytes = w.bytes;
    return GJB_OK;
}
