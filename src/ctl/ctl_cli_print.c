/* ctl_cli_print: the tables of `brix get` (ctl_cli_print_table), one row
 * printer per kind, columns as kubectl prints its own kinds and as the
 * CRDs' additionalPrinterColumns define AIBrix's (deploy/crds). A pure
 * function of the API's JSON and a clock value, so tests check it byte for
 * byte (tests/unit/test_ctl_api.c) and fuzz/fuzz_ctl_cli_print.c feeds it
 * any JSON. Each row printer fills the cells of the wide row; the table
 * keeps the narrow ones without -o wide, puts the NAMESPACE column first
 * with -A and the kind before the name in `get all`. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"
#include "ctl/ctl_obj.h"

#define ROW_MAX 12

/* Cells of one row: c[] points at literals, into the JSON or into buf. */
typedef struct ctl_cli_row {
    const char *c[ROW_MAX];
    char buf[8][CTL_CLI_CELL_MAX];
} ctl_cli_row;

static const char *ctl_cli_meta(const json_t *o, const char *k)
{
    return ctl_cli_jstr(ctl_cli_jget(o, "metadata", k, NULL), "");
}

static void ctl_cli_row_deployment(ctl_cli_row *r, const json_t *o, int models, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    const json_t *rep = ctl_cli_jget(o, "spec", "replicas", NULL);
    long long desired = json_is_integer(rep) ? (long long)json_integer_value(rep) : 1;
    char n[24];
    snprintf(r->buf[0], sizeof(r->buf[0]), "%s/%lld",
             ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", n, sizeof(n)), desired);
    const char *u = ctl_cli_jnum(json_object_get(st, "updatedReplicas"), "0", r->buf[1], 24);
    const char *a = ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", r->buf[2], 24);
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[3], 24);
    const char *engine =
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "labels", CTL_LABEL_ENGINE, NULL), "vllm");
    const char *strat = ctl_cli_jstr(
        ctl_cli_jget(o, "metadata", "annotations", CTL_ANN_ROUTING_STRATEGY, NULL), "<default>");
    const char *model = ctl_cli_deployment_model(o);
    const char *name = ctl_cli_meta(o, "name");
    if (models) {
        const char *c[] = {name, model, r->buf[0], u, a, r->buf[3], engine, strat};
        memcpy(r->c, c, sizeof(c));
    } else {
        const char *c[] = {name, r->buf[0], u, a, r->buf[3], model, engine, strat};
        memcpy(r->c, c, sizeof(c));
    }
}

/* ModelAdapter: AIBrix's printer columns (Phase, Desired, Ready,
 * Candidates, Model Path, Age), then brix's (BASE, INSTANCES, REPLICAS,
 * SCHEDULER). */
static void ctl_cli_row_adapter(ctl_cli_row *r, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    ctl_cli_join_strings(json_object_get(st, "instances"), r->buf[0], sizeof(r->buf[0]));
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[1], 24);
    const char *c[] = {
        ctl_cli_meta(o, "name"),
        ctl_cli_jstr(json_object_get(st, "phase"), "<none>"),
        ctl_cli_jnum(json_object_get(st, "desiredReplicas"), "<none>", r->buf[2], 24),
        ctl_cli_jnum(json_object_get(st, "readyReplicas"), "<none>", r->buf[3], 24),
        ctl_cli_jnum(json_object_get(st, "candidates"), "<none>", r->buf[4], 24),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "artifactURL", NULL), "<none>"),
        r->buf[1],
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "baseModel", NULL), "<none>"),
        r->buf[0],
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "replicas", NULL), "all", r->buf[5], 24),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "schedulerName", NULL), "default"),
    };
    memcpy(r->c, c, sizeof(c));
}

static void ctl_cli_first_metric(const json_t *o, char *buf, size_t len)
{
    const json_t *m = json_array_get(ctl_cli_jget(o, "spec", "metricsSources", NULL), 0);
    char v[32];
    if (!m) {
        snprintf(buf, len, "<none>");
        return;
    }
    snprintf(buf, len, "%s=%s", ctl_cli_jstr(json_object_get(m, "targetMetric"), "?"),
             ctl_cli_jnum(json_object_get(m, "targetValue"), "?", v, sizeof(v)));
}

/* PodAutoscaler: AIBrix's printer columns (MINPODS, MAXPODS, REPLICAS,
 * STRATEGY, AGE), then brix's (TARGET, METRIC, DESIRED, LAST-SCALE). */
static void ctl_cli_row_autoscaler(ctl_cli_row *r, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[0], 24);
    snprintf(r->buf[1], sizeof(r->buf[1]), "%s/%s",
             ctl_cli_jstr(ctl_cli_jget(o, "spec", "scaleTargetRef", "kind", NULL), "?"),
             ctl_cli_jstr(ctl_cli_jget(o, "spec", "scaleTargetRef", "name", NULL), "?"));
    ctl_cli_first_metric(o, r->buf[2], sizeof(r->buf[2]));
    if (json_object_get(st, "lastScaleTime"))
        ctl_cli_age_of(json_object_get(st, "lastScaleTime"), now, r->buf[3], 24);
    else
        snprintf(r->buf[3], 24, "<none>");
    const char *c[] = {
        ctl_cli_meta(o, "name"),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "minReplicas", NULL), "1", r->buf[4], 24),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "maxReplicas", NULL), "<none>", r->buf[5], 24),
        ctl_cli_jnum(json_object_get(st, "actualScale"), "<none>", r->buf[6], 24),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "scalingStrategy", NULL), "<none>"),
        r->buf[0],
        r->buf[1],
        r->buf[2],
        ctl_cli_jnum(json_object_get(st, "desiredScale"), "<none>", r->buf[7], 24),
        r->buf[3],
    };
    memcpy(r->c, c, sizeof(c));
}

/* Pods: kubectl's NAME READY STATUS RESTARTS AGE, then brix's. */
static void ctl_cli_row_pod(ctl_cli_row *r, const json_t *p, int64_t now)
{
    ctl_cli_pod_row pr;
    ctl_cli_pod_row_fill(&pr, p, "<none>", now);
    snprintf(r->buf[0], 24, "%s", pr.restarts);
    snprintf(r->buf[1], 24, "%s", pr.age);
    snprintf(r->buf[2], 24, "%s", pr.port);
    snprintf(r->buf[3], 24, "%s", pr.pid);
    const char *c[] = {
        pr.name,
        pr.ready,
        ctl_cli_jstr(json_object_get(p, "status"), pr.phase),
        r->buf[0],
        r->buf[1],
        ctl_cli_jstr(json_object_get(p, "deployment"), "<none>"),
        pr.phase,
        r->buf[2],
        r->buf[3],
        ctl_cli_jstr(json_object_get(p, "model"), "<none>"),
        ctl_cli_jstr(json_object_get(p, "url"), "<none>"),
    };
    memcpy(r->c, c, sizeof(c));
}

static void ctl_cli_row_event(ctl_cli_row *r, const json_t *e, int64_t now)
{
    ctl_cli_age_of(json_object_get(e, "lastTimestamp"), now, r->buf[0], 24);
    snprintf(r->buf[1], sizeof(r->buf[1]), "%s/%s",
             ctl_cli_kind_lower(ctl_cli_jstr(ctl_cli_jget(e, "involvedObject", "kind", NULL), "")),
             ctl_cli_jstr(ctl_cli_jget(e, "involvedObject", "name", NULL), ""));
    const char *c[] = {
        r->buf[0],
        ctl_cli_jstr(json_object_get(e, "type"), ""),
        ctl_cli_jstr(json_object_get(e, "reason"), ""),
        r->buf[1],
        ctl_cli_jnum(json_object_get(e, "count"), "1", r->buf[2], 24),
        ctl_cli_jstr(json_object_get(e, "message"), ""),
    };
    memcpy(r->c, c, sizeof(c));
}

/* A Service: its gateway endpoint and models (the API's status), and its
 * ports as kubectl writes them (80/TCP,443:8443/TCP). */
static void ctl_cli_row_service(ctl_cli_row *r, const json_t *o, int64_t now)
{
    char *models = r->buf[0], *ports = r->buf[1], *age = r->buf[2];
    size_t plen = sizeof(r->buf[1]);
    const json_t *st = json_object_get(o, "status");
    ctl_cli_join_strings(json_object_get(st, "models"), models, sizeof(r->buf[0]));
    ports[0] = 0;
    size_t i, used = 0;
    const json_t *p;
    json_array_foreach(ctl_cli_jget(o, "spec", "ports", NULL), i, p)
    {
        char a[24], b[24];
        const char *port = ctl_cli_jnum(json_object_get(p, "port"), "?", a, sizeof(a));
        const char *tgt = ctl_cli_jnum(json_object_get(p, "targetPort"), NULL, b, sizeof(b));
        if (!tgt) tgt = ctl_cli_jstr(json_object_get(p, "targetPort"), NULL);
        int w =
            snprintf(ports + used, plen - used, "%s%s%s%s/%s", i ? "," : "", port, tgt ? ":" : "",
                     tgt ? tgt : "", ctl_cli_jstr(json_object_get(p, "protocol"), "TCP"));
        if (w < 0 || (size_t)w >= plen - used) break;
        used += (size_t)w;
    }
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, 24);
    const char *c[] = {
        ctl_cli_meta(o, "name"),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "type", NULL), "ClusterIP"),
        ctl_cli_jstr(json_object_get(st, "endpoint"), "<none>"),
        models,
        ports[0] ? ports : "<none>",
        age,
    };
    memcpy(r->c, c, sizeof(c));
}

/* RayClusterFleet: a Deployment's columns (kubectl's; AIBrix's CRD
 * defines none), then MODEL, STRATEGY and WORKERS (the desired worker
 * nodes of one replica, from the template: replicas kept within [min, max]
 * times numOfHosts; any JSON prints without overflow: the sum stops
 * growing past a million). */
static void ctl_cli_row_fleet(ctl_cli_row *r, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    const json_t *rep = ctl_cli_jget(o, "spec", "replicas", NULL);
    char n[24];
    snprintf(r->buf[0], sizeof(r->buf[0]), "%s/%lld",
             ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", n, sizeof(n)),
             json_is_integer(rep) ? (long long)json_integer_value(rep) : 1LL);
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[3], 24);
    long long workers = 0;
    size_t i;
    const json_t *g;
    json_array_foreach(ctl_cli_jget(o, "spec", "template", "spec", "workerGroupSpecs", NULL), i, g)
    {
        const json_t *h = json_object_get(g, "numOfHosts"), *hi = json_object_get(g, "maxReplicas");
        long long nrep = json_integer_value(json_object_get(g, "replicas"));
        long long lo = json_integer_value(json_object_get(g, "minReplicas"));
        if (nrep < lo) nrep = lo; /* KubeRay's: replicas within [min, max] */
        if (json_is_integer(hi) && nrep > json_integer_value(hi)) nrep = json_integer_value(hi);
        long long hosts = json_is_integer(h) ? json_integer_value(h) : 1;
        if (nrep > 0 && hosts > 0 && workers < 1000000)
            workers += (nrep < 1000000 ? nrep : 1000000) * (hosts < 1000000 ? hosts : 1000000);
    }
    snprintf(r->buf[4], 24, "%lld", workers);
    const char *c[] = {
        ctl_cli_meta(o, "name"),
        r->buf[0],
        ctl_cli_jnum(json_object_get(st, "updatedReplicas"), "0", r->buf[1], 24),
        ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", r->buf[2], 24),
        r->buf[3],
        ctl_cli_ray_model(o),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "strategy", "type", NULL), "RollingUpdate"),
        r->buf[4],
    };
    memcpy(r->c, c, sizeof(c));
}

/* RayClusterReplicaSet: a ReplicaSet's columns (DESIRED spec.replicas,
 * CURRENT and READY from status), then AVAILABLE and MODEL. */
static void ctl_cli_row_ray_replicaset(ctl_cli_row *r, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[0], 24);
    const char *c[] = {
        ctl_cli_meta(o, "name"),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "replicas", NULL), "1", r->buf[1], 24),
        ctl_cli_jnum(json_object_get(st, "replicas"), "0", r->buf[2], 24),
        ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", r->buf[3], 24),
        r->buf[0],
        ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", r->buf[4], 24),
        ctl_cli_ray_model(o),
    };
    memcpy(r->c, c, sizeof(c));
}

/* RayCluster: KubeRay's printer columns brix has (desired and available
 * workers, status = .status.state, age), then READY-WORKERS, HEAD-POD-IP
 * (KubeRay's priority-1 column) and MODEL. */
static void ctl_cli_row_raycluster(ctl_cli_row *r, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[0], 24);
    const char *c[] = {
        ctl_cli_meta(o, "name"),
        ctl_cli_jnum(json_object_get(st, "desiredWorkerReplicas"), "<none>", r->buf[1], 24),
        ctl_cli_jnum(json_object_get(st, "availableWorkerReplicas"), "<none>", r->buf[2], 24),
        ctl_cli_jstr(json_object_get(st, "state"), "<none>"),
        r->buf[0],
        ctl_cli_jnum(json_object_get(st, "readyWorkerReplicas"), "<none>", r->buf[3], 24),
        ctl_cli_jstr(ctl_cli_jget(st, "head", "podIP", NULL), "<none>"),
        ctl_cli_ray_model(o),
    };
    memcpy(r->c, c, sizeof(c));
}

static void ctl_cli_row_object(ctl_cli_row *r, const json_t *o, int64_t now)
{
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, r->buf[0], 24);
    const char *c[] = {ctl_cli_meta(o, "name"), r->buf[0]};
    memcpy(r->c, c, sizeof(c));
}

/* Each table's header: the first narrow columns, all wide ones with -o wide. */
static const struct {
    const char *h[ROW_MAX];
    size_t narrow, wide;
} ctl_cli_heads[] = {
    [CTL_CLI_TABLE_DEPLOYMENTS] =
        {{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "MODEL", "ENGINE", "ROUTING"}, 5, 8},
    [CTL_CLI_TABLE_MODELS] =
        {{"NAME", "MODEL", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "ENGINE", "ROUTING"}, 6, 8},
    [CTL_CLI_TABLE_ADAPTERS] = {{"NAME", "PHASE", "DESIRED", "READY", "CANDIDATES", "MODEL PATH",
                                 "AGE", "BASE", "INSTANCES", "REPLICAS", "SCHEDULER"},
                                7,
                                11},
    [CTL_CLI_TABLE_AUTOSCALERS] = {{"NAME", "MINPODS", "MAXPODS", "REPLICAS", "STRATEGY", "AGE",
                                    "TARGET", "METRIC", "DESIRED", "LAST-SCALE"},
                                   6,
                                   10},
    [CTL_CLI_TABLE_PODS] = {{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "DEPLOYMENT", "PHASE",
                             "PORT", "PID", "MODEL", "URL"},
                            5,
                            11},
    [CTL_CLI_TABLE_EVENTS] = {{"LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"}, 6, 6},
    [CTL_CLI_TABLE_SERVICES] = {{"NAME", "TYPE", "ENDPOINT", "MODELS", "PORT(S)", "AGE"}, 6, 6},
    [CTL_CLI_TABLE_OBJECTS] = {{"NAME", "AGE"}, 2, 2},
    [CTL_CLI_TABLE_FLEETS] =
        {{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "MODEL", "STRATEGY", "WORKERS"}, 5, 8},
    [CTL_CLI_TABLE_RAY_REPLICASETS] =
        {{"NAME", "DESIRED", "CURRENT", "READY", "AGE", "AVAILABLE", "MODEL"}, 5, 7},
    [CTL_CLI_TABLE_RAYCLUSTERS] = {{"NAME", "DESIRED-WORKERS", "AVAILABLE-WORKERS", "STATUS", "AGE",
                                    "READY-WORKERS", "HEAD-POD-IP", "MODEL"},
                                   5,
                                   8},
};

/* The NAMESPACE cell: an object's metadata.namespace, a pod's namespace,
 * an event's involvedObject.namespace. */
static const char *ctl_cli_row_ns(ctl_cli_table kind, const json_t *it)
{
    if (kind == CTL_CLI_TABLE_EVENTS)
        return ctl_cli_jstr(ctl_cli_jget(it, "involvedObject", "namespace", NULL), "default");
    if (kind == CTL_CLI_TABLE_PODS)
        return ctl_cli_jstr(json_object_get(it, "namespace"), "default");
    return ctl_cli_jstr(ctl_cli_jget(it, "metadata", "namespace", NULL), "default");
}

static void ctl_cli_fill_row(ctl_cli_row *r, ctl_cli_table kind, const json_t *it, int64_t now)
{
    switch (kind) {
    case CTL_CLI_TABLE_DEPLOYMENTS:
    case CTL_CLI_TABLE_MODELS:
        ctl_cli_row_deployment(r, it, kind == CTL_CLI_TABLE_MODELS, now);
        break;
    case CTL_CLI_TABLE_ADAPTERS:
        ctl_cli_row_adapter(r, it, now);
        break;
    case CTL_CLI_TABLE_AUTOSCALERS:
        ctl_cli_row_autoscaler(r, it, now);
        break;
    case CTL_CLI_TABLE_PODS:
        ctl_cli_row_pod(r, it, now);
        break;
    case CTL_CLI_TABLE_EVENTS:
        ctl_cli_row_event(r, it, now);
        break;
    case CTL_CLI_TABLE_SERVICES:
        ctl_cli_row_service(r, it, now);
        break;
    case CTL_CLI_TABLE_OBJECTS:
        ctl_cli_row_object(r, it, now);
        break;
    case CTL_CLI_TABLE_FLEETS:
        ctl_cli_row_fleet(r, it, now);
        break;
    case CTL_CLI_TABLE_RAY_REPLICASETS:
        ctl_cli_row_ray_replicaset(r, it, now);
        break;
    case CTL_CLI_TABLE_RAYCLUSTERS:
        ctl_cli_row_raycluster(r, it, now);
        break;
    }
}

int ctl_cli_print_table_opts(FILE *out, ctl_cli_table kind, const json_t *items,
                             const ctl_cli_print_opts *opt, int64_t now_ms)
{
    ctl_cli_tbl t = {0};
    if ((unsigned)kind >= sizeof(ctl_cli_heads) / sizeof(ctl_cli_heads[0])) return -1;
    size_t ncol = opt->wide ? ctl_cli_heads[kind].wide : ctl_cli_heads[kind].narrow;
    size_t off = opt->ns_column ? 1 : 0;
    /* the name is the first column but for events */
    int named = kind != CTL_CLI_TABLE_EVENTS;
    const char *cells[ROW_MAX + 1];
    t.ncol = ncol + off;
    if (!opt->no_header) {
        cells[0] = "NAMESPACE";
        memcpy(cells + off, ctl_cli_heads[kind].h, ncol * sizeof(cells[0]));
        ctl_cli_tbl_row(&t, cells);
    }
    size_t i;
    const json_t *it;
    char name[CTL_CLI_CELL_MAX];
    json_array_foreach(items, i, it)
    {
        ctl_cli_row r;
        memset(r.c, 0, sizeof(r.c));
        ctl_cli_fill_row(&r, kind, it, now_ms);
        if (named && opt->name_prefix && r.c[0]) {
            snprintf(name, sizeof(name), "%s/%s", opt->name_prefix, r.c[0]);
            r.c[0] = name;
        }
        const char *ns = ctl_cli_row_ns(kind, it);
        cells[0] = ns;
        memcpy(cells + off, r.c, ncol * sizeof(cells[0]));
        ctl_cli_tbl_row(&t, cells);
    }
    return ctl_cli_tbl_print(&t, out, "");
}

int ctl_cli_print_table(FILE *out, ctl_cli_table kind, const json_t *items, int wide,
                        int64_t now_ms)
{
    ctl_cli_print_opts o = {.wide = wide};
    return ctl_cli_print_table_opts(out, kind, items, &o, now_ms);
}
