/* gw_kvindex: see gw_kvindex.h. */
#include "gateway/gw_kvindex.h"

#include <stdlib.h>
#include <string.h>

#define GW_KVIX_MIN_PART (32u * 1024u) /* gw_prefix's smallest useful table */

typedef struct gw_kvstream {
    uint8_t followed;
    uint8_t synced;    /* everything from seq 0 / the last clear was applied */
    uint8_t lost;      /* batches missed for good (until a clear or restart) */
    uint8_t replaying; /* live batches ignored until replay_end */
    uint8_t have_next; /* next is known (a batch was applied or a replay asked) */
    uint8_t from_zero; /* the replay in progress was asked from seq 0 */
    uint64_t next;     /* next seq expected */
} gw_kvstream;

struct gw_kvindex {
    gw_prefix *exact;
    gw_prefix *spec[2]; /* spec[cur] gets inserts; the other is older */
    int cur;
    uint32_t spec_ttl_ms;
    uint64_t spec_epoch_ms; /* when spec[cur] became current */
    gw_prefix *approx;      /* attached to; borrowed */
    size_t bytes;
    gw_kvindex_stats st; /* counters (gauges filled by stats_get) */
    gw_kvstream s[GW_MAX_ENGINES];
};

const char *gw_kvconf_name(gw_kvconf c)
{
    switch (c) {
    case GW_KVCONF_EXACT:
        return "exact";
    case GW_KVCONF_DEGRADED:
        return "degraded";
    default:
        return "approximate";
    }
}

static int gw_kvix_ok(const gw_kvindex *ix, int e)
{
    return ix && e >= 0 && e < GW_MAX_ENGINES;
}

gw_kvconf gw_kvindex_conf(const gw_kvindex *ix, int e)
{
    if (!gw_kvix_ok(ix, e) || !ix->s[e].followed) return GW_KVCONF_APPROX;
    const gw_kvstream *s = &ix->s[e];
    return s->synced && !s->lost && !s->replaying ? GW_KVCONF_EXACT : GW_KVCONF_DEGRADED;
}

int gw_kvindex_followed(const gw_kvindex *ix, int e)
{
    return gw_kvix_ok(ix, e) && ix->s[e].followed;
}

int gw_kvindex_replaying(const gw_kvindex *ix, int e)
{
    return gw_kvix_ok(ix, e) && ix->s[e].replaying;
}

uint64_t gw_kvindex_next_seq(const gw_kvindex *ix, int e)
{
    return gw_kvix_ok(ix, e) ? ix->s[e].next : 0;
}

/* ---- the overlay ---- */

/* Exact pairs are removed one by one (BlockRemoved), so an engine's blocks
 * of a chain need not be a contiguous prefix: walk, over the union of the
 * exact and speculative pairs. */
static void gw_kvix_walk(const gw_kvindex *ix, const uint64_t *keys, size_t n, const int *ids,
                         int m, uint32_t *out)
{
    const gw_prefix *ps[3] = {ix->exact, ix->spec[0], ix->spec[1]};
    gw_prefix_walk_all(ps, ix->spec_ttl_ms ? 3 : 1, keys, n, ids, m, out);
}

static size_t gw_kvix_match_one(const gw_kvindex *ix, const uint64_t *keys, size_t n, int e)
{
    uint32_t out = 0;
    gw_kvix_walk(ix, keys, n, &e, 1, &out);
    return out;
}

size_t gw_kvindex_match(const gw_kvindex *ix, const uint64_t *keys, size_t n, int e)
{
    if (!gw_kvix_ok(ix, e) || !ix->s[e].followed || !keys) return 0;
    return gw_kvix_match_one(ix, keys, n, e);
}

static void gw_kvix_ov_match_all(void *ctx, const gw_prefix *p, const uint64_t *keys, size_t n,
                                 const int *ids, int m, uint32_t *out)
{
    gw_kvindex *ix = ctx;
    (void)p;
    if (!keys || n == 0) return;
    int fids[GW_MAX_ENGINES], fpos[GW_MAX_ENGINES], k = 0;
    for (int i = 0; i < m; i++)
        if (gw_kvindex_conf(ix, ids[i]) != GW_KVCONF_APPROX) {
            fids[k] = ids[i];
            fpos[k++] = i;
        }
    if (k == 0) return;
    uint32_t a[GW_MAX_ENGINES];
    gw_kvix_walk(ix, keys, n, fids, k, a);
    for (int j = 0; j < k; j++) {
        int i = fpos[j];
        if (gw_kvindex_conf(ix, fids[j]) == GW_KVCONF_EXACT || a[j] > out[i]) out[i] = a[j];
    }
}

static void gw_kvix_ov_insert(void *ctx, const gw_prefix *p, const uint64_t *keys, size_t n, int e)
{
    gw_kvindex *ix = ctx;
    if (!keys || n == 0 || !gw_kvix_ok(ix, e)) return;
    /* the prediction the decision was made on, before anything is recorded */
    size_t approx = gw_prefix_match_raw(p, keys, n, e);
    ix->st.pred_n++;
    ix->st.pred_blocks += n;
    ix->st.pred_approx += approx;
    gw_kvconf c = gw_kvindex_conf(ix, e);
    if (c == GW_KVCONF_EXACT) {
        ix->st.pred_exact_n++;
        ix->st.pred_exact_blocks += n;
        ix->st.pred_exact += gw_kvix_match_one(ix, keys, n, e);
        ix->st.pred_exact_approx += approx;
    }
    if (c == GW_KVCONF_APPROX || ix->spec_ttl_ms == 0) return;
    gw_prefix_insert(ix->spec[ix->cur], keys, n, e);
    ix->st.spec_inserts++;
}

static const gw_prefix_overlay gw_kvix_overlay = {gw_kvix_ov_match_all, gw_kvix_ov_insert};

void gw_kvindex_attach(gw_kvindex *ix, gw_prefix *approx)
{
    if (!ix) return;
    if (ix->approx) gw_prefix_set_overlay(ix->approx, NULL, NULL);
    ix->approx = approx;
    if (approx) gw_prefix_set_overlay(approx, &gw_kvix_overlay, ix);
}

/* ---- life ---- */

gw_kvindex *gw_kvindex_create(size_t max_bytes, uint32_t spec_ttl_ms)
{
    if (max_bytes < sizeof(gw_kvindex) + 8 * (size_t)GW_KVIX_MIN_PART) return NULL;
    gw_kvindex *ix = calloc(1, sizeof(*ix));
    if (!ix) return NULL;
    size_t rest = max_bytes - sizeof(*ix);
    size_t spec = spec_ttl_ms ? rest / 8 : 0;
    ix->exact = gw_prefix_create(rest - 2 * spec);
    if (spec_ttl_ms) {
        ix->spec[0] = gw_prefix_create(spec);
        ix->spec[1] = gw_prefix_create(spec);
    }
    if (!ix->exact || (spec_ttl_ms && (!ix->spec[0] || !ix->spec[1]))) {
        gw_kvindex_destroy(ix);
        return NULL;
    }
    ix->spec_ttl_ms = spec_ttl_ms;
    ix->bytes = sizeof(*ix) + gw_prefix_mem_bytes(ix->exact) + gw_prefix_mem_bytes(ix->spec[0]) +
                gw_prefix_mem_bytes(ix->spec[1]);
    return ix;
}

void gw_kvindex_destroy(gw_kvindex *ix)
{
    if (!ix) return;
    gw_kvindex_attach(ix, NULL);
    gw_prefix_destroy(ix->exact);
    gw_prefix_destroy(ix->spec[0]);
    gw_prefix_destroy(ix->spec[1]);
    free(ix);
}

static void gw_kvix_drop_engine(gw_kvindex *ix, int e)
{
    gw_prefix_remove_engine(ix->exact, e);
    gw_prefix_remove_engine(ix->spec[0], e);
    gw_prefix_remove_engine(ix->spec[1], e);
}

void gw_kvindex_follow(gw_kvindex *ix, int e)
{
    if (!gw_kvix_ok(ix, e)) return;
    gw_kvix_drop_engine(ix, e);
    memset(&ix->s[e], 0, sizeof(ix->s[e]));
    ix->s[e].followed = 1;
}

void gw_kvindex_unfollow(gw_kvindex *ix, int e)
{
    if (!gw_kvix_ok(ix, e)) return;
    gw_kvix_drop_engine(ix, e);
    memset(&ix->s[e], 0, sizeof(ix->s[e]));
}

void gw_kvindex_tick(gw_kvindex *ix, uint64_t now_ms)
{
    if (!ix || ix->spec_ttl_ms == 0) return;
    if (ix->spec_epoch_ms == 0 || now_ms < ix->spec_epoch_ms) {
        ix->spec_epoch_ms = now_ms ? now_ms : 1;
        return;
    }
    if (now_ms - ix->spec_epoch_ms < ix->spec_ttl_ms / 2) return;
    /* the older generation has lived a full ttl unconfirmed: it goes */
    int old = 1 - ix->cur;
    gw_prefix_stats ps;
    gw_prefix_stats_get(ix->spec[old], &ps);
    ix->st.spec_expired += ps.entries;
    gw_prefix_clear(ix->spec[old]);
    ix->cur = old;
    ix->spec_epoch_ms = now_ms;
}

/* ---- applying events ---- */

static int gw_kvix_gpu(const bx_kvev_event *ev)
{
    return !ev->medium || !strcmp(ev->medium, BX_KVEV_MEDIUM_GPU);
}

static void gw_kvix_unspec(gw_kvindex *ix, uint64_t key, int e, uint64_t *counter)
{
    if (ix->spec_ttl_ms == 0) return;
    int hit = gw_prefix_remove(ix->spec[0], key, e) + gw_prefix_remove(ix->spec[1], key, e);
    if (hit) (*counter)++;
}

static void gw_kvix_apply(gw_kvindex *ix, int e, const bx_kvev_batch *b)
{
    gw_kvstream *s = &ix->s[e];
    ix->st.batches++;
    if (!b) s->lost = 1; /* it did not decode: what it said is missed */
    for (size_t i = 0; b && i < b->n_events; i++) {
        const bx_kvev_event *ev = &b->events[i];
        ix->st.events++;
        switch (ev->type) {
        case BX_KVEV_BLOCK_STORED:
            if (!gw_kvix_gpu(ev)) break;
            /* parent first on the wire: the chain's head ends most recent */
            gw_prefix_insert(ix->exact, ev->block_hashes, ev->n_hashes, e);
            for (size_t k = 0; k < ev->n_hashes; k++)
                gw_kvix_unspec(ix, ev->block_hashes[k], e, &ix->st.spec_confirmed);
            ix->st.stored_blocks += ev->n_hashes;
            break;
        case BX_KVEV_BLOCK_REMOVED:
            if (!gw_kvix_gpu(ev)) break;
            for (size_t k = 0; k < ev->n_hashes; k++) {
                gw_prefix_remove(ix->exact, ev->block_hashes[k], e);
                gw_kvix_unspec(ix, ev->block_hashes[k], e, &ix->st.spec_dropped);
            }
            ix->st.removed_blocks += ev->n_hashes;
            break;
        case BX_KVEV_ALL_CLEARED:
            gw_kvix_drop_engine(ix, e);
            s->lost = 0; /* the engine holds nothing: nothing missed matters */
            s->synced = 1;
            ix->st.clears++;
            break;
        }
    }
}

int gw_kvindex_on_batch(gw_kvindex *ix, int e, uint64_t seq, const bx_kvev_batch *b,
                        uint64_t *replay_from)
{
    if (!gw_kvix_ok(ix, e) || !ix->s[e].followed) return GW_KVIX_IGNORED;
    gw_kvstream *s = &ix->s[e];
    if (s->replaying) {
        ix->st.ignored++;
        return GW_KVIX_IGNORED;
    }
    if (s->have_next && seq < s->next) { /* numbered from 0 again: a restart */
        ix->st.restarts++;
        gw_kvix_drop_engine(ix, e);
        memset(s, 0, sizeof(*s));
        s->followed = 1;
    }
    if (!s->have_next ? seq != 0 : seq != s->next) {
        ix->st.gaps++;
        *replay_from = s->have_next ? s->next : 0;
        return GW_KVIX_REPLAY;
    }
    if (seq == 0) s->synced = 1; /* the stream from its start */
    gw_kvix_apply(ix, e, b);
    s->have_next = 1;
    s->next = seq + 1;
    return GW_KVIX_APPLIED;
}

void gw_kvindex_replay_begin(gw_kvindex *ix, int e, uint64_t from)
{
    if (!gw_kvix_ok(ix, e) || !ix->s[e].followed) return;
    gw_kvstream *s = &ix->s[e];
    s->replaying = 1;
    if (!s->have_next) {
        s->have_next = 1;
        s->next = from;
    }
    s->from_zero = from == 0 && s->next == 0;
    ix->st.replays++;
}

int gw_kvindex_on_replay(gw_kvindex *ix, int e, uint64_t seq, const bx_kvev_batch *b)
{
    if (!gw_kvix_ok(ix, e) || !ix->s[e].followed || !ix->s[e].replaying) return GW_KVIX_IGNORED;
    gw_kvstream *s = &ix->s[e];
    if (seq < s->next) {
        ix->st.ignored++;
        return GW_KVIX_IGNORED;
    }
    if (seq > s->next) { /* the engine's ring no longer had them */
        ix->st.missed_batches += seq - s->next;
        s->lost = 1;
    }
    if (seq == 0) s->synced = 1; /* applied from the stream's start */
    gw_kvix_apply(ix, e, b);
    s->next = seq + 1;
    return GW_KVIX_APPLIED;
}

void gw_kvindex_replay_end(gw_kvindex *ix, int e, int ok)
{
    if (!gw_kvix_ok(ix, e) || !ix->s[e].replaying) return;
    gw_kvstream *s = &ix->s[e];
    s->replaying = 0;
    /* asked from 0 and answered with nothing: the engine has published
     * nothing yet, the (empty) stream is whole */
    if (ok && s->from_zero && s->next == 0) s->synced = 1;
    if (!ok) {
        ix->st.replay_failures++;
        /* the next live batch shows the gap again and asks anew */
    }
}

void gw_kvindex_note_apply_ns(gw_kvindex *ix, uint64_t ns)
{
    if (ix) ix->st.apply_ns += ns;
}

void gw_kvindex_stats_get(const gw_kvindex *ix, gw_kvindex_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!ix) return;
    *out = ix->st;
    gw_prefix_stats ps;
    gw_prefix_stats_get(ix->exact, &ps);
    out->exact_entries = ps.entries;
    out->exact_capacity = ps.capacity;
    out->exact_bytes = ps.bytes;
    out->bytes_per_entry = ps.bytes_per_entry;
    out->evictions = ps.evictions;
    for (int g = 0; g < 2 && ix->spec_ttl_ms; g++) {
        gw_prefix_stats_get(ix->spec[g], &ps);
        out->spec_entries += ps.entries;
    }
    out->bytes = ix->bytes;
    for (int e = 0; e < GW_MAX_ENGINES; e++)
        if (ix->s[e].followed) out->engines[gw_kvindex_conf(ix, e)]++;
}

size_t gw_kvindex_mem_bytes(const gw_kvindex *ix)
{
    return ix ? ix->bytes : 0;
}

int gw_kvindex_check(const gw_kvindex *ix)
{
    if (!ix || gw_prefix_check(ix->exact) != 0) return -1;
    for (int g = 0; g < 2 && ix->spec_ttl_ms; g++)
        if (gw_prefix_check(ix->spec[g]) != 0) return -1;
    for (int e = 0; e < GW_MAX_ENGINES; e++)
        if (!ix->s[e].followed &&
            (gw_prefix_engine_entries(ix->exact, e) || gw_prefix_engine_entries(ix->spec[0], e) ||
             gw_prefix_engine_entries(ix->spec[1], e)))
            return -1; /* an engine not followed holds nothing */
    return 0;
}
