/* ctl_autoscale_int.h: the autoscaling controller's private state, shared
 * by its files (not for other modules). The files, bottom to top (each
 * calls only the ones above it in this list, never back):
 *   ctl_autoscale_metrics.c  pure: AIBrix's metric registry and the value
 *                            of a metric in a /metrics body (fuzzed);
 *   ctl_autoscale_status.c   conditions, the status written to the store,
 *                            the strategy state kept in it;
 *   ctl_autoscale_scrape.c   lookups, one autoscaler's windows, and its
 *                            round: scrape the Ready engines, then decide
 *                            and scale;
 *   ctl_autoscale.c          the API and the pass (a round for each
 *                            autoscaler on every tick, for the woken ones
 *                            on a kick).
 * The timers, the clock, events, change-only status writes, the HTTP
 * client and close are the controller skeleton's (ctl_ctrl).
 *
 * Layout:
 *   ctl_as_pod   one engine of the latest snapshot (ctl_as_pods), copied.
 *   ctl_as_dep   one scale target, by key (ctl_target.h: a Deployment's
 *                name, or Kind.group/name): its served model and replicas
 *                (ctl_as_set_current or our own decisions), whether
 *                anything told us about it, and why it cannot be scaled
 *                (ctl_as_target_error).
 *   ctl_as_pa    one PodAutoscaler: a copy of its manifest, the parsed
 *                as_spec, as_state, one as_window per metric, the scrape
 *                round in progress (ctl_as_rpod per Ready pod, values per
 *                metric) and its conditions.
 *   a GET in flight carries a ctl_as_scrctx: it names its autoscaler by id
 *   and round number, never by pointer, so autoscalers may be removed or
 *   re-applied meanwhile; a late answer is dropped.
 * A round ends when its last GET is done: totals go into the windows,
 * as_decide runs, status and events are written, and the scale callback
 * is called last (it may call back into this module). Counts are small on
 * one machine, so lookups are linear. */
#ifndef CTL_AUTOSCALE_INT_H
#define CTL_AUTOSCALE_INT_H

#include "autoscale/as_window.h"
#include "common/bx_prom_parse.h"
#include "common/bx_tz.h"
#include "ctl/ctl_autoscale.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_target.h"

#define CTL_AS_KIND "PodAutoscaler"
#define CTL_AS_HOST_MAX 64
#define CTL_AS_ERR_MAX 160
#define CTL_AS_MAX_FAILED_LISTED 16 /* pod names in status.scrape.failed */
#define CTL_AS_NCOND 6

typedef struct ctl_as_pod {
    char *name, *deployment, *model, *engine;
    char host[CTL_AS_HOST_MAX];
    int port;
    ctl_pod_phase phase;
} ctl_as_pod;

typedef struct ctl_as_dep {
    char name[CTL_TARGET_KEY_MAX]; /* the target's key (ctl_target.h) */
    char *model;                   /* NULL until known */
    int replicas;                  /* valid when set */
    int set;                       /* replicas known (set_current or our decision) */
    int err;                       /* the caller cannot scale it (ctl_as_target_error) */
    char err_reason[48];
    char err_msg[256];
} ctl_as_dep;

typedef struct ctl_as_rpod {
    char name[128];
    char engine[32];
    char host[CTL_AS_HOST_MAX];
    int port;
    double val[AS_MAX_METRICS];
    unsigned char ok[AS_MAX_METRICS];
    char err[CTL_AS_ERR_MAX]; /* first failure, for the warning */
} ctl_as_rpod;

typedef struct ctl_as_cond {
    char type[32];
    char status[8]; /* "True" / "False" */
    char reason[48];
    char message[256];
    int64_t since_ms; /* wall */
    int present;
} ctl_as_cond;

typedef struct ctl_as_pa {
    char name[CTL_NAME_MAX + 1];
    uint64_t id; /* apply order: the first claims a target */
    json_t *raw;
    int valid;
    char spec_err[512];
    as_spec spec;
    bx_tz *tz;                 /* spec.timezone, loaded when there are schedules */
    bx_tz *btz[AS_MAX_BOUNDS]; /* spec.scheduledBounds[i].timezone, loaded */
    as_bounds bounds;          /* the effective bounds at the last round (ctl_as_sched_now) */
    ctl_target tgt;            /* spec.scaleTargetRef and its key (valid specs) */
    as_state st;
    int64_t generation; /* of the object the state belongs to */
    as_window win[AS_MAX_METRICS];
    size_t nwin;
    uint32_t last_pods[AS_MAX_METRICS];
    /* round */
    int in_round;
    uint64_t round;
    int64_t round_now;
    unsigned pending;
    ctl_as_rpod *rp;
    size_t nrp;
    double gval[AS_MAX_METRICS];
    unsigned char gok[AS_MAX_METRICS];
    char gerr[AS_MAX_METRICS][CTL_AS_ERR_MAX];
    int woken;
    int conflict;
    /* reporting */
    int64_t last_warn_ms; /* loop time of the last FailedGetMetrics, -1 none */
    int64_t last_scale_wall_ms;
    ctl_as_cond cond[CTL_AS_NCOND];
    ctl_as_info info;
} ctl_as_pa;

/* What a GET in flight remembers (copied into the call). */
typedef struct ctl_as_scrctx {
    uint64_t pa_id, round;
    int pod;    /* index into the round's rp, or -1 for an endpoint source */
    int metric; /* endpoint source: its index */
    char path[AS_STR_LEN];
    char url[CTL_AS_HOST_MAX + AS_STR_LEN + 32];
} ctl_as_scrctx;

struct ctl_as {
    uv_loop_t *loop;
    ctl_objstore *store;
    ctl_ctrl *ctrl;
    ctl_as_cfg cfg;
    ctl_as_cbs cbs;
    void *ud;
    int closing;
    uint64_t next_id;
    ctl_as_pa **pas;
    size_t npas;
    ctl_as_pod *pods;
    size_t npods;
    ctl_as_dep *deps;
    size_t ndeps;
};

/* ---- ctl_autoscale_metrics.c ---- */
/* snprintf for messages that may be cut short (no truncation warning). */
void ctl_as_fmt(char *out, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
/* Sum (or mean) of the samples named name; 0, or -1 when none or not a
 * number. */
int ctl_as_doc_metric(const bx_prom_doc *doc, const char *name, int mean, double *out);
/* The engine's value of target (registry key or raw name). 0 or -1. */
int ctl_as_doc_value(const bx_prom_doc *doc, const char *target, const char *engine, double *out,
                     char *err, size_t errlen);
void ctl_as_prom_limits(bx_prom_limits *l);

/* ---- ctl_autoscale_status.c ---- */
void ctl_as_cond_set(ctl_as_pa *p, const char *type, int status, const char *reason,
                     const char *msg);
void ctl_as_cond_clear(ctl_as_pa *p, const char *type);
/* Ready from AbleToScale, ScalingActive and the conflict. */
void ctl_as_cond_ready(ctl_as_pa *p);
/* 0 and p->st restored from the stored status, or -1 (none, another
 * generation or version). */
int ctl_as_state_get(ctl_as *a, ctl_as_pa *p);
/* Writes st (stolen) with the strategy state when it changed. */
void ctl_as_status_write(ctl_as *a, ctl_as_pa *p, json_t *st);
/* Loads spec.scheduledBounds[i].timezone into zones[i] (AS_MAX_BOUNDS
 * slots; NULL: only checks that each zone loads). 0, or -1 with a message
 * naming the field (zones then all NULL). ctl_as_bounds_tz_free frees and
 * clears every slot. */
int ctl_as_bounds_tz_load(const as_spec *s, bx_tz **zones, char *err, size_t errlen);
void ctl_as_bounds_tz_free(bx_tz **zones);
/* The wall clock in the schedules' zone into in->local_* (when p has
 * schedules) and the effective bounds into p->bounds; logs a change of the
 * active schedule. in may be NULL. */
void ctl_as_sched_now(ctl_as *a, ctl_as_pa *p, as_input *in);
/* Status with conditions only (invalid spec, conflict, unknown target). */
void ctl_as_status_conditions_only(ctl_as *a, ctl_as_pa *p, const char *reason);
/* The status after a decision (new reference, NULL: out of memory). */
json_t *ctl_as_decision_status(ctl_as_pa *p, const as_decision *d, int32_t current, int32_t ready);
/* 1 when round pod i gave every pod metric. */
int ctl_as_pod_answered(const ctl_as_pa *p, size_t i);

/* ---- ctl_autoscale_scrape.c ---- */
ctl_as_pa *ctl_as_pa_find(const ctl_as *a, const char *name);
ctl_as_pa *ctl_as_pa_by_id(const ctl_as *a, uint64_t id);
ctl_as_dep *ctl_as_dep_get(ctl_as *a, const char *name); /* NULL: out of memory */
ctl_as_dep *ctl_as_dep_find(const ctl_as *a, const char *name);
/* host and port of "http://host:port/...", port falling back to def. */
void ctl_as_url_split(const char *url, int def_port, char *host, size_t hlen, int *port);
void ctl_as_round_drop(ctl_as_pa *p);
int ctl_as_windows_init(const ctl_as *a, ctl_as_pa *p);
void ctl_as_windows_close(ctl_as_pa *p);
void ctl_as_pa_free(ctl_as_pa *p);
/* Gathers the Ready pods of the target and starts every GET; a round that
 * needs none finishes at once. */
void ctl_as_round_start(ctl_as *a, ctl_as_pa *p);

#endif
