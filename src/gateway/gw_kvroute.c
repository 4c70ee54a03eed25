/* gw_kvroute: see gw_kvroute.h. */
#include "gateway/gw_kvroute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_prom.h"
#include "gateway/gw_kvindex.h"
#include "gateway/gw_kvsub.h"

#define GW_KVROUTE_TICK_MS 1000

struct gw_kvroute {
    gw_kvroute_cfg cfg;
    gw_registry *reg;
    gw_kvindex *ix;
    gw_kvsub *sub;
    uv_timer_t timer;
    uint8_t wanted[GW_MAX_ENGINES];
};

static void gw_kvroute_lock(void *ud)
{
    gw_registry_lock(ud);
}

static void gw_kvroute_unlock(void *ud)
{
    gw_registry_unlock(ud);
}

/* The engine's endpoints: 0, or -1 when the ports do not fit. An IPv6
 * host is bracketed. */
static int gw_kvroute_endpoints(const gw_kvroute *k, const gw_engine *e, char *pub, char *rep)
{
    int port = k->cfg.port ? k->cfg.port : e->port + k->cfg.offset;
    int rport = k->cfg.port ? k->cfg.replay_port : e->port + k->cfg.offset + 1;
    if (port <= 0 || port > 65535 || rport < 0 || rport > 65535) return -1;
    int v6 = strchr(e->host, ':') != NULL && e->host[0] != '[';
    const char *l = v6 ? "[" : "", *r = v6 ? "]" : "";
    if (snprintf(pub, GW_KVSUB_EP_MAX, "tcp://%s%s%s:%d", l, e->host, r, port) >= GW_KVSUB_EP_MAX)
        return -1;
    rep[0] = 0;
    if (rport > 0 &&
        snprintf(rep, GW_KVSUB_EP_MAX, "tcp://%s%s%s:%d", l, e->host, r, rport) >= GW_KVSUB_EP_MAX)
        return -1;
    return 0;
}

static void gw_kvroute_tick(uv_timer_t *t)
{
    gw_kvroute *k = t->data;
    gw_registry_lock(k->reg);
    for (int i = 0; i < k->reg->n && i < GW_MAX_ENGINES; i++) {
        const gw_engine *e = &k->reg->engines[i];
        char pub[GW_KVSUB_EP_MAX], rep[GW_KVSUB_EP_MAX];
        int want =
            gw_engine_up(e) && e->kv_events >= 0 && gw_kvroute_endpoints(k, e, pub, rep) == 0;
        if (want) {
            if (gw_kvsub_want(k->sub, e->id, pub, rep) == 0) k->wanted[e->id] = 1;
        } else if (k->wanted[e->id]) {
            gw_kvsub_drop(k->sub, e->id);
            gw_kvindex_unfollow(k->ix, e->id);
            k->wanted[e->id] = 0;
        }
    }
    gw_registry_unlock(k->reg);
}

gw_kvroute *gw_kvroute_start(const gw_kvroute_cfg *cfg, uv_loop_t *loop, gw_registry *reg,
                             gw_prefix *approx, char *err, size_t errlen)
{
    if (!approx) {
        snprintf(err, errlen, "KV events: no prefix index (no prefix strategy)");
        return NULL;
    }
    gw_kvroute *k = calloc(1, sizeof(*k));
    if (!k) {
        snprintf(err, errlen, "KV events: out of memory");
        return NULL;
    }
    k->cfg = *cfg;
    k->reg = reg;
    k->ix = gw_kvindex_create(cfg->max_bytes, cfg->spec_ttl_ms);
    if (!k->ix) {
        snprintf(err, errlen, "KV events: --kv-index-max-bytes too small or out of memory");
        free(k);
        return NULL;
    }
    gw_kvsub_opts o;
    gw_kvsub_opts_default(&o);
    o.ix = k->ix;
    o.lock = gw_kvroute_lock;
    o.unlock = gw_kvroute_unlock;
    o.ud = reg;
    o.max_engines = GW_MAX_ENGINES;
    gw_registry_lock(reg);
    gw_kvindex_attach(k->ix, approx);
    gw_registry_unlock(reg);
    k->sub = gw_kvsub_start(&o, err, errlen);
    if (!k->sub) {
        gw_registry_lock(reg);
        gw_kvindex_destroy(k->ix);
        gw_registry_unlock(reg);
        free(k);
        return NULL;
    }
    uv_timer_init(loop, &k->timer);
    k->timer.data = k;
    uv_timer_start(&k->timer, gw_kvroute_tick, 0, GW_KVROUTE_TICK_MS);
    return k;
}

static void gw_kvroute_closed(uv_handle_t *h)
{
    free(h->data);
}

void gw_kvroute_stop(gw_kvroute *k)
{
    if (!k) return;
    uv_timer_stop(&k->timer);
    gw_kvsub_stop(k->sub); /* joins: nothing touches the index after */
    gw_registry_lock(k->reg);
    gw_kvindex_destroy(k->ix); /* detaches from the approximate index */
    gw_registry_unlock(k->reg);
    uv_close((uv_handle_t *)&k->timer, gw_kvroute_closed);
}

void gw_kvroute_engine_change(gw_kvroute *k, const gw_engine *e)
{
    if (!k || gw_engine_up(e) || !k->wanted[e->id]) return;
    gw_kvsub_drop(k->sub, e->id);
    gw_kvindex_unfollow(k->ix, e->id);
    k->wanted[e->id] = 0;
}

static void gw_kvroute_counter(bx_buf *b, const char *name, const char *help, double v)
{
    bx_prom_head(b, name, "counter", help);
    bx_prom_value(b, name, "", v);
}

void gw_kvroute_metrics(gw_kvroute *k, bx_buf *b)
{
    if (!k) return;
    gw_kvindex_stats st;
    gw_kvsub_stats ss;
    gw_kvsub_stats_get(k->sub, &ss);
    gw_registry_lock(k->reg);
    gw_kvindex_stats_get(k->ix, &st);
    bx_prom_head(b, "brix_gateway_kv_engine_confidence", "gauge",
                 "Prefix-match confidence per engine: 0 approximate (no KV-event stream), 1 "
                 "exact (every event applied in order), 2 degraded (events missed).");
    for (int i = 0; i < k->reg->n && i < GW_MAX_ENGINES; i++) {
        const gw_engine *e = &k->reg->engines[i];
        if (e->gone) continue;
        bx_prom_label l = {"engine", e->addr};
        bx_prom_write_sample(b, "brix_gateway_kv_engine_confidence", &l, 1,
                             (double)gw_kvindex_conf(k->ix, e->id));
    }
    gw_registry_unlock(k->reg);
    bx_prom_head(b, "brix_gateway_kv_engines", "gauge", "Engines followed, per confidence.");
    for (int c = 0; c < 3; c++) {
        bx_prom_label l = {"confidence", gw_kvconf_name((gw_kvconf)c)};
        bx_prom_write_sample(b, "brix_gateway_kv_engines", &l, 1, (double)st.engines[c]);
    }
    bx_prom_head(b, "brix_gateway_kv_index_entries", "gauge",
                 "(block, engine) pairs in the exact index.");
    bx_prom_value(b, "brix_gateway_kv_index_entries", "", (double)st.exact_entries);
    bx_prom_head(b, "brix_gateway_kv_index_capacity", "gauge", "Most pairs the exact index holds.");
    bx_prom_value(b, "brix_gateway_kv_index_capacity", "", (double)st.exact_capacity);
    bx_prom_head(b, "brix_gateway_kv_index_bytes", "gauge",
                 "Memory reserved by the exact index (exact and speculative pairs).");
    bx_prom_value(b, "brix_gateway_kv_index_bytes", "", (double)st.bytes);
    bx_prom_head(b, "brix_gateway_kv_index_spec_entries", "gauge",
                 "Speculative pairs waiting for a BlockStored.");
    bx_prom_value(b, "brix_gateway_kv_index_spec_entries", "", (double)st.spec_entries);
    static const struct {
        const char *name, *help;
        size_t off;
    } cs[] = {
#define GW_KVR_C(n, f, h) {"brix_gateway_kv_" n "_total", h, offsetof(gw_kvindex_stats, f)}
        GW_KVR_C("batches", batches, "Event batches applied."),
        GW_KVR_C("events", events, "Events applied."),
        GW_KVR_C("blocks_stored", stored_blocks, "Blocks of BlockStored events."),
        GW_KVR_C("blocks_removed", removed_blocks, "Blocks of BlockRemoved events."),
        GW_KVR_C("clears", clears, "AllBlocksCleared events."),
        GW_KVR_C("gaps", gaps, "Sequence gaps seen on live streams."),
        GW_KVR_C("replays", replays, "Replays asked for."),
        GW_KVR_C("replay_failures", replay_failures, "Replays that failed or timed out."),
        GW_KVR_C("missed_batches", missed_batches, "Batches an engine's replay no longer had."),
        GW_KVR_C("restarts", restarts, "Streams that started from seq 0 again."),
        GW_KVR_C("index_evictions", evictions, "Exact pairs evicted for room."),
        GW_KVR_C("spec_inserts", spec_inserts, "Routing decisions inserted speculatively."),
        GW_KVR_C("spec_confirmed", spec_confirmed, "Speculative pairs confirmed by BlockStored."),
        GW_KVR_C("spec_dropped", spec_dropped, "Speculative pairs dropped by BlockRemoved."),
        GW_KVR_C("spec_expired", spec_expired, "Speculative pairs expired unconfirmed."),
        GW_KVR_C("apply_ns", apply_ns,
                 "CPU nanoseconds the subscriber spent applying events to the index."),
        GW_KVR_C("pred_requests", pred_n, "Routed requests whose prefix match was recorded."),
        GW_KVR_C("pred_blocks", pred_blocks, "Full prompt blocks of those requests."),
        GW_KVR_C("pred_approx_blocks", pred_approx,
                 "Blocks the approximate index predicted cached on the chosen engine."),
        GW_KVR_C("pred_exact_requests", pred_exact_n,
                 "Routed requests whose engine was in exact confidence."),
        GW_KVR_C("pred_exact_req_blocks", pred_exact_blocks, "Full prompt blocks of those."),
        GW_KVR_C("pred_exact_blocks", pred_exact,
                 "Blocks the exact index predicted cached (exact engines)."),
        GW_KVR_C("pred_exact_approx_blocks", pred_exact_approx,
                 "Blocks the approximate index predicted for the same requests."),
#undef GW_KVR_C
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
        gw_kvroute_counter(b, cs[i].name, cs[i].help,
                           (double)*(const uint64_t *)((const char *)&st + cs[i].off));
    gw_kvroute_counter(b, "brix_gateway_kv_messages_total", "ZMQ messages received.",
                       (double)ss.messages);
    gw_kvroute_counter(b, "brix_gateway_kv_bad_messages_total",
                       "Messages dropped: wrong frames or undecodable.",
                       (double)(ss.bad_frames + ss.decode_errors));
}
