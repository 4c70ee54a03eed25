/* bx_oahash: open addressing with linear probing and backward-shift
 * deletion, written once for every table in brix that needs it (the L1
 * block map, the S3-FIFO ghost, vtc-basic's users, the gateway's prefix
 * index). No tombstones: deleting an entry moves the entries after it that
 * may move back into the hole (Knuth's Algorithm R), so probe runs stay
 * unbroken and lookups never slow down as entries come and go.
 *
 * The core knows nothing of a slot's layout. Its owner describes its slots
 * in a `bx_oahash_ops` (is slot i empty, the home of the entry in slot i,
 * move an entry, empty a slot); `tab` is the owner's table, passed through
 * untouched. Slots are numbered 0..nslots-1 and wrap around; nslots need
 * not be a power of two. At least one slot must stay empty.
 *
 * Two orders:
 *  - plain (robin_hood = 0): a new entry takes the first empty slot of its
 *    run; a probe walks to the first empty slot.
 *  - Robin Hood (robin_hood = 1): along a run, homes never decrease
 *    (cyclically). A new entry goes before the first entry closer to its
 *    home than the new one would be (the rest of the run shifts forward),
 *    and a probe stops at the first entry closer to its home than the probe
 *    has walked: scans stay short at high load, and the entries with one
 *    home sit side by side.
 *
 * Everything is static inline (as libuv's heap-inl.h): with the ops a
 * static const table, the compiler inlines the callbacks, so a lookup costs
 * what a hand-written loop does. Header-only also lets libbrixkv, which
 * links nothing of src/common, use it. Nothing allocates except
 * bx_oaidx_init. Not thread-safe: the owner serialises access.
 *
 * bx_oaidx, below, is the common shape ready-made: a table of 32-bit
 * indexes into the owner's array, at most half full. */
#ifndef BX_OAHASH_H
#define BX_OAHASH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define BX_OAHASH_INLINE static inline __attribute__((always_inline))
#else
#define BX_OAHASH_INLINE static inline
#endif

#define BX_OAHASH_NONE SIZE_MAX

typedef struct bx_oahash_ops {
    /* 1 when slot i holds no entry */
    int (*empty)(const void *tab, size_t i);
    /* the home slot (< nslots) of the entry in slot i, which holds one */
    size_t (*home)(const void *tab, size_t i);
    /* puts the entry of slot `from` into slot `to`, which is empty or holds
     * a stale copy; `from` is left as it is (the core refills or clears it
     * next). An owner whose entries are pointed at fixes the pointers here. */
    void (*move)(void *tab, size_t from, size_t to);
    /* makes slot i empty */
    void (*clear)(void *tab, size_t i);
    int robin_hood; /* the table keeps Robin Hood order (see above) */
} bx_oahash_ops;

/* What a probe's visitor says of a held slot. */
enum {
    BX_OAHASH_MISS = 0, /* not the one: walk on */
    BX_OAHASH_HIT = 1,  /* the one: the probe returns this slot */
    BX_OAHASH_SAME = -1 /* not the one, but an entry with the probe's home:
                         * walk on (Robin Hood: without the distance check) */
};
typedef int (*bx_oahash_visit_fn)(const void *tab, size_t i, const void *key);

BX_OAHASH_INLINE size_t bx_oahash_next(size_t i, size_t nslots)
{
    return i + 1 == nslots ? 0 : i + 1;
}

/* How far slot i lies after slot home, cyclically. */
BX_OAHASH_INLINE size_t bx_oahash_dist(size_t i, size_t home, size_t nslots)
{
    return i >= home ? i - home : i + nslots - home;
}

/* Walks the run that starts at slot home, asking visit(tab, slot, key) of
 * each held slot. The slot it says BX_OAHASH_HIT of, or BX_OAHASH_NONE at
 * the end of the run (an empty slot; in Robin Hood order, also an entry
 * closer to its home than the walk is from `home`, past which no entry of
 * this home can be). */
BX_OAHASH_INLINE size_t bx_oahash_probe(const bx_oahash_ops *ops, const void *tab, size_t nslots,
                                        size_t home, bx_oahash_visit_fn visit, const void *key)
{
    size_t i = home;
    for (size_t d = 0;; d++) {
        if (ops->empty(tab, i)) return BX_OAHASH_NONE;
        int v = visit(tab, i, key);
        if (v == BX_OAHASH_HIT) return i;
        if (ops->robin_hood && v == BX_OAHASH_MISS &&
            bx_oahash_dist(i, ops->home(tab, i), nslots) < d)
            return BX_OAHASH_NONE;
        i = bx_oahash_next(i, nslots);
    }
}

/* The slot a new entry whose home is `home` goes in; the caller fills it
 * (every field: the slot may hold a stale copy of an entry that moved).
 * Plain: the first empty slot of the run. Robin Hood: the slot before the
 * first entry closer to its home than the new one would be; that entry and
 * the rest of the run up to the next empty slot move forward by one, the
 * last first. The table must have an empty slot. */
BX_OAHASH_INLINE size_t bx_oahash_insert_slot(const bx_oahash_ops *ops, void *tab, size_t nslots,
                                              size_t home)
{
    size_t i = home;
    if (!ops->robin_hood) {
        while (!ops->empty(tab, i))
            i = bx_oahash_next(i, nslots);
        return i;
    }
    for (size_t d = 0;; d++) {
        if (ops->empty(tab, i) || bx_oahash_dist(i, ops->home(tab, i), nslots) < d) break;
        i = bx_oahash_next(i, nslots);
    }
    size_t f = i;
    while (!ops->empty(tab, f))
        f = bx_oahash_next(f, nslots);
    while (f != i) {
        size_t b = f == 0 ? nslots - 1 : f - 1;
        ops->move(tab, b, f);
        f = b;
    }
    return i;
}

/* Removes the entry in slot i (its owner has already let go of it): each
 * later entry of the run whose home does not lie cyclically in (hole, its
 * slot] moves back into the hole, and the last hole is cleared. In Robin
 * Hood order that is every entry up to the first one at its home, where the
 * walk stops (the order is kept). */
BX_OAHASH_INLINE void bx_oahash_delete(const bx_oahash_ops *ops, void *tab, size_t nslots, size_t i)
{
    for (size_t j = bx_oahash_next(i, nslots); !ops->empty(tab, j); j = bx_oahash_next(j, nslots)) {
        size_t h = ops->home(tab, j);
        if (ops->robin_hood) {
            if (h == j) break;
        } else if (i <= j ? (i < h && h <= j) : (i < h || h <= j)) {
            continue; /* it may not move before its home */
        }
        ops->move(tab, j, i);
        i = j;
    }
    ops->clear(tab, i);
}

/* bx_oaidx: a plain table of 32-bit indexes into the owner's array (a slot
 * holds index + 1; 0 is empty), with a power of two of slots at least twice
 * the most entries, so it is at most half full. The owner embeds a bx_oaidx
 * in its own struct and writes one ops table:
 *
 *   static size_t my_home(const void *tab, size_t i)   // tab: the bx_oaidx
 *   {
 *       const my *m = bx_container_of(tab, my, idx);
 *       return my_hash(&m->items[bx_oaidx_at(tab, i)]) & m->idx.mask;
 *   }
 *   static const bx_oahash_ops my_ops = {bx_oaidx_empty, my_home, bx_oaidx_move,
 *                                        bx_oaidx_clear, 0};
 *
 * (bx_container_of is in bx_queue.h). */
typedef struct bx_oaidx {
    uint32_t *slots; /* mask + 1 of them */
    uint32_t mask;
} bx_oaidx;

/* Allocates the slots for up to max_entries (1 <= max_entries <= 2^31),
 * all empty. 0, -EINVAL or -ENOMEM. Free with bx_oaidx_free. */
static inline int bx_oaidx_init(bx_oaidx *t, size_t max_entries)
{
    t->slots = NULL;
    t->mask = 0;
    if (max_entries == 0 || max_entries > ((size_t)1 << 31)) return -EINVAL;
    size_t n = 2;
    while (n < 2 * max_entries)
        n <<= 1;
    t->slots = calloc(n, sizeof(*t->slots));
    if (!t->slots) return -ENOMEM;
    t->mask = (uint32_t)(n - 1);
    return 0;
}

static inline void bx_oaidx_free(bx_oaidx *t)
{
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
}

BX_OAHASH_INLINE size_t bx_oaidx_nslots(const bx_oaidx *t)
{
    return (size_t)t->mask + 1;
}

/* The index held in slot i (which holds one). */
BX_OAHASH_INLINE uint32_t bx_oaidx_at(const void *tab, size_t i)
{
    return ((const bx_oaidx *)tab)->slots[i] - 1;
}

/* The ops' slot functions for a bx_oaidx (tab is the bx_oaidx). */
BX_OAHASH_INLINE int bx_oaidx_empty(const void *tab, size_t i)
{
    return ((const bx_oaidx *)tab)->slots[i] == 0;
}

BX_OAHASH_INLINE void bx_oaidx_move(void *tab, size_t from, size_t to)
{
    bx_oaidx *t = tab;
    t->slots[to] = t->slots[from];
}

BX_OAHASH_INLINE void bx_oaidx_clear(void *tab, size_t i)
{
    ((bx_oaidx *)tab)->slots[i] = 0;
}

/* The slot whose index visit says BX_OAHASH_HIT of, from home (< nslots),
 * or BX_OAHASH_NONE. */
BX_OAHASH_INLINE size_t bx_oaidx_find(const bx_oahash_ops *ops, const bx_oaidx *t, size_t home,
                                      bx_oahash_visit_fn visit, const void *key)
{
    return bx_oahash_probe(ops, t, bx_oaidx_nslots(t), home, visit, key);
}

/* Adds index idx, whose entry's home is home; the table must have room
 * (the owner keeps at most its max_entries). */
BX_OAHASH_INLINE void bx_oaidx_add(const bx_oahash_ops *ops, bx_oaidx *t, size_t home, uint32_t idx)
{
    t->slots[bx_oahash_insert_slot(ops, t, bx_oaidx_nslots(t), home)] = idx + 1;
}

/* Removes the index in slot i (a slot bx_oaidx_find returned). */
BX_OAHASH_INLINE void bx_oaidx_del(const bx_oahash_ops *ops, bx_oaidx *t, size_t i)
{
    bx_oahash_delete(ops, t, bx_oaidx_nslots(t), i);
}

#endif
