/* gw_gateway_int: what the gateway's files share (private to
 * src/gateway/gw_gateway.c, gw_proxy.c, gw_metrics.c): the gateway struct
 * and the calls between its parts. Not a public API. */
#ifndef GW_GATEWAY_INT_H
#define GW_GATEWAY_INT_H

#include <stdint.h>
#include <uv.h>

#include "common/bx_blockhash.h"
#include "common/bx_http.h"
#include "gateway/gw_config.h"
#include "gateway/gw_engine.h"
#include "gateway/gw_gateway.h"
#include "gateway/gw_metrics.h"
#include "gateway/gw_req.h"
#include "gateway/gw_router.h"
#include "gateway/gw_session.h"

typedef struct gw_call gw_call;

enum { GW_ADMIT_OK = 0, GW_ADMIT_RPM, GW_ADMIT_TPM, GW_ADMIT_UNAVAILABLE, GW_ADMIT_UNKNOWN };

typedef struct gw_stats {
    uint64_t retries, breaker_opens;
    uint64_t rl_rejected_rpm, rl_rejected_tpm, rl_errors;
} gw_stats;

struct gw_gateway {
    uv_loop_t *loop;
    gw_config cfg;
    gw_registry reg;
    int reg_ok;
    gw_router router;
    int router_ok;
    bx_http_server *http;
    bx_http_client *client;
    int port;
    bx_blockhash hash_root;
    gw_call *calls;
    uint64_t next_id, id_salt, rng;
    gw_stats stats;
    gw_metrics *metrics;
    void *limits;    /* gw_ratelimit, when --redis is set */
    void *discovery; /* gw_disc */
    void *scraper;   /* gw_scrape */
    gw_hold_hooks hold;
    uv_timer_t hold_timer; /* re-tries held requests while any is held */
    int hold_timer_on, hold_timer_init;
    struct {
        char model[GW_NAME_MAX];
        const gw_strategy *s;
    } model_strategy[GW_MAX_MODEL_STRATEGIES];
    int nmodel_strategy;
};

uint64_t gw_next_random(gw_gateway *g);

/* gw_proxy.c */
void gw_proxy_handle(gw_gateway *g, bx_http_req *hr, bx_http_res *res, gw_api api);
void gw_proxy_admitted(gw_call *c, int verdict, int retry_after_s);
void gw_proxy_cancel_all(gw_gateway *g);
/* Sends held requests whose model has a ready engine now. */
void gw_proxy_retry_held(gw_gateway *g);
int gw_proxy_held(gw_gateway *g, const char *model);
/* gw_gateway.c: runs gw_proxy_retry_held every 100 ms while requests are held */
void gw_gateway_hold_timer(gw_gateway *g);
gw_gateway *gw_call_gateway(const gw_call *c);

/* gw_gateway.c: the rate-limit glue (admits at once without Redis) */
void gw_limits_check(gw_gateway *g, gw_call *c, const char *user);
void gw_limits_account(gw_gateway *g, const char *user, int64_t total_tokens);

/* metrics shorthands (gw_metrics.c) */
void gw_metrics_request_done(gw_gateway *g, const char *model, const char *strategy,
                             const char *engine, int status, double ttft_s);
void gw_metrics_decision(gw_gateway *g, double seconds);

#endif
