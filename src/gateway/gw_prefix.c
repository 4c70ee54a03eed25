/* gw_prefix: see gw_prefix.h.
 *
 * Layout. The table is an array of 16-byte slots with Robin Hood linear
 * probing (bx_oahash), at most 3/4 full, entries stored in place (deletion
 * by backward shift, no tombstones). A slot holds
 *   tag  = (block key with its low 10 bits replaced by the engine id),
 *   prev, next = the engine's LRU list as slot numbers.
 * The home slot is a hash of the key part only, so all engines' pairs for
 * one block are adjacent in one run: gw_prefix_match_all finds every
 * holder of a block with one cache miss instead of one miss per (block,
 * engine), and bisects the chain (see gw_prefix_match). Robin Hood order lets a
 * search stop at the first entry that belongs to a later home, which keeps
 * scans short even at 3/4 load and when a hot block is held by many engines.
 *
 * Folding the engine id into the key costs 10 of the key's 64 bits, so two
 * different blocks alias only if their keys agree on the other 54 bits
 * (chance about entries / 2^54 per lookup: nil next to the index being
 * approximate anyway) and it halves the entry size against a separate
 * engine field. Tag 0 marks a free slot, so the table comes from calloc
 * and costs no resident memory until it fills; a real tag of 0 is stored
 * as 1 << 10 (one more alias, same odds).
 * So a held pair costs 16 bytes, and 16 / 0.75 = 21.3 bytes of the bound.
 *
 * Slots move during insertion (Robin Hood shift) and deletion; the LRU
 * neighbours (and the engine's head/tail) are fixed up at each move (the
 * core's move callback). The LRU links are 32-bit slot numbers, not a
 * bx_queue: they keep an entry at 16 bytes. */
#include "gateway/gw_prefix.h"

#include <stdlib.h>
#include <string.h>

#include "common/bx_oahash.h"

#define GW_PREFIX_NIL UINT32_MAX
#define GW_PREFIX_ENGINE_BITS 10
#define GW_PREFIX_ENGINE_MASK ((1u << GW_PREFIX_ENGINE_BITS) - 1)
#define GW_PREFIX_MIN_SLOTS 1024
#define GW_PREFIX_MAX_SLOTS ((size_t)UINT32_MAX - 1)

_Static_assert(GW_MAX_ENGINES <= (1 << GW_PREFIX_ENGINE_BITS), "engine id must fit the tag");

typedef struct gw_prefix_ent {
    uint64_t tag; /* 0 = free */
    uint32_t prev, next;
} gw_prefix_ent;

struct gw_prefix {
    gw_prefix_ent *slots;
    size_t nslots;
    size_t cap; /* 3/4 of nslots */
    size_t n;
    size_t bytes;
    uint64_t inserts, evictions;
    int nactive; /* engines with count > 0 */
    int rr;      /* where the next over-share search starts */
    uint32_t head[GW_MAX_ENGINES];
    uint32_t tail[GW_MAX_ENGINES];
    uint32_t count[GW_MAX_ENGINES];
    const gw_prefix_overlay *ov; /* borrowed; NULL = none */
    void *ov_ctx;
};

static uint64_t gw_prefix_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t gw_prefix_tag(uint64_t key, int engine)
{
    uint64_t t = (key & ~(uint64_t)GW_PREFIX_ENGINE_MASK) | (uint64_t)engine;
    return t ? t : (uint64_t)1 << GW_PREFIX_ENGINE_BITS;
}

/* The home slot depends on the key part of a tag only, so every engine's
 * pair for one block sits in the same probe run: one cache miss finds all
 * holders of a block (gw_prefix_match_all). Multiply-shift range reduction:
 * nslots need not be a power of two, so the whole byte budget is used. */
static size_t gw_prefix_home_key(const gw_prefix *p, uint64_t key)
{
    uint64_t h = gw_prefix_mix(key & ~(uint64_t)GW_PREFIX_ENGINE_MASK);
    return (size_t)(((unsigned __int128)h * p->nslots) >> 64);
}

static size_t gw_prefix_home(const gw_prefix *p, uint64_t tag)
{
    return gw_prefix_home_key(p, tag);
}

/* How far slot i is from the home of the tag it holds. */
static size_t gw_prefix_disp(const gw_prefix *p, size_t i, uint64_t tag)
{
    return bx_oahash_dist(i, gw_prefix_home(p, tag), p->nslots);
}

/* The table's callbacks for bx_oahash (tab is the gw_prefix). */
static int gw_prefix_slot_empty(const void *tab, size_t i)
{
    return ((const gw_prefix *)tab)->slots[i].tag == 0;
}

static size_t gw_prefix_slot_home(const void *tab, size_t i)
{
    const gw_prefix *p = tab;
    return gw_prefix_home(p, p->slots[i].tag);
}

static void gw_prefix_slot_clear(void *tab, size_t i)
{
    ((gw_prefix *)tab)->slots[i].tag = 0;
}

/* Moves the entry in slot from to slot to (free or stale), fixing its LRU
 * neighbours (and its engine's head/tail) to point at the new slot. */
static void gw_prefix_move(void *tab, size_t from, size_t to)
{
    gw_prefix *p = tab;
    gw_prefix_ent *s = &p->slots[to];
    *s = p->slots[from];
    int e = (int)(s->tag & GW_PREFIX_ENGINE_MASK);
    uint32_t nt = (uint32_t)to;
    if (s->prev != GW_PREFIX_NIL)
        p->slots[s->prev].next = nt;
    else
        p->head[e] = nt;
    if (s->next != GW_PREFIX_NIL)
        p->slots[s->next].prev = nt;
    else
        p->tail[e] = nt;
}

/* Robin Hood order: along a run, homes never decrease (cyclically), so a
 * search stops at the first slot whose entry sits closer to its home than
 * the searched tag would (it and all after it belong to later homes). */
static const bx_oahash_ops gw_prefix_ops = {gw_prefix_slot_empty, gw_prefix_slot_home,
                                            gw_prefix_move, gw_prefix_slot_clear, 1};

static int gw_prefix_slot_is(const void *tab, size_t i, const void *tag)
{
    return ((const gw_prefix *)tab)->slots[i].tag == *(const uint64_t *)tag;
}

static size_t gw_prefix_find(const gw_prefix *p, uint64_t tag)
{
    size_t i = bx_oahash_probe(&gw_prefix_ops, p, p->nslots, gw_prefix_home(p, tag),
                               gw_prefix_slot_is, &tag);
    return i == BX_OAHASH_NONE ? GW_PREFIX_NIL : i;
}

gw_prefix *gw_prefix_create(size_t max_bytes)
{
    if (max_bytes < sizeof(gw_prefix)) return NULL;
    size_t nslots = (max_bytes - sizeof(gw_prefix)) / sizeof(gw_prefix_ent);
    if (nslots > GW_PREFIX_MAX_SLOTS) nslots = GW_PREFIX_MAX_SLOTS;
    if (nslots < GW_PREFIX_MIN_SLOTS) return NULL;
    gw_prefix *p = malloc(sizeof(*p));
    if (!p) return NULL;
    memset(p, 0, sizeof(*p));
    p->slots = calloc(nslots, sizeof(gw_prefix_ent));
    if (!p->slots) {
        free(p);
        return NULL;
    }
    p->nslots = nslots;
    p->cap = nslots / 4 * 3;
    p->bytes = sizeof(*p) + nslots * sizeof(gw_prefix_ent);
    for (int e = 0; e < GW_MAX_ENGINES; e++)
        p->head[e] = p->tail[e] = GW_PREFIX_NIL;
    return p;
}

void gw_prefix_destroy(gw_prefix *p)
{
    if (!p) return;
    free(p->slots);
    free(p);
}

static void gw_prefix_unlink(gw_prefix *p, uint32_t i)
{
    gw_prefix_ent *s = &p->slots[i];
    int e = (int)(s->tag & GW_PREFIX_ENGINE_MASK);
    if (s->prev != GW_PREFIX_NIL)
        p->slots[s->prev].next = s->next;
    else
        p->head[e] = s->next;
    if (s->next != GW_PREFIX_NIL)
        p->slots[s->next].prev = s->prev;
    else
        p->tail[e] = s->prev;
}

static void gw_prefix_link_head(gw_prefix *p, uint32_t i, int e)
{
    gw_prefix_ent *s = &p->slots[i];
    s->prev = GW_PREFIX_NIL;
    s->next = p->head[e];
    if (p->head[e] != GW_PREFIX_NIL)
        p->slots[p->head[e]].prev = i;
    else
        p->tail[e] = i;
    p->head[e] = i;
}

/* Removes the entry in slot i; the entries after it that are away from
 * their home shift back by one (backward-shift deletion: no tombstones,
 * Robin Hood order kept). */
static void gw_prefix_delete(gw_prefix *p, size_t i)
{
    gw_prefix_unlink(p, (uint32_t)i);
    int e = (int)(p->slots[i].tag & GW_PREFIX_ENGINE_MASK);
    if (--p->count[e] == 0) p->nactive--;
    p->n--;
    bx_oahash_delete(&gw_prefix_ops, p, p->nslots, i);
}

static void gw_prefix_evict_for(gw_prefix *p, int e)
{
    int nact = p->nactive + (p->count[e] == 0);
    size_t share = p->cap / (size_t)nact;
    int victim = -1;
    if (p->count[e] > 0 && p->count[e] >= share) {
        victim = e;
    } else {
        uint32_t most = 0;
        int most_at = -1;
        for (int k = 0; k < GW_MAX_ENGINES; k++) {
            int v = (p->rr + k) % GW_MAX_ENGINES;
            if (v == e || p->count[v] == 0) continue;
            if (p->count[v] > share) {
                victim = v;
                break;
            }
            if (p->count[v] > most) {
                most = p->count[v];
                most_at = v;
            }
        }
        if (victim < 0) victim = most_at >= 0 ? most_at : e;
        p->rr = (victim + 1) % GW_MAX_ENGINES;
    }
    if (p->tail[victim] == GW_PREFIX_NIL) return; /* cannot happen: n == cap > 0 */
    gw_prefix_delete(p, p->tail[victim]);
    p->evictions++;
}

static void gw_prefix_insert_one(gw_prefix *p, uint64_t key, int e)
{
    uint64_t tag = gw_prefix_tag(key, e);
    size_t i = gw_prefix_find(p, tag);
    if (i != GW_PREFIX_NIL) { /* refresh */
        gw_prefix_unlink(p, (uint32_t)i);
        gw_prefix_link_head(p, (uint32_t)i, e);
        return;
    }
    if (p->n >= p->cap) gw_prefix_evict_for(p, e);
    /* Robin Hood: the new entry goes before the first entry closer to its
     * home than the new one would be; the rest of the run shifts forward */
    i = bx_oahash_insert_slot(&gw_prefix_ops, p, p->nslots, gw_prefix_home(p, tag));
    p->slots[i].tag = tag;
    gw_prefix_link_head(p, (uint32_t)i, e);
    if (p->count[e]++ == 0) p->nactive++;
    p->n++;
    p->inserts++;
}

void gw_prefix_insert(gw_prefix *p, const uint64_t *keys, size_t n, int engine_id)
{
    if (!p || engine_id < 0 || engine_id >= GW_MAX_ENGINES) return;
    if (p->ov && p->ov->insert) p->ov->insert(p->ov_ctx, p, keys, n, engine_id);
    for (size_t k = n; k-- > 0;)
        gw_prefix_insert_one(p, keys[k], engine_id);
}

/* Matching relies on one invariant the index keeps: an engine holds the
 * blocks of any chain as a contiguous prefix. Block k's key commits to
 * blocks 0..k, so every insert that refreshed block k also refreshed
 * blocks 0..k-1 after it (chains go in last block first), and every
 * eviction takes an engine's least recent pair: an engine always loses a
 * chain's tail before its head. So "holds block k" is monotone in k and the
 * longest held prefix is found by bisection, log2(n) lookups instead of n:
 * the linear walk of AIBrix's seqSearchPrefix gives the same answer. */
static int gw_prefix_holds(const gw_prefix *p, uint64_t key, int e)
{
    return gw_prefix_find(p, gw_prefix_tag(key, e)) != GW_PREFIX_NIL;
}

size_t gw_prefix_match_raw(const gw_prefix *p, const uint64_t *keys, size_t n, int engine_id)
{
    if (!p || n == 0 || engine_id < 0 || engine_id >= GW_MAX_ENGINES || p->count[engine_id] == 0 ||
        !gw_prefix_holds(p, keys[0], engine_id))
        return 0;
    size_t lo = 0, hi = n; /* holds block lo; block hi is past the end or missing */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (gw_prefix_holds(p, keys[mid], engine_id))
            lo = mid;
        else
            hi = mid;
    }
    return lo + 1;
}

typedef struct gw_prefix_scan_arg {
    uint64_t want;  /* the key part */
    uint32_t *held; /* held[engine] = mark for each holder */
    uint32_t mark;
} gw_prefix_scan_arg;

static int gw_prefix_slot_mark(const void *tab, size_t i, const void *arg)
{
    const gw_prefix_scan_arg *a = arg;
    uint64_t t = ((const gw_prefix *)tab)->slots[i].tag;
    /* most slots a scan visits hold the block: keep that path straight */
    if (__builtin_expect((t & ~(uint64_t)GW_PREFIX_ENGINE_MASK) != a->want, 0))
        return BX_OAHASH_MISS;
    a->held[t & GW_PREFIX_ENGINE_MASK] = a->mark;
    return BX_OAHASH_SAME;
}

/* One scan of a block's run marks every engine holding it: all engines'
 * pairs for a block are adjacent (Robin Hood order on the key part). */
static void gw_prefix_scan(const gw_prefix *p, uint64_t key, uint32_t *held, uint32_t mark)
{
    gw_prefix_scan_arg a = {key & ~(uint64_t)GW_PREFIX_ENGINE_MASK, held, mark};
    bx_oahash_probe(&gw_prefix_ops, p, p->nslots, gw_prefix_home_key(p, a.want),
                    gw_prefix_slot_mark, &a);
}

typedef struct gw_prefix_bisect {
    const gw_prefix *p;
    const uint64_t *keys;
    const int *ids;
    int *pos;       /* positions in ids, partitioned in place */
    uint32_t *held; /* held[engine] == mark: holds the block scanned last */
    uint32_t mark;
    uint32_t *out;
} gw_prefix_bisect;

/* Every engine at pos[a..b) holds block lo and none holds block hi (hi may
 * be n: past the end). One scan at the middle splits them into holders
 * (answer in (mid, hi]) and the rest (answer in (lo, mid]); the recursion
 * is as deep as log2(hi - lo) and scans once per node, so engines with equal
 * answers share every scan. */
static void gw_prefix_split(gw_prefix_bisect *bs, size_t lo, size_t hi, int a, int b)
{
    while (b > a) {
        if (hi - lo == 1) {
            for (int i = a; i < b; i++)
                bs->out[bs->pos[i]] = (uint32_t)hi;
            return;
        }
        size_t mid = lo + (hi - lo) / 2;
        uint32_t mark = ++bs->mark;
        gw_prefix_scan(bs->p, bs->keys[mid], bs->held, mark);
        int c = a;
        for (int i = a; i < b; i++)
            if (bs->held[bs->ids[bs->pos[i]]] == mark) {
                int t = bs->pos[i];
                bs->pos[i] = bs->pos[c];
                bs->pos[c++] = t;
            }
        gw_prefix_split(bs, mid, hi, a, c);
        hi = mid; /* the non-holders, without recursing */
        a = c;
    }
}

void gw_prefix_match_all_raw(const gw_prefix *p, const uint64_t *keys, size_t n,
                             const int *engine_ids, int m, uint32_t *out)
{
    int pos[GW_MAX_ENGINES];
    uint32_t held[GW_MAX_ENGINES];
    int na = 0;
    if (m > GW_MAX_ENGINES) m = GW_MAX_ENGINES;
    if (n > UINT32_MAX - 1) n = UINT32_MAX - 1;
    for (int i = 0; i < m; i++) {
        out[i] = 0;
        int e = engine_ids[i];
        if (p && n > 0 && e >= 0 && e < GW_MAX_ENGINES && p->count[e] > 0) {
            pos[na++] = i;
            held[e] = 0;
        }
    }
    if (na == 0) return;
    gw_prefix_bisect bs = {
        .p = p, .keys = keys, .ids = engine_ids, .pos = pos, .held = held, .mark = 1, .out = out};
    gw_prefix_scan(p, keys[0], held, 1); /* holders of block 0 */
    int c = 0;
    for (int i = 0; i < na; i++)
        if (held[engine_ids[pos[i]]] == 1) pos[c++] = pos[i];
    if (c > 0 && n > 1) { /* the common case of whole-prompt holders: one scan */
        uint32_t mark = ++bs.mark;
        gw_prefix_scan(p, keys[n - 1], held, mark);
        int f = 0;
        for (int i = 0; i < c; i++)
            if (held[engine_ids[pos[i]]] == mark) {
                out[pos[i]] = (uint32_t)n;
            } else {
                pos[f++] = pos[i];
            }
        gw_prefix_split(&bs, 0, n - 1, 0, f);
    } else {
        gw_prefix_split(&bs, 0, n, 0, c);
    }
}

void gw_prefix_remove_engine(gw_prefix *p, int engine_id)
{
    if (!p || engine_id < 0 || engine_id >= GW_MAX_ENGINES) return;
    while (p->tail[engine_id] != GW_PREFIX_NIL)
        gw_prefix_delete(p, p->tail[engine_id]);
}

size_t gw_prefix_engine_entries(const gw_prefix *p, int engine_id)
{
    if (!p || engine_id < 0 || engine_id >= GW_MAX_ENGINES) return 0;
    return p->count[engine_id];
}

void gw_prefix_stats_get(const gw_prefix *p, gw_prefix_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!p) return;
    out->entries = p->n;
    out->capacity = p->cap;
    out->bytes = p->bytes;
    out->bytes_per_entry = (double)p->bytes / (double)p->cap;
    out->inserts = p->inserts;
    out->evictions = p->evictions;
    out->engines = p->nactive;
}

size_t gw_prefix_mem_bytes(const gw_prefix *p)
{
    return p ? p->bytes : 0;
}

int gw_prefix_check(const gw_prefix *p)
{
    if (!p || p->n > p->cap) return -1;
    size_t held = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->slots[i].tag == 0) continue;
        if (gw_prefix_find(p, p->slots[i].tag) != i) return -1;
        size_t pi = i == 0 ? p->nslots - 1 : i - 1; /* Robin Hood order */
        size_t d = gw_prefix_disp(p, i, p->slots[i].tag);
        if (d > 0 && (p->slots[pi].tag == 0 || gw_prefix_disp(p, pi, p->slots[pi].tag) + 1 < d))
            return -1;
        held++;
    }
    if (held != p->n) return -1;
    size_t total = 0;
    int active = 0;
    for (int e = 0; e < GW_MAX_ENGINES; e++) {
        uint32_t prev = GW_PREFIX_NIL, len = 0;
        for (uint32_t i = p->head[e]; i != GW_PREFIX_NIL; i = p->slots[i].next) {
            const gw_prefix_ent *s = &p->slots[i];
            if (i >= p->nslots || s->tag == 0 || (int)(s->tag & GW_PREFIX_ENGINE_MASK) != e ||
                s->prev != prev || ++len > p->n)
                return -1;
            prev = i;
        }
        if (prev != p->tail[e] || len != p->count[e]) return -1;
        total += len;
        active += len > 0;
    }
    return total == p->n && active == p->nactive ? 0 : -1;
}

size_t gw_prefix_match(const gw_prefix *p, const uint64_t *keys, size_t n, int engine_id)
{
    if (p && p->ov && p->ov->match_all) {
        uint32_t out = 0;
        gw_prefix_match_all(p, keys, n, &engine_id, 1, &out);
        return out;
    }
    return gw_prefix_match_raw(p, keys, n, engine_id);
}

void gw_prefix_match_all(const gw_prefix *p, const uint64_t *keys, size_t n, const int *engine_ids,
                         int m, uint32_t *out)
{
    gw_prefix_match_all_raw(p, keys, n, engine_ids, m, out);
    if (p && p->ov && p->ov->match_all) {
        if (m > GW_MAX_ENGINES) m = GW_MAX_ENGINES;
        if (n > UINT32_MAX - 1) n = UINT32_MAX - 1;
        p->ov->match_all(p->ov_ctx, p, keys, n, engine_ids, m, out);
    }
}

int gw_prefix_remove(gw_prefix *p, uint64_t key, int engine_id)
{
    if (!p || engine_id < 0 || engine_id >= GW_MAX_ENGINES || p->count[engine_id] == 0) return 0;
    size_t i = gw_prefix_find(p, gw_prefix_tag(key, engine_id));
    if (i == GW_PREFIX_NIL) return 0;
    gw_prefix_delete(p, i);
    return 1;
}

void gw_prefix_clear(gw_prefix *p)
{
    if (!p) return;
    memset(p->slots, 0, p->nslots * sizeof(gw_prefix_ent));
    p->n = 0;
    p->nactive = 0;
    p->rr = 0;
    for (int e = 0; e < GW_MAX_ENGINES; e++) {
        p->head[e] = p->tail[e] = GW_PREFIX_NIL;
        p->count[e] = 0;
    }
}

void gw_prefix_set_overlay(gw_prefix *p, const gw_prefix_overlay *ops, void *ctx)
{
    if (!p) return;
    p->ov = ops;
    p->ov_ctx = ops ? ctx : NULL;
}

void gw_prefix_walk_all(const gw_prefix *const *ps, int np, const uint64_t *keys, size_t n,
                        const int *engine_ids, int m, uint32_t *out)
{
    int pos[GW_MAX_ENGINES];
    uint32_t held[GW_MAX_ENGINES];
    int na = 0;
    if (m > GW_MAX_ENGINES) m = GW_MAX_ENGINES;
    if (n > UINT32_MAX - 1) n = UINT32_MAX - 1;
    for (int i = 0; i < m; i++) {
        out[i] = 0;
        int e = engine_ids[i];
        if (e < 0 || e >= GW_MAX_ENGINES) continue;
        int any = 0;
        for (int j = 0; j < np; j++)
            any |= ps[j] && ps[j]->count[e] > 0;
        if (any && keys && n > 0) {
            pos[na++] = i;
            held[e] = 0;
        }
    }
    for (size_t k = 0; k < n && na > 0; k++) {
        uint32_t mark = (uint32_t)k + 1;
        for (int j = 0; j < np; j++)
            if (ps[j] && ps[j]->n > 0) gw_prefix_scan(ps[j], keys[k], held, mark);
        int c = 0;
        for (int i = 0; i < na; i++)
            if (held[engine_ids[pos[i]]] == mark) {
                out[pos[i]] = mark;
                pos[c++] = pos[i];
            }
        na = c;
    }
}
