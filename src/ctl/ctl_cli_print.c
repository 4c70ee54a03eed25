/* ctl_cli_print: the tables of `brix get` (ctl_cli_print_table), one row
 * printer per kind, columns as kubectl prints its own kinds. A pure
 * function of the API's JSON and a clock value, so tests check it byte for
 * byte (tests/unit/test_ctl_api.c) and fuzz/fuzz_ctl_cli_print.c feeds it
 * any JSON. */
#include <stdio.h>

#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"
#include "ctl/ctl_obj.h"

static void ctl_cli_row_deployment(ctl_cli_tbl *t, const json_t *o, int models, int wide,
                                   int64_t now)
{
    char ready[48], upd[24], avail[24], age[24];
    const json_t *st = json_object_get(o, "status");
    const json_t *rep = ctl_cli_jget(o, "spec", "replicas", NULL);
    long long desired = json_is_integer(rep) ? (long long)json_integer_value(rep) : 1;
    char r[24];
    snprintf(ready, sizeof(ready), "%s/%lld",
             ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", r, sizeof(r)), desired);
    const char *u = ctl_cli_jnum(json_object_get(st, "updatedReplicas"), "0", upd, sizeof(upd));
    const char *a =
        ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", avail, sizeof(avail));
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *name = ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), "");
    const char *engine =
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "labels", CTL_LABEL_ENGINE, NULL), "vllm");
    const char *strat = ctl_cli_jstr(
        ctl_cli_jget(o, "metadata", "annotations", CTL_ANN_ROUTING_STRATEGY, NULL), "<default>");
    const char *model = ctl_cli_deployment_model(o);
    if (models) {
        const char *c[] = {name, model, ready, u, a, age, engine, strat};
        ctl_cli_tbl_row(t, c);
    } else if (wide) {
        const char *c[] = {name, ready, u, a, age, model, engine, strat};
        ctl_cli_tbl_row(t, c);
    } else {
        const char *c[] = {name, ready, u, a, age};
        ctl_cli_tbl_row(t, c);
    }
}

static void ctl_cli_row_adapter(ctl_cli_tbl *t, const json_t *o, int wide, int64_t now)
{
    char inst[CTL_CLI_CELL_MAX], age[24], rep[24];
    const json_t *st = json_object_get(o, "status");
    ctl_cli_join_strings(json_object_get(st, "instances"), inst, sizeof(inst));
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *c[] = {
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "baseModel", NULL), "<none>"),
        ctl_cli_jstr(json_object_get(st, "phase"), "<none>"),
        inst,
        age,
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "artifactURL", NULL), "<none>"),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "replicas", NULL), "all", rep, sizeof(rep)),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "schedulerName", NULL), "default"),
    };
    (void)wide;
    ctl_cli_tbl_row(t, c);
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

static void ctl_cli_row_autoscaler(ctl_cli_tbl *t, const json_t *o, int wide, int64_t now)
{
    char mn[24], mx[24], des[24], act[24], age[24], target[CTL_CLI_CELL_MAX],
        metric[CTL_CLI_CELL_MAX], last[24];
    const json_t *st = json_object_get(o, "status");
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    snprintf(target, sizeof(target), "%s/%s",
             ctl_cli_jstr(ctl_cli_jget(o, "spec", "scaleTargetRef", "kind", NULL), "?"),
             ctl_cli_jstr(ctl_cli_jget(o, "spec", "scaleTargetRef", "name", NULL), "?"));
    ctl_cli_first_metric(o, metric, sizeof(metric));
    if (json_object_get(st, "lastScaleTime"))
        ctl_cli_age_of(json_object_get(st, "lastScaleTime"), now, last, sizeof(last));
    else
        snprintf(last, sizeof(last), "<none>");
    const char *c[] = {
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "scalingStrategy", NULL), "<none>"),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "minReplicas", NULL), "1", mn, sizeof(mn)),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "maxReplicas", NULL), "<none>", mx, sizeof(mx)),
        ctl_cli_jnum(json_object_get(st, "desiredScale"), "<none>", des, sizeof(des)),
        ctl_cli_jnum(json_object_get(st, "actualScale"), "<none>", act, sizeof(act)),
        age,
        target,
        metric,
        last,
    };
    (void)wide;
    ctl_cli_tbl_row(t, c);
}

static void ctl_cli_row_pod(ctl_cli_tbl *t, const json_t *p, int64_t now)
{
    ctl_cli_pod_row r;
    ctl_cli_pod_row_fill(&r, p, "<none>", now);
    const char *c[] = {
        r.name,
        ctl_cli_jstr(json_object_get(p, "deployment"), "<none>"),
        r.phase,
        r.ready,
        r.restarts,
        r.port,
        r.pid,
        r.age,
        ctl_cli_jstr(json_object_get(p, "model"), "<none>"),
        ctl_cli_jstr(json_object_get(p, "url"), "<none>"),
    };
    ctl_cli_tbl_row(t, c);
}

static void ctl_cli_row_event(ctl_cli_tbl *t, const json_t *e, int64_t now)
{
    char last[24], count[24], obj[CTL_CLI_CELL_MAX];
    ctl_cli_age_of(json_object_get(e, "lastTimestamp"), now, last, sizeof(last));
    snprintf(obj, sizeof(obj), "%s/%s",
             ctl_cli_kind_lower(ctl_cli_jstr(ctl_cli_jget(e, "involvedObject", "kind", NULL), "")),
             ctl_cli_jstr(ctl_cli_jget(e, "involvedObject", "name", NULL), ""));
    const char *c[] = {
        last,
        ctl_cli_jstr(json_object_get(e, "type"), ""),
        ctl_cli_jstr(json_object_get(e, "reason"), ""),
        obj,
        ctl_cli_jnum(json_object_get(e, "count"), "1", count, sizeof(count)),
        ctl_cli_jstr(json_object_get(e, "message"), ""),
    };
    ctl_cli_tbl_row(t, c);
}

/* A Service: its gateway endpoint and models (the API's status), and its
 * ports as kubectl writes them (80/TCP,443:8443/TCP). */
static void ctl_cli_row_service(ctl_cli_tbl *t, const json_t *o, int64_t now)
{
    char models[CTL_CLI_CELL_MAX], ports[CTL_CLI_CELL_MAX] = "", age[24];
    const json_t *st = json_object_get(o, "status");
    ctl_cli_join_strings(json_object_get(st, "models"), models, sizeof(models));
    size_t i, used = 0;
    const json_t *p;
    json_array_foreach(ctl_cli_jget(o, "spec", "ports", NULL), i, p)
    {
        char a[24], b[24];
        const char *port = ctl_cli_jnum(json_object_get(p, "port"), "?", a, sizeof(a));
        const char *tgt = ctl_cli_jnum(json_object_get(p, "targetPort"), NULL, b, sizeof(b));
        if (!tgt) tgt = ctl_cli_jstr(json_object_get(p, "targetPort"), NULL);
        int w = snprintf(ports + used, sizeof(ports) - used, "%s%s%s%s/%s", i ? "," : "", port,
                         tgt ? ":" : "", tgt ? tgt : "",
                         ctl_cli_jstr(json_object_get(p, "protocol"), "TCP"));
        if (w < 0 || (size_t)w >= sizeof(ports) - used) break;
        used += (size_t)w;
    }
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *c[] = {
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""),
        ctl_cli_jstr(ctl_cli_jget(o, "spec", "type", NULL), "ClusterIP"),
        ctl_cli_jstr(json_object_get(st, "endpoint"), "<none>"),
        models,
        ports[0] ? ports : "<none>",
        age,
    };
    ctl_cli_tbl_row(t, c);
}

static void ctl_cli_row_object(ctl_cli_tbl *t, const json_t *o, int64_t now)
{
    char age[24];
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *c[] = {ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""), age};
    ctl_cli_tbl_row(t, c);
}

/* Each table's header: the first narrow columns, all wide ones with -o wide. */
static const struct {
    const char *h[10];
    size_t narrow, wide;
} ctl_cli_heads[] = {
    [CTL_CLI_TABLE_DEPLOYMENTS] =
        {{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "MODEL", "ENGINE", "ROUTING"}, 5, 8},
    [CTL_CLI_TABLE_MODELS] =
        {{"NAME", "MODEL", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "ENGINE", "ROUTING"}, 6, 8},
    [CTL_CLI_TABLE_ADAPTERS] =
        {{"NAME", "BASE", "PHASE", "INSTANCES", "AGE", "ARTIFACT", "REPLICAS", "SCHEDULER"}, 5, 8},
    [CTL_CLI_TABLE_AUTOSCALERS] = {{"NAME", "STRATEGY", "MIN", "MAX", "DESIRED", "ACTUAL", "AGE",
                                    "TARGET", "METRIC", "LAST-SCALE"},
                                   7,
                                   10},
    [CTL_CLI_TABLE_PODS] = {{"NAME", "DEPLOYMENT", "PHASE", "READY", "RESTARTS", "PORT", "PID",
                             "AGE", "MODEL", "URL"},
                            8,
                            10},
    [CTL_CLI_TABLE_EVENTS] = {{"LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"}, 6, 6},
    [CTL_CLI_TABLE_SERVICES] = {{"NAME", "TYPE", "ENDPOINT", "MODELS", "PORT(S)", "AGE"}, 6, 6},
    [CTL_CLI_TABLE_OBJECTS] = {{"NAME", "AGE"}, 2, 2},
};

int ctl_cli_print_table(FILE *out, ctl_cli_table kind, const json_t *items, int wide,
                        int64_t now_ms)
{
    ctl_cli_tbl t = {0};
    if ((unsigned)kind >= sizeof(ctl_cli_heads) / sizeof(ctl_cli_heads[0])) return -1;
    t.ncol = wide ? ctl_cli_heads[kind].wide : ctl_cli_heads[kind].narrow;
    ctl_cli_tbl_row(&t, ctl_cli_heads[kind].h);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        switch (kind) {
        case CTL_CLI_TABLE_DEPLOYMENTS:
        case CTL_CLI_TABLE_MODELS:
            ctl_cli_row_deployment(&t, it, kind == CTL_CLI_TABLE_MODELS, wide, now_ms);
            break;
        case CTL_CLI_TABLE_ADAPTERS:
            ctl_cli_row_adapter(&t, it, wide, now_ms);
            break;
        case CTL_CLI_TABLE_AUTOSCALERS:
            ctl_cli_row_autoscaler(&t, it, wide, now_ms);
            break;
        case CTL_CLI_TABLE_PODS:
            ctl_cli_row_pod(&t, it, now_ms);
            break;
        case CTL_CLI_TABLE_EVENTS:
            ctl_cli_row_event(&t, it, now_ms);
            break;
        case CTL_CLI_TABLE_SERVICES:
            ctl_cli_row_service(&t, it, now_ms);
            break;
        case CTL_CLI_TABLE_OBJECTS:
            ctl_cli_row_object(&t, it, now_ms);
            break;
        }
    }
    return ctl_cli_tbl_print(&t, out, "");
}
