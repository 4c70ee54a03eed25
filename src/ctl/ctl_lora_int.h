/* ctl_lora_int.h: the ModelAdapter controller's private state, shared by
 * its files (not for other modules). The files, bottom to top (each calls
 * only the ones above it in this list, never back):
 *   ctl_lora_parse.c   pure helpers over engine answers (fuzzed) and name
 *                      lists;
 *   ctl_lora_state.c   lookups of adapters, engines and per-engine states,
 *                      candidacy, backoff, frees;
 *   ctl_lora_status.c  conditions and the status written to the store;
 *   ctl_lora_engine.c  engine calls (list, metrics, load, unload) and
 *                      artifact resolution on the thread pool;
 *   ctl_lora.c         the API, the pass (placement and reconcile) and the
 *                      routing report.
 * The timer, the clock, events, change-only status writes, the HTTP client
 * and close are the controller skeleton's (ctl_ctrl).
 *
 * Layout:
 *   ctl_lora_pod  one engine we saw in ctl_lora_pods: its identity,
 *                 readiness, the adapters its last GET /v1/models listed,
 *                 its capacity, and the routing set last reported through
 *                 on_adapters.
 *   ctl_lora_ad   one adapter: a private copy of its object, the
 *                 artifact's state, and per engine a ctl_lora_lst (IDLE,
 *                 LOADING, CONFIRMING, LOADED, UNLOADING, FAILED) with its
 *                 retry count and next try.
 *   an engine call carries a ctl_lora_opctx: it names its adapter and
 *   engine by name plus a sequence number, never by pointer, so engines
 *   and adapters may vanish meanwhile.
 * Pods are found by bisection (a cluster has thousands); adapters and
 * per-engine states are few, so their lookups are linear. */
#ifndef CTL_LORA_INT_H
#define CTL_LORA_INT_H

#include "ctl/ctl_artifact.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_lora.h"

#define CTL_LORA_KIND "ModelAdapter"
#define CTL_LORA_ERR_MAX 256
#define CTL_LORA_HOST_MAX 128
#define CTL_LORA_BODY_KEEP 4096 /* of a failure reply, as AIBrix */
#define CTL_LORA_POD_MAX 128

enum ctl_lora_ls {
    CTL_LORA_LS_IDLE = 0,
    CTL_LORA_LS_LOADING,
    CTL_LORA_LS_CONFIRMING,
    CTL_LORA_LS_LOADED,
    CTL_LORA_LS_UNLOADING,
    CTL_LORA_LS_FAILED
};
enum ctl_lora_art {
    CTL_LORA_ART_NONE = 0,
    CTL_LORA_ART_RESOLVING,
    CTL_LORA_ART_OK,
    CTL_LORA_ART_FAILED
};
enum ctl_lora_op { CTL_LORA_OP_LOAD, CTL_LORA_OP_UNLOAD, CTL_LORA_OP_LIST, CTL_LORA_OP_METRICS };

/* One adapter on one engine. */
typedef struct ctl_lora_lst {
    char pod[CTL_LORA_POD_MAX];
    enum ctl_lora_ls st;
    unsigned fails;
    uint64_t retry_at;    /* FAILED: loop ms of the next try (CTL_CTRL_NEVER: given up) */
    uint64_t op_seq;      /* the call in flight for this state */
    uint64_t since_probe; /* list results from probes started before this are stale */
    int reload;           /* UNLOADING because the artifact changed */
    int unloaded;         /* removal: our unload call came back (best effort, once) */
    uint64_t art_seq;     /* the artifact resolution the load used */
    char err[CTL_LORA_ERR_MAX];
} ctl_lora_lst;

typedef struct ctl_lora_ad {
    char name[CTL_NAME_MAX + 1];
    ctl_obj *obj; /* private copy */
    int removing;
    enum ctl_lora_art art;
    uint64_t art_seq;
    unsigned art_fails;
    uint64_t art_retry_at;
    char lora_path[CTL_ARTIFACT_PATH_MAX];
    char art_err[CTL_LORA_ERR_MAX];
    ctl_lora_lst *st;
    size_t nst, capst;
    json_t *conds; /* {type: condition object}, kept for lastTransitionTime */
    /* 0 until its first status is written: see ctl_lora_settling */
    int settled;
} ctl_lora_ad;

typedef struct ctl_lora_pod {
    char name[CTL_LORA_POD_MAX];
    char host[CTL_LORA_HOST_MAX];
    int port;
    char *model;
    json_t *labels;
    ctl_pod_phase phase;
    int64_t ready_since_ms;
    int pid, restarts;
    /* the engine's key (ctl_podview.api_key), "" = none: sent on every call
     * to it unless the ModelAdapter gives its own (additionalConfig api-key) */
    char api_key[CTL_API_KEY_MAX];
    int seen; /* in the latest snapshot */
    /* listing: valid for the current incarnation only */
    int listed;
    char **models; /* adapters the engine listed */
    size_t nmodels;
    uint64_t probe_started; /* probes started (sequence) */
    uint64_t probe_inflight;
    int probe_again;
    uint64_t probe_at;
    int metrics_done, metrics_inflight;
    unsigned max_loras;
    uint64_t inc; /* incarnation: bumped when the engine restarted */
    /* routing set last reported */
    char **reported;
    size_t nreported;
} ctl_lora_pod;

/* What an engine call remembers (copied into the call). */
typedef struct ctl_lora_opctx {
    enum ctl_lora_op kind;
    char ad[CTL_NAME_MAX + 1];
    char pod[CTL_LORA_POD_MAX];
    uint64_t seq; /* op_seq (load/unload) or probe sequence (list) */
    uint64_t inc;
} ctl_lora_opctx;

struct ctl_lora {
    uv_loop_t *loop;
    ctl_ctrl *ctrl;
    ctl_lora_cfg cfg;
    ctl_lora_cbs cbs;
    void *ud;
    int closing;
    uint64_t seq;
    ctl_lora_ad **ads;
    size_t nads, capads;
    ctl_lora_pod **pods;
    size_t npods, cappods;
    ctl_lora_stats stats;
    int pods_given; /* ctl_lora_pods was called at least once */
};

/* ---- ctl_lora_parse.c ---- */
int ctl_lora_cmp_str(const void *a, const void *b); /* qsort of char * */
int ctl_lora_names_has(char *const *names, size_t n, const char *s);

/* ---- ctl_lora_state.c ---- */
/* Grows *arr (elements of size sz) to hold at least need. 0 or -1. */
int ctl_lora_grow(void **arr, size_t *cap, size_t need, size_t sz);
ctl_lora_ad *ctl_lora_ad_find(const ctl_lora *c, const char *name);
/* c->pods is kept sorted by name (ctl_lora_pod_cmp): lookups bisect, so
 * a snapshot of thousands of pods costs n log n, not n^2. */
int ctl_lora_pod_cmp(const void *a, const void *b); /* qsort of ctl_lora_pod * */
ctl_lora_pod *ctl_lora_pod_find_in(ctl_lora_pod *const *pods, size_t n, const char *name);
ctl_lora_pod *ctl_lora_pod_find(const ctl_lora *c, const char *name);
ctl_lora_lst *ctl_lora_st_find(ctl_lora_ad *a, const char *pod);
ctl_lora_lst *ctl_lora_st_get(ctl_lora_ad *a, const char *pod); /* NULL: out of memory */
void ctl_lora_st_drop(ctl_lora_ad *a, ctl_lora_lst *s);
int ctl_lora_pod_lists(const ctl_lora_pod *p, const char *ad);
void ctl_lora_pod_models_del(ctl_lora_pod *p, const char *ad);
void ctl_lora_pod_models_add(ctl_lora_pod *p, const char *ad);
/* 1 when p serves a's base model and matches its podSelector. */
int ctl_lora_pod_candidate(const ctl_lora_ad *a, const ctl_lora_pod *p);
/* 1 while a's first status would come from partial knowledge: no pod list
 * was given yet, its artifact's first resolution is pending, or a Ready
 * candidate's first GET /v1/models is in flight. */
int ctl_lora_settling(const ctl_lora *c, const ctl_lora_ad *a);
/* Adapters counted as loaded on p: listed plus our loads in flight. */
unsigned ctl_lora_pod_loaded(const ctl_lora *c, const ctl_lora_pod *p);
uint64_t ctl_lora_backoff_ms(const ctl_lora *c, unsigned fails);
void ctl_lora_ad_free(ctl_lora_ad *a);
void ctl_lora_pod_free(ctl_lora_pod *p);

/* ---- ctl_lora_status.c ---- */
/* What a pass saw of one adapter, for its status. */
typedef struct ctl_lora_view {
    size_t candidates, desired, inflight, failed, exhausted, full, probed;
    const char **inst;
    size_t ninst;
    char lasterr[CTL_LORA_ERR_MAX + 140];
} ctl_lora_view;
void ctl_lora_status_write(ctl_lora *c, ctl_lora_ad *a, const ctl_lora_view *v);
/* Takes the conditions of the status stored for a (written before a
 * restart or by the previous leader) so their lastTransitionTime holds. */
void ctl_lora_conds_seed(ctl_lora *c, ctl_lora_ad *a);

/* ---- ctl_lora_engine.c ---- */
void ctl_lora_probe_start(ctl_lora *c, ctl_lora_pod *p);
void ctl_lora_metrics_start(ctl_lora *c, ctl_lora_pod *p);
/* first: record a Scheduled event. */
void ctl_lora_load_start(ctl_lora *c, ctl_lora_ad *a, ctl_lora_lst *s, const ctl_lora_pod *p,
                         int first);
void ctl_lora_unload_start(ctl_lora *c, ctl_lora_ad *a, ctl_lora_lst *s, const ctl_lora_pod *p,
                           int reload);
void ctl_lora_art_start(ctl_lora *c, ctl_lora_ad *a);

#endif
