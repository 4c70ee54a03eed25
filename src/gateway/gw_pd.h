/* gw_pd: prefill/decode disaggregation, AIBrix's `pd` routing strategy
 * (docs/gateway.md "Prefill/decode disaggregation"; spec gateway.md §8.2).
 *
 * Grouping: an engine's role (gw_engine.pd_role: prefill or decode) and
 * roleset (gw_engine.roleset) come from its labels role-name and
 * roleset-name (Kubernetes pods, `brix up` deployments' pod templates) or a
 * static backend `ROLESET/ROLE=URL`. Only rolesets with at least one
 * prefill and one decode candidate are eligible.
 *
 * Selection (gw_pd_select, pure; strategies/pd.c feeds it the candidates):
 *  1. prefill imbalance: if max - min of the prefill pods' outstanding
 *     requests (the gateway's in-flight counts) > imbalance-prefill (16),
 *     the least loaded prefill pod, and the best-scored decode pod of its
 *     roleset;
 *  2. decode fast paths, on effective running = running (scraped, 0 when
 *     missing) + the gateway's in-flight count: spread >= imbalance-decode
 *     (16) -> the least; else a generation-throughput spread > 2048 tok/s ->
 *     the lowest throughput; else max/min of running / drain rate (requests
 *     finishing per second: tokens/s over tokens per request) > 1.5 -> the
 *     lowest; then the best-scored prefill pod of its roleset;
 *  3. scores: prefill pods above mean + F * stddev of outstanding (F =
 *     stddev-factor, 1; sample stddev, 0 for one pod) are skipped;
 *     prefix-cache policy (100 - match%) * 0.1 + req / max req, least-request
 *     policy req. Decode, load-balancing policy: (run / max run + (1 - tps
 *     / max tps)) / (free / max free), free = max(100 - 100 * kv usage, 0.1);
 *     a pod without those metrics while others have them scores 1 + its
 *     in-flight count; least-request policy: effective running;
 *  4. per roleset, its best prefill / max over rolesets + its best decode /
 *     max over rolesets; the lowest wins. Ties: the first in candidate order
 *     rotated by rnd.
 *  No complete roleset: the strategy picks a combined pod (an engine with
 *  no role) by least in-flight; none: it declines and the router's fallback
 *  (least-request) picks among all candidates.
 *
 * The two legs (gw_proxy.c, with the helpers below): the prefill call
 * carries the client's body with max_tokens = max_completion_tokens = 1,
 * stream false, stream_options and min_tokens removed, and
 * kv_transfer_params {do_remote_decode: true}; it must answer 200 with
 * kv_transfer_params, whose remote_host the gateway sets to the prefill
 * engine's address before putting them in the decode call's body (the
 * client's otherwise). A prefill that fails (connect, 5xx, timeout
 * AIBRIX_PREFILL_REQUEST_TIMEOUT seconds, default 30, no params) is
 * retried through the router without that engine (another roleset, or the
 * fallback), up to --max-retries; a 4xx is passed to the client as is.
 * The decode leg is an ordinary proxied call (streamed, retried before the
 * first byte, an SSE error event after it). */
#ifndef GW_PD_H
#define GW_PD_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_http.h"
#include "gateway/gw_engine.h"

enum { GW_PD_ROLE_NONE = 0, GW_PD_ROLE_PREFILL = 1, GW_PD_ROLE_DECODE = 2 };
/* "prefill" / "decode" -> GW_PD_ROLE_*, anything else NONE. */
int gw_pd_role_parse(const char *s);

/* ---------- selection (pure) ---------- */

typedef struct gw_pd_pod {
    int roleset; /* >= 0: pods with the same number form a roleset */
    int role;    /* GW_PD_ROLE_PREFILL or GW_PD_ROLE_DECODE */
    double req;  /* the gateway's in-flight requests on it */
    /* scraped (NaN: missing) */
    double running, gen_tps, drain, kv_usage;
    double match_pct; /* prefix match of the prompt, 0..100 (prefill pods) */
} gw_pd_pod;

enum { GW_PD_PREFILL_PREFIX = 0, GW_PD_PREFILL_LEAST_REQUEST };
enum { GW_PD_DECODE_LOAD_BALANCING = 0, GW_PD_DECODE_LEAST_REQUEST };

typedef struct gw_pd_params {
    double imbalance_prefill, imbalance_decode, tps_spread, ratio_spread, stddev_factor;
    int prefill_policy, decode_policy;
} gw_pd_params;

void gw_pd_params_default(gw_pd_params *p);

/* Why the pair was chosen (gw_pd_select's *why). */
enum {
    GW_PD_WHY_SCORE = 0,
    GW_PD_WHY_PREFILL_IMBALANCE,
    GW_PD_WHY_DECODE_SPREAD,
    GW_PD_WHY_DECODE_TPS,
    GW_PD_WHY_DECODE_RATIO
};

/* Picks a prefill and a decode pod of one roleset among pods[0..n) (n <=
 * GW_MAX_ENGINES). 0 with the indexes, or -1 when no roleset has both. */
int gw_pd_select(const gw_pd_pod *pods, int n, const gw_pd_params *p, uint64_t rnd, int *prefill,
                 int *decode, int *why);

/* ---------- the strategy's hand-over (strategies/pd.c) ---------- */

struct gw_router;
/* After a pick by the router's `pd` strategy (same lock hold): the prefill
 * engine it chose with the decode engine it returned, cleared; NULL when it
 * chose a combined pod or fell back, or the router has no pd state. */
gw_engine *gw_pd_take_prefill(struct gw_router *r);

/* ---------- the bodies (pure) ---------- */

/* The prefill leg's body from the client's (a JSON object). 0 with a
 * malloc'd *out, or -1 (not an object, out of memory). */
int gw_pd_prefill_body(const char *body, size_t len, char **out, size_t *outlen);
/* The decode leg's body: the client's with the prefill answer's
 * kv_transfer_params, remote_host set to prefill_host. 0 with a malloc'd
 * *out, or -1 with why in err (no params in the answer, ...). */
int gw_pd_decode_body(const char *body, size_t len, const char *resp, size_t rlen,
                      const char *prefill_host, char **out, size_t *outlen, char *err,
                      size_t errlen);

/* ---------- the prefill leg (one HTTP call, its answer collected) ---------- */

#define GW_PD_RESP_MAX (1u << 20) /* a prefill answer kept up to this */

/* err: 0 or a BX_HTTP_E* code; status 0 when none came; body the answer
 * (NUL-terminated, valid during the call). */
typedef void (*gw_pd_leg_cb)(int err, int status, const char *body, size_t len, void *ud);
typedef struct gw_pd_leg gw_pd_leg;
/* Sends r; cb runs exactly once, from the loop (also after a cancel, with
 * BX_HTTP_ECANCELED). 0 with *out, or -1 (nothing will be called). */
int gw_pd_leg_start(bx_http_client *cli, const bx_http_client_req *r, gw_pd_leg_cb cb, void *ud,
                    gw_pd_leg **out);
void gw_pd_leg_cancel(gw_pd_leg *l);
/* AIBRIX_PREFILL_REQUEST_TIMEOUT in ms (seconds in the variable), 30000. */
uint64_t gw_pd_prefill_timeout_ms(void);

#endif
