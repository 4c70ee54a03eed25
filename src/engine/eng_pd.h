/* eng_pd: the engine's part in prefill/decode disaggregation, playing
 * vLLM's NixlConnector roles (--kv-transfer-config, eng_kvxfer.h):
 *
 *  - prefill (kv_producer or kv_both): a non-streamed request whose
 *    kv_transfer_params has do_remote_decode answers one token and
 *    kv_transfer_params for the decode engine (do_remote_prefill,
 *    remote_engine_id, remote_host, remote_port, remote_request_id,
 *    remote_block_ids, tp_size). The request's GPU blocks stay pinned (held,
 *    not evictable) until a decode engine pulls them or --kv-pin-timeout
 *    (vLLM's VLLM_NIXL_ABORT_REQUEST_TIMEOUT, 480 s) passes; at most
 *    ENG_KVPINS_MAX are kept, the oldest dropped beyond.
 *  - decode (kv_consumer or kv_both): a request with do_remote_prefill
 *    pulls the KV: POST http://remote_host:remote_port/brix/kv/pull (the
 *    side channel; NIXL's is a separate port, here it is the engine's HTTP
 *    port), which the prefill engine answers with the pinned prompt's token
 *    count, releasing the pin, or 404 when it no longer holds it (expired,
 *    dropped, engine restarted: remote_engine_id differs). The bytes
 *    (tokens x the profile's KV bytes per token) then cross the modelled
 *    link (eng_kvlink: --kv-link-gbps, --kv-link-latency-us), and the
 *    request enters the scheduler with all but its last prompt token
 *    computed, as vLLM's connector loads them. Other requests keep decoding
 *    meanwhile (vLLM's WAITING_FOR_REMOTE_KVS).
 *  - a failed pull: kv_load_failure_policy "fail" (the default) answers 503
 *    with the reason; "recompute" prefills locally instead (counted).
 *
 * Counters in /metrics: brix:kv_transfer_*. Private to the engine server's
 * files (eng_server_int.h types). */
#ifndef ENG_PD_H
#define ENG_PD_H

#include <stddef.h>

#include "common/bx_buf.h"
#include "common/bx_http.h"

typedef struct eng_server eng_server;
typedef struct eng_call eng_call;
typedef struct eng_seq eng_seq;
typedef struct eng_pd eng_pd;

/* With --kv-transfer-config: parses it and makes s->pd. 0, or -1 with err. */
/* What eng_pd calls back in the server's step-loop files, given at open so
 * that it never calls into eng_core.c or eng_generate.c (which call it). */
typedef struct eng_pd_hooks {
    void (*enter_sched)(eng_call *c);   /* a request whose KV is in: to the scheduler */
    void (*call_release)(eng_call *c);  /* drops a reference on a call */
    void (*kick)(eng_server *s);        /* wakes the step loop */
    double (*now)(const eng_server *s); /* the simulated clock (eng_now) */
} eng_pd_hooks;

int eng_pd_open(eng_server *s, const eng_pd_hooks *hooks, char *err, size_t errlen);
void eng_pd_close(eng_server *s); /* its handles close on the loop */
/* Reads c->req's kv_transfer_params (c is parsed and validated): sets c's
 * P/D mode (a prefill is capped to one token). 0, or -1 with a 400
 * message in err. Params without a matching role are ignored, as vLLM
 * without a connector does. */
int eng_pd_request(eng_server *s, eng_call *c, char *err, size_t errlen);
/* Before a call enters the scheduler: a decode pulls its KV first and
 * enters through hooks.enter_sched once it is in (1); 0 when c is not a
 * decode of this engine's (the caller enters it itself). */
int eng_pd_enter(eng_call *c);
/* From on_finish, before the answer is written: a finished prefill pins
 * q's blocks and keeps its kv_transfer_params JSON in c->kvx_json. */
void eng_pd_finished(eng_server *s, eng_call *c, eng_seq *q, int ok, double now);
/* From eng_call_release: detaches a pull in flight, frees c->kvx_json. */
void eng_pd_call_release(eng_call *c);
/* POST /brix/kv/pull. */
void eng_pd_handle_pull(eng_server *s, bx_http_req *hr, bx_http_res *res);
/* The brix:kv_transfer_* lines (nothing without --kv-transfer-config). */
int eng_pd_render(eng_server *s, bx_buf *b);

#endif
