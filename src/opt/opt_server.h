/* opt_server: the pure parts of the optimizer's HTTP service (ctl_gpuopt
 * runs it on the loop; docs/hetero.md, "Optimizer service"):
 *   - routes: AIBrix's gpu optimizer's paths (app.py) and brix's, parsed
 *     from a method and a path into a route (opt_server_route);
 *   - the replicas metric's text, exactly AIBrix's (HELP, TYPE, sample);
 *   - the gateway's /brix/load envelope
 *     {"model":"M","windows":[{"ts":T,"trace":{...AIBrix value...}},...]}
 *     parsed into windows (opt_trace_parse for each value; fuzzed:
 *     fuzz/fuzz_opt_load.c);
 *   - PUT /scale's body {"replicas": n};
 *   - which Deployment a profile describes (its gpu: the name, or ns/name).
 *
 * Pure: no I/O, no allocation but jansson's inside the parsers (freed
 * before they return). Strings are copied into fixed fields. */
#ifndef OPT_SERVER_H
#define OPT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "opt/opt_trace.h"

#define OPT_SERVER_NS_MAX 64     /* a namespace: a DNS-1123 label */
#define OPT_SERVER_NAME_MAX 254  /* a Deployment: a DNS-1123 subdomain */
#define OPT_SERVER_MODEL_MAX 256 /* a model name, as the label carries it */
#define OPT_SERVER_METRIC "vllm:deployment_replicas"

typedef enum opt_server_route_kind {
    OPT_SERVER_NOT_FOUND = 0,
    OPT_SERVER_BAD_METHOD,     /* path known, method not: r->allow says which */
    OPT_SERVER_HEALTH,         /* GET /healthz */
    OPT_SERVER_METRICS,        /* GET /metrics/<ns>/<deployment> */
    OPT_SERVER_ASSIGNMENT,     /* GET /assignment/<model> */
    OPT_SERVER_STATUS,         /* GET /status */
    OPT_SERVER_SCALE,          /* PUT /scale/<ns>/<dep> {"replicas": n}; AIBrix's
                                  POST /scale/<ns>/<dep>/<n> (has_replicas) */
    OPT_SERVER_MONITOR_ADD,    /* POST /monitor/<ns>/<deployment> */
    OPT_SERVER_MONITOR_DEL,    /* DELETE /monitor/<ns>/<deployment> */
    OPT_SERVER_UPDATE_PROFILE, /* GET /update_profile/<model> */
} opt_server_route_kind;

typedef struct opt_server_route {
    opt_server_route_kind kind;
    char ns[OPT_SERVER_NS_MAX];
    char name[OPT_SERVER_NAME_MAX];
    char model[OPT_SERVER_MODEL_MAX];
    int has_replicas; /* the replicas came in the path */
    int64_t replicas;
    const char *allow; /* BAD_METHOD: the methods the path takes ("GET") */
} opt_server_route;

/* Fills r from method and path (no query). Names: ns a DNS-1123 label,
 * the deployment a DNS-1123 subdomain (else NOT_FOUND); a model is the
 * rest of the path (1..255 bytes of visible ASCII, '/' allowed). Returns
 * r->kind. */
opt_server_route_kind opt_server_route_parse(const char *method, const char *path,
                                             opt_server_route *r);

/* 1 when the route is served without a key: GET /healthz, GET
 * /metrics/... (what a PodAutoscaler scrapes, without credentials, as
 * AIBrix's does; the value is a replica count) and GET /assignment/...
 * (what the gateway's slo routing reads, without credentials: the gateway
 * keeps only its keys' digests; the value is the mix's shares). */
int opt_server_route_public(opt_server_route_kind k);

/* AIBrix's metric text for model and units (1/100 replicas), with # HELP
 * and # TYPE lines and the model escaped as a label value. The length
 * written, or -1 when it does not fit. */
int opt_server_metric_text(const char *model, int64_t units, char *buf, size_t len);

/* Parses a /brix/load answer. model (may be NULL) must equal the
 * envelope's; windows are written to out[0..max) in the envelope's order,
 * *n their count (windows beyond max are an error, as is a ts not a
 * multiple of 10, negative, or repeated). 0, or -1 with a message. */
int opt_server_load_parse(const char *json, size_t len, const char *model, opt_trace *out, int max,
                          int *n, char *err, size_t errlen);

/* {"replicas": n}, n an integer >= -1 (-1: clear the model's overrides).
 * 0, or -1 with a message. */
int opt_server_scale_body(const char *body, size_t len, int64_t *replicas, char *err,
                          size_t errlen);

/* 1 when a profile whose gpu field is `gpu` describes Deployment ns/name:
 * gpu equals name or "ns/name" (AIBrix's rule). */
int opt_server_profile_matches(const char *gpu, const char *ns, const char *name);

#endif
