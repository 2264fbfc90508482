/*
 * test_bigblock.c - the system heap's table of direct mappings
 * (src/core/bigblock.c) called directly: an open-addressing hash table with
 * linear probing and deletion by backward shift.
 *
 * Addresses are only recorded, never dereferenced, so any page-aligned value
 * will do. Where an entry's home slot matters (runs that wrap around the
 * end of the table, entries that must stay or move when one before them is
 * deleted), the home is found by recording the address alone in a probe
 * table of the same capacity and seeing where it lands; the tests then place
 * entries and predict every slot. gjb_big_valid's checks are tried one at a
 * time on tables damaged by hand; growth is tried with the port's page
 * supply failing (fault injection).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <gjbmem/fault.h>
#include <gjbmem/port.h>

#include "core/api_internal.h"

#define CAP 256 /* the table's first capacity */
#define SLOT_BYTES sizeof(struct gjb_big)

static unsigned long g_page;

/* --- homes, found with a probe table ------------------------------------ */

static struct gjb_bigtab probe; /* always empty between calls, CAP slots */

static size_t slot_of(const struct gjb_bigtab *t, uintptr_t a)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].addr == a)
            return i;
    return SIZE_MAX;
}

/* The home slot of a in a table of CAP slots. */
static size_t home(uintptr_t a)
{
    long tb = 0;
    assert_int_equal(gjb_big_put(&probe, (void *)a, g_page, &tb), 0);
    assert_int_equal(probe.cap, CAP);
    size_t i = slot_of(&probe, a);
    assert_true(i < CAP);
    gjb_big_del(&probe, (void *)a);
    assert_int_equal(probe.count, 0);
    assert_int_equal(slot_of(&probe, a), SIZE_MAX);
    return i;
}

/* The address of page k (k >= 1). */
static uintptr_t page_addr(size_t k)
{
    return (uintptr_t)k * g_page;
}

/* The n-th (0-based) address at or after page *from whose home is h;
 * *from moves past it, so that successive calls give distinct addresses. */
static uintptr_t with_home(size_t h, size_t *from)
{
    for (size_t k = *from; k < *from + 1000000; k++)
        if (home(page_addr(k)) == h) {
            *from = k + 1;
            return page_addr(k);
        }
    fail_msg("no address with home %zu", h);
    return 0;
}

/* --- tables ------------------------------------------------------------- */

static void drop(struct gjb_bigtab *t)
{
    if (t->slot)
        gjb_port_pages_put(t->slot, t->cap * SLOT_BYTES);
    memset(t, 0, sizeof *t);
}

static void put(struct gjb_bigtab *t, uintptr_t a, size_t len)
{
    long tb = 0;
    size_t count = t->count, bytes = t->bytes;
    assert_int_equal(gjb_big_put(t, (void *)a, len, &tb), 0);
    assert_int_equal(t->count, count + 1);
    assert_int_equal(t->bytes, bytes + len);
    assert_int_equal(gjb_big_get(t, (void *)a), len);
}

/* Every entry of t is found with its length, and t is valid. */
static void all_found(const struct gjb_bigtab *t, const uintptr_t *a, const size_t *len, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(gjb_big_get(t, (void *)a[i]), len[i]);
    assert_int_equal(t->count, n);
    assert_true(gjb_big_valid(t, g_page));
}

static int setup(void **state)
{
    (void)state;
    g_page = gjb_port_page_size();
    return g_page ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gjbmem_fault_reset();
    return 0;
}

/* --- deletion by backward shift ------------------------------------------ */

/* A run that wraps from the last slot to the first: deleting its head pulls
 * the wrapped entries back, each to the first free slot at or after its
 * home. */
static void delete_pulls_a_wrapped_run_back(void **state)
{
    (void)state;
    size_t from = 1;
    uintptr_t a1 = with_home(CAP - 1, &from), a2 = with_home(CAP - 1, &from);
    uintptr_t b1 = with_home(0, &from);
    struct gjb_bigtab t = {0};
    put(&t, a1, g_page);
    put(&t, a2, 2 * g_page); /* wraps: slot 0 */
    put(&t, b1, 3 * g_page); /* its home is taken: slot 1 */
    assert_int_equal(slot_of(&t, a1), CAP - 1);
    assert_int_equal(slot_of(&t, a2), 0);
    assert_int_equal(slot_of(&t, b1), 1);
    assert_true(gjb_big_valid(&t, g_page));

    gjb_big_del(&t, (void *)a1);
    /* a2 (home CAP-1, at 0 across the wrap) moves to CAP-1; b1 (home 0,
     * at 1) moves to 0; slot 1 is free. */
    assert_int_equal(slot_of(&t, a2), CAP - 1);
    assert_int_equal(slot_of(&t, b1), 0);
    assert_int_equal(t.slot[1].addr, 0);
    assert_int_equal(gjb_big_get(&t, (void *)a1), 0);
    assert_int_equal(t.bytes, 5 * g_page);
    all_found(&t, (uintptr_t[]){a2, b1}, (size_t[]){2 * g_page, 3 * g_page}, 2);
    drop(&t);
}

/* Entries after the deleted one that sit in or after their home (seen
 * cyclically) stay where they are, across the wrap too. */
static void delete_keeps_entries_at_home(void **state)
{
    (void)state;
    size_t from = 1;
    uintptr_t c1 = with_home(CAP - 2, &from), a1 = with_home(CAP - 1, &from);
    uintptr_t a2 = with_home(CAP - 1, &from), b1 = with_home(0, &from);
    struct gjb_bigtab t = {0};
    put(&t, c1, g_page);
    put(&t, a1, g_page);
    put(&t, a2, g_page); /* slot 0 */
    put(&t, b1, g_page); /* slot 1 */
    assert_int_equal(slot_of(&t, a2), 0);
    assert_int_equal(slot_of(&t, b1), 1);

    gjb_big_del(&t, (void *)c1); /* the gap at CAP-2 */
    assert_int_equal(t.slot[CAP - 2].addr, 0);
    assert_int_equal(slot_of(&t, a1), CAP - 1); /* at its home, after the gap */
    assert_int_equal(slot_of(&t, a2), 0);       /* home CAP-1: after the gap, across the wrap */
    assert_int_equal(slot_of(&t, b1), 1);       /* home 0: after the wrap */
    all_found(&t, (uintptr_t[]){a1, a2, b1}, (size_t[]){g_page, g_page, g_page}, 3);
    drop(&t);
}

/* An entry that wrapped (its home is the last slot) two places past the
 * first slot moves back when the entry before it goes. */
static void delete_pulls_an_entry_whose_home_is_behind_the_wrap(void **state)
{
    (void)state;
    size_t from = 1;
    uintptr_t a[3];
    for (int i = 0; i < 3; i++)
        a[i] = with_home(CAP - 1, &from);
    struct gjb_bigtab t = {0};
    for (int i = 0; i < 3; i++)
        put(&t, a[i], (size_t)(i + 1) * g_page);
    assert_int_equal(slot_of(&t, a[0]), CAP - 1);
    assert_int_equal(slot_of(&t, a[1]), 0);
    assert_int_equal(slot_of(&t, a[2]), 1);

    gjb_big_del(&t, (void *)a[1]); /* the gap at 0; a[2] at 1 has its home before it */
    assert_int_equal(slot_of(&t, a[2]), 0);
    assert_int_equal(t.slot[1].addr, 0);
    all_found(&t, (uintptr_t[]){a[0], a[2]}, (size_t[]){g_page, 3 * g_page}, 2);
    drop(&t);
}

/* Many entries (a table near its growth point, long runs), deleted in a
 * scrambled order: after every deletion the rest is found, the counts and
 * bytes agree, and the probe invariant holds. */
static void scrambled_deletions(void **state)
{
    (void)state;
    enum { N = 190 };
    static uintptr_t a[N];
    static size_t len[N];
    struct gjb_bigtab t = {0};
    unsigned rnd = 2024;
    for (size_t i = 0; i < N; i++) {
        rnd = rnd * 1103515245u + 12345u;
        a[i] = page_addr(1 + i * 7919 + (rnd >> 20));
        len[i] = (size_t)(1 + (rnd >> 8) % 5) * g_page;
        put(&t, a[i], len[i]);
    }
    assert_int_equal(t.cap, CAP);
    all_found(&t, a, len, N);
    size_t n = N;
    while (n) {
        rnd = rnd * 1103515245u + 12345u;
        size_t k = (rnd >> 8) % n;
        size_t bytes = t.bytes;
        gjb_big_del(&t, (void *)a[k]);
        assert_int_equal(gjb_big_get(&t, (void *)a[k]), 0);
        assert_int_equal(t.bytes, bytes - len[k]);
        a[k] = a[n - 1];
        len[k] = len[n - 1];
        n--;
        all_found(&t, a, len, n);
    }
    assert_int_equal(t.bytes, 0);
    drop(&t);
}

/* --- lookups -------------------------------------------------------------- */

static void lookups_of_what_is_not_there(void **state)
{
    (void)state;
    struct gjb_bigtab t = {0};
    /* an empty table (no slots yet) */
    assert_int_equal(gjb_big_get(&t, (void *)page_addr(5)), 0);
    assert_int_equal(gjb_big_get(&t, NULL), 0);
    gjb_big_del(&t, (void *)page_addr(5));
    assert_int_equal(t.count, 0);
    assert_null(t.slot);

    size_t from = 1;
    uintptr_t a = with_home(7, &from), b = with_home(7, &from), c = with_home(100, &from);
    put(&t, a, g_page);
    put(&t, b, 2 * g_page);
    /* NULL is never recorded, and an empty slot ends a search */
    assert_int_equal(gjb_big_get(&t, NULL), 0);
    assert_int_equal(gjb_big_get(&t, (void *)c), 0);
    assert_int_equal(gjb_big_get(&t, (void *)(a + 8)), 0);
    /* Forgetting what is not recorded (the caller's contract says it must
     * be) changes nothing. */
    gjb_big_del(&t, (void *)c);
    gjb_big_del(&t, NULL);
    assert_int_equal(t.bytes, 3 * g_page);
    assert_int_equal(slot_of(&t, a), 7);
    assert_int_equal(slot_of(&t, b), 8);
    all_found(&t, (uintptr_t[]){a, b}, (size_t[]){g_page, 2 * g_page}, 2);
    drop(&t);
}

static void overlaps(void **state)
{
    (void)state;
    struct gjb_bigtab t = {0};
    assert_false(gjb_big_overlaps(&t, (void *)page_addr(1), SIZE_MAX)); /* empty */
    uintptr_t a = page_addr(100), b = page_addr(200);
    put(&t, a, 10 * g_page); /* [100, 110) */
    put(&t, b, g_page);      /* [200, 201) */
    /* below, between and above both mappings, touching their edges */
    assert_false(gjb_big_overlaps(&t, (void *)page_addr(90), 10 * g_page));
    assert_false(gjb_big_overlaps(&t, (void *)page_addr(110), 90 * g_page));
    assert_false(gjb_big_overlaps(&t, (void *)page_addr(201), g_page));
    assert_false(gjb_big_overlaps(&t, (void *)page_addr(300), SIZE_MAX)); /* saturates */
    /* into either one */
    assert_true(gjb_big_overlaps(&t, (void *)page_addr(90), 10 * g_page + 1));
    assert_true(gjb_big_overlaps(&t, (void *)(page_addr(110) - 1), 1));
    assert_true(gjb_big_overlaps(&t, (void *)page_addr(105), 1));
    assert_true(gjb_big_overlaps(&t, (void *)page_addr(150), 51 * g_page));
    assert_true(gjb_big_overlaps(&t, (void *)page_addr(1), SIZE_MAX));
    drop(&t);
}

/* --- growth ---------------------------------------------------------------- */

static void growth_and_its_failure(void **state)
{
    (void)state;
    struct gjb_bigtab t = {0};
    long tb = 0;
    assert_int_equal(gjb_big_growth(&t), CAP * SLOT_BYTES);
    assert_int_equal(gjb_big_table_bytes(&t), 0);

    /* The first record needs the table's first pages: refused by the host,
     * nothing is recorded and nothing counted. */
    gjbmem_fault_after(0);
    assert_int_equal(gjb_big_put(&t, (void *)page_addr(1), g_page, &tb), ENOMEM);
    assert_int_equal(gjbmem_fault_count(), 1);
    assert_int_equal(tb, 0);
    assert_int_equal(t.cap, 0);
    assert_int_equal(t.count, 0);
    assert_null(t.slot);
    gjbmem_fault_reset();
    assert_int_equal(gjb_big_put(&t, (void *)page_addr(1), g_page, &tb), 0);
    assert_int_equal(tb, (long)(CAP * SLOT_BYTES));
    assert_int_equal(gjb_big_table_bytes(&t), CAP * SLOT_BYTES);

    /* Up to three quarters full without growing. */
    enum { FULL = CAP * 3 / 4 };
    static uintptr_t a[FULL + 1];
    static size_t len[FULL + 1];
    a[0] = page_addr(1);
    len[0] = g_page;
    for (size_t i = 1; i < FULL; i++) {
        a[i] = page_addr(1 + 3 * i);
        len[i] = g_page;
        tb = 0;
        assert_int_equal(gjb_big_growth(&t), 0);
        assert_int_equal(gjb_big_put(&t, (void *)a[i], g_page, &tb), 0);
        assert_int_equal(tb, 0);
    }
    assert_int_equal(t.count, FULL);
    assert_int_equal(t.cap, CAP);
    /* the next record doubles the table */
    assert_int_equal(gjb_big_growth(&t), CAP * SLOT_BYTES);

    /* Refused: the table and every record stay as they were. */
    struct gjb_big *slots = t.slot;
    a[FULL] = page_addr(5000);
    len[FULL] = 4 * g_page;
    tb = 0;
    gjbmem_fault_after(0);
    assert_int_equal(gjb_big_put(&t, (void *)a[FULL], len[FULL], &tb), ENOMEM);
    assert_int_equal(tb, 0);
    assert_ptr_equal(t.slot, slots);
    assert_int_equal(t.cap, CAP);
    assert_int_equal(t.bytes, FULL * g_page);
    assert_int_equal(gjb_big_get(&t, (void *)a[FULL]), 0);
    all_found(&t, a, len, FULL);
    gjbmem_fault_reset();

    /* Granted: twice the slots, every record moved over. */
    assert_int_equal(gjb_big_put(&t, (void *)a[FULL], len[FULL], &tb), 0);
    assert_int_equal(tb, (long)(CAP * SLOT_BYTES));
    assert_int_equal(t.cap, 2 * CAP);
    assert_int_equal(gjb_big_table_bytes(&t), 2 * CAP * SLOT_BYTES);
    assert_int_equal(gjb_big_growth(&t), 0);
    all_found(&t, a, len, FULL + 1);
    drop(&t);
}

/* --- gjb_big_valid on damaged tables -------------------------------------- */

static struct gjb_big by_hand[CAP];

/* A table in by_hand with n entries, each at its home (n distinct homes). */
static struct gjb_bigtab hand_table(size_t n, uintptr_t *a)
{
    memset(by_hand, 0, sizeof by_hand);
    struct gjb_bigtab t = {by_hand, CAP, 0, 0};
    size_t k = 1;
    while (t.count < n) {
        uintptr_t x = page_addr(k++);
        size_t h = home(x);
        if (by_hand[h].addr)
            continue;
        by_hand[h] = (struct gjb_big){x, 2 * g_page};
        a[t.count++] = x;
        t.bytes += 2 * g_page;
    }
    return t;
}

static void valid_refuses_damage(void **state)
{
    (void)state;
    static uintptr_t a[CAP];
    struct gjb_bigtab t = hand_table(40, a);
    assert_true(gjb_big_valid(&t, g_page));
    size_t i = slot_of(&t, a[5]);
    struct gjb_big saved = by_hand[i];

    by_hand[i].addr += 8; /* not a page */
    assert_false(gjb_big_valid(&t, g_page));
    by_hand[i] = saved;
    by_hand[i].len = 0;
    assert_false(gjb_big_valid(&t, g_page));
    by_hand[i].len = g_page + 16; /* not whole pages */
    assert_false(gjb_big_valid(&t, g_page));
    by_hand[i] = saved;
    assert_true(gjb_big_valid(&t, g_page));

    /* An entry where a search from its home never arrives: moved past an
     * empty slot. */
    size_t j = i;
    while (by_hand[j].addr || by_hand[(j - 1) & (CAP - 1)].addr)
        j = (j + 1) & (CAP - 1);
    by_hand[j] = saved;
    by_hand[i].addr = 0;
    assert_int_equal(gjb_big_get(&t, (void *)saved.addr), 0);
    assert_false(gjb_big_valid(&t, g_page));
    by_hand[j].addr = 0;
    by_hand[i] = saved;
    assert_true(gjb_big_valid(&t, g_page));

    /* The totals. */
    t.count++;
    assert_false(gjb_big_valid(&t, g_page));
    t.count -= 2;
    assert_false(gjb_big_valid(&t, g_page));
    t.count++;
    t.bytes += g_page;
    assert_false(gjb_big_valid(&t, g_page));
    t.bytes -= g_page;
    assert_true(gjb_big_valid(&t, g_page));
}

/* More than three quarters of the slots in use (which gjb_big_put never
 * lets happen) is damage, even when every entry is where it belongs. */
static void valid_refuses_an_overfull_table(void **state)
{
    (void)state;
    static uintptr_t a[CAP];
    struct gjb_bigtab t = hand_table(CAP * 3 / 4, a);
    assert_true(gjb_big_valid(&t, g_page));
    t = hand_table(CAP * 3 / 4 + 1, a);
    for (size_t i = 0; i < t.count; i++)
        assert_int_equal(gjb_big_get(&t, (void *)a[i]), 2 * g_page);
    assert_false(gjb_big_valid(&t, g_page));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(delete_pulls_a_wrapped_run_back, teardown),
        cmocka_unit_test_teardown(delete_keeps_entries_at_home, teardown),
        cmocka_unit_test_teardown(delete_pulls_an_entry_whose_home_is_behind_the_wrap, teardown),
        cmocka_unit_test_teardown(scrambled_deletions, teardown),
        cmocka_unit_test_teardown(lookups_of_what_is_not_there, teardown),
        cmocka_unit_test_teardown(overlaps, teardown),
        cmocka_unit_test_teardown(growth_and_its_failure, teardown),
        cmocka_unit_test_teardown(valid_refuses_damage, teardown),
        cmocka_unit_test_teardown(valid_refuses_an_overfull_table, teardown),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
