/* gw_kvroute: the gateway's precise prefix routing from KV events: owns the
 * exact index (gw_kvindex) laid over the router's approximate one and the
 * subscriber (gw_kvsub), tells the subscriber which engines to follow, and
 * renders the /metrics lines.
 *
 * Engines followed: every engine of the registry that is up and whose
 * source does not say it has no events (gw_engine.kv_events: Kubernetes
 * follows the pods labelled model.aibrix.ai/kv-events-enabled=true), at
 * host:port_fixed (replay at replay_fixed, 0 = none: Kubernetes, AIBrix's
 * podIP:5557/5558) or at host:(its HTTP port + offset) (replay + offset + 1:
 * local engines sharing a host, each run with --kv-events bound to port
 * P+O and --kv-events-replay to P+O+1, on any address). A uv timer on the gateway's loop
 * reconciles every second; an engine going down or gone is dropped at once
 * (gw_kvroute_engine_change), so its matches fall back to the approximate
 * index until its stream is back.
 *
 * Ownership: gw_kvroute_start returns a state freed by gw_kvroute_stop
 * (stop before closing the registry or the router). The registry and the
 * approximate index are borrowed. Threads: start, stop and the timer on the
 * gateway's loop; engine_change under the registry lock (discovery's hook);
 * metrics takes the lock itself. */
#ifndef GW_KVROUTE_H
#define GW_KVROUTE_H

#include <uv.h>

#include "common/bx_buf.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_prefix.h"

typedef struct gw_kvroute gw_kvroute;

typedef struct gw_kvroute_cfg {
    int port, replay_port; /* fixed ports; 0 = use offset */
    int offset;            /* HTTP port + offset (replay + offset + 1) */
    size_t max_bytes;      /* exact index bound */
    uint32_t spec_ttl_ms;
} gw_kvroute_cfg;

/* NULL with a message in err (index too small, subscriber failed). */
gw_kvroute *gw_kvroute_start(const gw_kvroute_cfg *cfg, uv_loop_t *loop, gw_registry *reg,
                             gw_prefix *approx, char *err, size_t errlen);
void gw_kvroute_stop(gw_kvroute *k);
/* e went down or away (under the registry lock). */
void gw_kvroute_engine_change(gw_kvroute *k, const gw_engine *e);
/* Appends the brix_gateway_kv_* metrics (takes the registry lock). */
void gw_kvroute_metrics(gw_kvroute *k, bx_buf *b);

#endif
