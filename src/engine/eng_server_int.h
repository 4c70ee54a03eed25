/* eng_server_int: what the engine server's files share (private to
 * src/engine/eng_server*.c and eng_generate.c, eng_endpoints.c): the server and
 * per-request structs and the helpers each file uses. Not a public API. */
#ifndef ENG_SERVER_INT_H
#define ENG_SERVER_INT_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_buf.h"
#include "common/bx_http.h"
#include "common/bx_queue.h"
#include "common/bx_reply.h"
#include "engine/eng_config.h"
#include "engine/eng_group.h"
#include "engine/eng_kvpub.h"
#include "engine/eng_metrics.h"
#include "engine/eng_kvxfer.h"
#include "engine/eng_offload.h"
#include "engine/eng_pd.h"
#include "engine/eng_req.h"
#include "engine/eng_sched.h"
#include "engine/eng_server.h"
#include "engine/eng_timing.h"
#include "engine/eng_waker.h"

#define ENG_NWORDS 64

typedef struct eng_call eng_call;

struct eng_server {
    uv_loop_t *loop;
    eng_config cfg;
    const eng_profile *prof; /* &prof_buf */
    eng_profile prof_buf;    /* the --profile rescaled to the parallel layout */
    eng_group *group;        /* owned; NULL: not part of a multi-node replica */
    int exit_status;         /* what eng_main returns (1: a worker lost its leader) */
    char served[256];
    int32_t max_model_len;
    double lora_load_s;
    double price_h; /* $ per replica-hour: --price-per-hour, else eng_timing_price */
    bx_http_server *http;
    int port;
    eng_sched sched;
    int sched_ok;
    eng_offload *offload; /* --kv-offload's, owned; its hooks are in sched; NULL without */
    eng_pd *pd;           /* --kv-transfer-config's, owned (eng_pd.h); NULL without */
    eng_metrics *metrics;
    eng_kvpub kvpub;
    int kv_on;
    uv_poll_t kv_poll;
    int kv_poll_on;
    eng_waker step_waker; /* ends the step in flight */
    uint64_t wall0_ns;
    double step_end;
    int stepping;
    uint64_t rng;
    uint64_t next_id;
    int64_t tokens_emitted;
    int32_t frontend_pending; /* requests in their API-overhead delay */
    uint32_t word_ids[ENG_NWORDS];
    bx_buf scratch; /* reused for chunks */
    /* 10-second window for the V0 throughput gauges */
    double win_start;
    uint64_t win_prompt0, win_gen0;
    double prompt_tps, gen_tps;
    bx_queue calls; /* eng_call.node: every live call, for shutdown */
};

struct eng_call {
    eng_server *srv;
    bx_queue node; /* in srv->calls */
    bx_http_res *res;
    eng_seq *seq;
    eng_req req;
    uv_timer_t timer;
    int timer_on;
    int in_frontend;
    char id[48];
    char model[256];
    int64_t created;
    double arrival;
    int lora;
    int32_t prompt_tokens, completion_tokens, cached_tokens;
    int32_t max_tokens, max_tokens_param, stop_after;
    int stream_started;
    int last_word;
    double last_token_ts;
    uint64_t text_seed;
    bx_buf text; /* non-streaming answer */
    /* prefill/decode disaggregation (eng_pd.h) */
    int pd_mode;                 /* ENG_PD_* */
    eng_kvxfer_params pd_params; /* a decode's (strings in req.root) */
    struct eng_pd_pull *pd_pull; /* the pull in flight, NULL when none */
    int32_t pd_remote_tokens;    /* pulled: the sequence starts with them computed */
    char *kvx_json;              /* a prefill's answer's kv_transfer_params, owned */
};

enum { ENG_PD_NONE = 0, ENG_PD_PREFILL, ENG_PD_DECODE };

/* eng_core.c: the leaf the other engine files use */
double eng_now(const eng_server *s);
double eng_wall_elapsed(const eng_server *s);
double eng_unix_now(void);
double eng_uniform(uint64_t *x);
double eng_gauss(uint64_t *x);
eng_call *eng_call_new(eng_server *s, bx_http_res *res);
void eng_call_release(eng_call *c);
void eng_kick(eng_server *s);
void eng_kv_flush(eng_server *s);
int eng_resolve_model(eng_server *s, const char *model, int *lora);
int eng_name_ok(const char *n);
/* The step loop's waker callback (armed by eng_kick), and the scheduler's
 * KV hooks (blocks stored in / removed from the prefix cache: KV events,
 * offloading); eng_server_init registers them. */
void eng_step_timer_cb(eng_waker *w);
void eng_on_stored(eng_seq *q, int32_t first, int32_t n, void *ud);
void eng_on_removed(uint64_t key, void *ud);

/* eng_generate.c: completions and chat, streaming, scheduler callbacks */
void eng_generate_init(eng_server *s);
void eng_handle_generate(eng_server *s, bx_http_req *hr, bx_http_res *res, enum eng_api api);
uint32_t eng_gen_token(eng_seq *q, int32_t i, void *ud);
void eng_on_token(eng_seq *q, uint32_t id, double now, void *ud);
void eng_on_finish(eng_seq *q, enum eng_finish why, double now, void *ud);
/* The call enters the scheduler (its sequence is made); on failure it is
 * answered 500 and released. */
void eng_enter_sched(eng_call *c);
/* Fails every request in flight with msg (the group failed): 503 JSON, or
 * an SSE error event and [DONE] on a stream already started. Returns how
 * many. */
int eng_generate_fail_all(eng_server *s, const char *msg);

/* eng_endpoints.c: the other routes */
void eng_handle_embeddings(eng_server *s, bx_http_req *hr, bx_http_res *res);
void eng_handle_tokenize(eng_server *s, bx_http_req *hr, bx_http_res *res);
void eng_handle_models(eng_server *s, bx_http_res *res);
void eng_handle_lora(eng_server *s, bx_http_req *hr, bx_http_res *res, int load);
void eng_handle_metrics(eng_server *s, bx_http_res *res);

#endif
