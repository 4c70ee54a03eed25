/* ctl_cli_describe: the text of `brix describe` (ctl_cli_print_describe
 * for objects, ctl_cli_describe_pod for pods): "Label:" fields in one
 * column, then per kind what kubectl shows of its own kinds, conditions
 * and events as indented tables. Pure functions of the API's JSON and a
 * clock value, as the tables are. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_apikey.h"
#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"
#include "ctl/ctl_obj.h"

#define CTL_CLI_FIELD_W 20

static void ctl_cli_field(FILE *out, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ctl_cli_field(FILE *out, const char *label, const char *fmt, ...)
{
    char l[64];
    snprintf(l, sizeof(l), "%s:", label);
    fprintf(out, "%-*s%s", CTL_CLI_FIELD_W, l, strlen(l) >= CTL_CLI_FIELD_W ? " " : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
}

/* A string map as "k=v" lines, the first after the label. */
static void ctl_cli_field_map(FILE *out, const char *label, const json_t *m)
{
    if (!json_is_object(m) || json_object_size(m) == 0) {
        ctl_cli_field(out, label, "<none>");
        return;
    }
    const char **keys = malloc(json_object_size(m) * sizeof(*keys));
    if (!keys) return;
    size_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)m, k, v) keys[n++] = k;
    /* sorted, as kubectl prints them */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *x = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = x;
        }
    for (size_t i = 0; i < n; i++) {
        char val[32];
        const char *s = ctl_cli_jnum(json_object_get(m, keys[i]), "", val, sizeof(val));
        if (i == 0)
            ctl_cli_field(out, label, "%s=%s", keys[i], s);
        else
            fprintf(out, "%-*s%s=%s\n", CTL_CLI_FIELD_W, "", keys[i], s);
    }
    free(keys);
}

/* The command line of a pod template's containers[0] (c0), under label. */
static void ctl_cli_describe_command(FILE *out, const char *label, const json_t *c0)
{
    const json_t *cmd = json_object_get(c0, "command");
    const json_t *args = json_object_get(c0, "args");
    char line[2048];
    size_t n = 0;
    line[0] = 0;
    if (!json_array_size(cmd) && !json_array_size(args)) {
        ctl_cli_field(out, label,
                      "{brix} engine --port {port} --model {model} --enable-lora (default)");
        return;
    }
    if (!json_array_size(cmd)) n += (size_t)snprintf(line, sizeof(line), "{brix} engine");
    const json_t *parts[2] = {cmd, args};
    /* the engine's --api-key is a secret: shown as <redacted> */
    const char *words[CTL_MAX_ARGS + 1];
    size_t nw = 0;
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < json_array_size(parts[p]) && nw < CTL_MAX_ARGS; i++)
            words[nw++] = ctl_cli_jstr(json_array_get(parts[p], i), "");
    char key[CTL_API_KEY_MAX], red[1024];
    if (!bx_apikey_from_words(words, nw, key, sizeof(key))) key[0] = '\0';
    for (int p = 0; p < 2; p++) {
        size_t i;
        const json_t *v;
        json_array_foreach(parts[p], i, v)
        {
            bx_apikey_redact(ctl_cli_jstr(v, ""), key, red, sizeof(red));
            const char *s = red;
            int quote = strchr(s, ' ') != NULL || !*s;
            if (n < sizeof(line))
                n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s%s%s", n ? " " : "",
                                      quote ? "\"" : "", s, quote ? "\"" : "");
        }
    }
    ctl_cli_field(out, label, "%s", line);
}

/* A list section of describe: its label, its table's header, the underline
 * (NULL: none) and the row printer of one item. */
typedef struct ctl_cli_section {
    const char *label;
    size_t ncol;
    const char *h[8], *u[8];
    void (*row)(ctl_cli_tbl *t, const json_t *item, int64_t now);
} ctl_cli_section;

/* "Label:  <none>" when items is empty, else "Label:" and the table,
 * indented two spaces, with a row per item. */
static void ctl_cli_print_section(FILE *out, const ctl_cli_section *sec, const json_t *items,
                                  int64_t now)
{
    if (!json_array_size(items)) {
        ctl_cli_field(out, sec->label, "<none>");
        return;
    }
    fprintf(out, "%s:\n", sec->label);
    ctl_cli_tbl t = {.ncol = sec->ncol};
    ctl_cli_tbl_row(&t, sec->h);
    if (sec->u[0]) ctl_cli_tbl_row(&t, sec->u);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it) sec->row(&t, it, now);
    ctl_cli_tbl_print(&t, out, "  ");
}

static void ctl_cli_condition_row(ctl_cli_tbl *t, const json_t *c, int64_t now)
{
    char age[24];
    ctl_cli_age_of(json_object_get(c, "lastTransitionTime"), now, age, sizeof(age));
    const char *r[] = {ctl_cli_jstr(json_object_get(c, "type"), ""),
                       ctl_cli_jstr(json_object_get(c, "status"), ""),
                       ctl_cli_jstr(json_object_get(c, "reason"), ""), age,
                       ctl_cli_jstr(json_object_get(c, "message"), "")};
    ctl_cli_tbl_row(t, r);
}

static void ctl_cli_event_row(ctl_cli_tbl *t, const json_t *e, int64_t now)
{
    char age[96], first[24], last[24], count[24];
    ctl_cli_age_of(json_object_get(e, "lastTimestamp"), now, last, sizeof(last));
    ctl_cli_age_of(json_object_get(e, "firstTimestamp"), now, first, sizeof(first));
    long long cnt = (long long)json_integer_value(json_object_get(e, "count"));
    if (cnt > 1 && strcmp(first, last) != 0)
        snprintf(age, sizeof(age), "%s (x%lld over %s)", last, cnt, first);
    else
        snprintf(age, sizeof(age), "%s", last);
    const char *r[] = {ctl_cli_jstr(json_object_get(e, "type"), ""),
                       ctl_cli_jstr(json_object_get(e, "reason"), ""), age,
                       ctl_cli_jnum(json_object_get(e, "count"), "1", count, sizeof(count)),
                       ctl_cli_jstr(json_object_get(e, "message"), "")};
    ctl_cli_tbl_row(t, r);
}

static void ctl_cli_describe_pod_row(ctl_cli_tbl *t, const json_t *p, int64_t now)
{
    ctl_cli_pod_row pr;
    ctl_cli_pod_row_fill(&pr, p, "", now);
    const char *r[] = {pr.name, pr.phase, pr.ready, pr.restarts, pr.port, pr.pid, pr.age};
    ctl_cli_tbl_row(t, r);
}

static const ctl_cli_section ctl_cli_conditions = {
    "Conditions",
    5,
    {"Type", "Status", "Reason", "Age", "Message"},
    {"----", "------", "------", "---", "-------"},
    ctl_cli_condition_row,
};
static const ctl_cli_section ctl_cli_events = {
    "Events",
    5,
    {"Type", "Reason", "Age", "Count", "Message"},
    {"----", "------", "---", "-----", "-------"},
    ctl_cli_event_row,
};
static const ctl_cli_section ctl_cli_pods = {
    "Pods",
    7,
    {"Name", "Phase", "Ready", "Restarts", "Port", "PID", "Age"},
    {NULL},
    ctl_cli_describe_pod_row,
};

static void ctl_cli_describe_deployment(FILE *out, const json_t *o, const json_t *pods, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char a[24], b[24], c[24], d[24];
    const json_t *rep = ctl_cli_jget(o, "spec", "replicas", NULL);
    ctl_cli_field(out, "Model", "%s", ctl_cli_deployment_model(o));
    ctl_cli_field(
        out, "Engine", "%s",
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "labels", CTL_LABEL_ENGINE, NULL), "vllm"));
    ctl_cli_field(
        out, "Routing Strategy", "%s",
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "annotations", CTL_ANN_ROUTING_STRATEGY, NULL),
                     "<gateway default>"));
    ctl_cli_field(out, "Replicas", "%lld desired | %s updated | %s total | %s available | %s ready",
                  json_is_integer(rep) ? (long long)json_integer_value(rep) : 1LL,
                  ctl_cli_jnum(json_object_get(st, "updatedReplicas"), "0", a, sizeof(a)),
                  ctl_cli_jnum(json_object_get(st, "replicas"), "0", b, sizeof(b)),
                  ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", c, sizeof(c)),
                  ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", d, sizeof(d)));
    const json_t *c0 =
        json_array_get(ctl_cli_jget(o, "spec", "template", "spec", "containers", NULL), 0);
    ctl_cli_describe_command(out, "Command", c0);
    const json_t *probe = json_object_get(c0, "readinessProbe");
    char per[24];
    ctl_cli_field(out, "Readiness Probe", "GET %s every %ss",
                  ctl_cli_jstr(ctl_cli_jget(probe, "httpGet", "path", NULL), "/health"),
                  ctl_cli_jnum(json_object_get(probe, "periodSeconds"), "1", per, sizeof(per)));
    ctl_cli_field_map(out, "Pod Labels",
                      ctl_cli_jget(o, "spec", "template", "metadata", "labels", NULL));
    if (pods) ctl_cli_print_section(out, &ctl_cli_pods, pods, now);
}

/* ---- RayClusterFleet, RayClusterReplicaSet, RayCluster ---- */

/* A LabelSelector as kubectl writes one: "k=v,k in (a,b),k notin (c),k,!k". */
static void ctl_cli_selector_text(const json_t *sel, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(sel, "matchLabels"), k, v)
    {
        int w = snprintf(buf + n, len - n, "%s%s=%s", n ? "," : "", k, ctl_cli_jstr(v, ""));
        if (w < 0 || (size_t)w >= len - n) return;
        n += (size_t)w;
    }
    size_t i;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, v)
    {
        const char *key = ctl_cli_jstr(json_object_get(v, "key"), "?");
        const char *op = ctl_cli_jstr(json_object_get(v, "operator"), "");
        char vals[256];
        ctl_cli_join_strings(json_object_get(v, "values"), vals, sizeof(vals));
        int w = !strcmp(op, "Exists") ? snprintf(buf + n, len - n, "%s%s", n ? "," : "", key)
                : !strcmp(op, "DoesNotExist")
                    ? snprintf(buf + n, len - n, "%s!%s", n ? "," : "", key)
                    : snprintf(buf + n, len - n, "%s%s %s (%s)", n ? "," : "", key,
                               !strcmp(op, "In") ? "in" : "notin", vals);
        if (w < 0 || (size_t)w >= len - n) return;
        n += (size_t)w;
    }
    if (!n) snprintf(buf, len, "<none>");
}

/* "Controlled By: Kind/name" from the controller ownerReference. */
static void ctl_cli_controlled_by(FILE *out, const json_t *o)
{
    size_t i;
    const json_t *r;
    json_array_foreach(ctl_cli_jget(o, "metadata", "ownerReferences", NULL), i, r)
    {
        if (!json_is_true(json_object_get(r, "controller"))) continue;
        ctl_cli_field(out, "Controlled By", "%s/%s", ctl_cli_jstr(json_object_get(r, "kind"), "?"),
                      ctl_cli_jstr(json_object_get(r, "name"), "?"));
        return;
    }
}

static void ctl_cli_worker_group_row(ctl_cli_tbl *t, const json_t *g, int64_t now)
{
    (void)now;
    char rep[24], lo[24], hi[24], hosts[24];
    const char *r[] = {
        ctl_cli_jstr(json_object_get(g, "groupName"), "?"),
        ctl_cli_jnum(json_object_get(g, "replicas"), "0", rep, sizeof(rep)),
        ctl_cli_jnum(json_object_get(g, "minReplicas"), "0", lo, sizeof(lo)),
        ctl_cli_jnum(json_object_get(g, "maxReplicas"), "2147483647", hi, sizeof(hi)),
        ctl_cli_jnum(json_object_get(g, "numOfHosts"), "1", hosts, sizeof(hosts)),
    };
    ctl_cli_tbl_row(t, r);
}

static const ctl_cli_section ctl_cli_worker_groups = {
    "Worker Groups",
    5,
    {"Name", "Replicas", "Min", "Max", "Hosts"},
    {"----", "--------", "---", "---", "-----"},
    ctl_cli_worker_group_row,
};

/* A RayClusterSpec (a RayCluster's spec, a fleet's template spec). */
static void ctl_cli_describe_ray_spec(FILE *out, const json_t *spec, int64_t now)
{
    ctl_cli_field(out, "Ray Version", "%s",
                  ctl_cli_jstr(json_object_get(spec, "rayVersion"), "<none>"));
    ctl_cli_field(out, "Suspend", "%s",
                  json_is_true(json_object_get(spec, "suspend")) ? "true" : "false");
    const json_t *hc0 = json_array_get(
        ctl_cli_jget(spec, "headGroupSpec", "template", "spec", "containers", NULL), 0);
    ctl_cli_describe_command(out, "Head Command", hc0);
    ctl_cli_print_section(out, &ctl_cli_worker_groups, json_object_get(spec, "workerGroupSpecs"),
                          now);
}

static void ctl_cli_ray_replicaset_row(ctl_cli_tbl *t, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char d[24], c[24], r[24], a[24], age[24];
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *row[] = {
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""),
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "replicas", NULL), "1", d, sizeof(d)),
        ctl_cli_jnum(json_object_get(st, "replicas"), "0", c, sizeof(c)),
        ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", r, sizeof(r)),
        ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", a, sizeof(a)),
        ctl_cli_jstr(
            ctl_cli_jget(o, "metadata", "annotations", "deployment.kubernetes.io/revision", NULL),
            "<none>"),
        age,
    };
    ctl_cli_tbl_row(t, row);
}

static void ctl_cli_raycluster_row(ctl_cli_tbl *t, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char d[24], r[24], a[24], age[24];
    ctl_cli_age_of(ctl_cli_jget(o, "metadata", "creationTimestamp", NULL), now, age, sizeof(age));
    const char *row[] = {
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""),
        ctl_cli_jnum(json_object_get(st, "desiredWorkerReplicas"), "<none>", d, sizeof(d)),
        ctl_cli_jnum(json_object_get(st, "readyWorkerReplicas"), "<none>", r, sizeof(r)),
        ctl_cli_jnum(json_object_get(st, "availableWorkerReplicas"), "<none>", a, sizeof(a)),
        ctl_cli_jstr(json_object_get(st, "state"), "<none>"),
        ctl_cli_jstr(ctl_cli_jget(st, "head", "podIP", NULL), "<none>"),
        age,
    };
    ctl_cli_tbl_row(t, row);
}

static const ctl_cli_section ctl_cli_ray_replicasets = {
    "Replica Sets",
    7,
    {"Name", "Desired", "Current", "Ready", "Available", "Revision", "Age"},
    {"----", "-------", "-------", "-----", "---------", "--------", "---"},
    ctl_cli_ray_replicaset_row,
};
static const ctl_cli_section ctl_cli_rayclusters = {
    "Ray Clusters",
    7,
    {"Name", "Desired Workers", "Ready Workers", "Available Workers", "State", "Head Pod IP",
     "Age"},
    {"----", "---------------", "-------------", "-----------------", "-----", "-----------",
     "---"},
    ctl_cli_raycluster_row,
};

/* RayClusterFleet and RayClusterReplicaSet: kubectl's describe of a
 * Deployment / ReplicaSet, the template's RayClusterSpec, and what they own. */
static void ctl_cli_describe_fleet(FILE *out, const json_t *o, const json_t *owned, int fleet,
                                   int64_t now)
{
    const json_t *spec = json_object_get(o, "spec"), *st = json_object_get(o, "status");
    char sel[CTL_CLI_CELL_MAX], a[24], b[24], c[24], d[24], e[24];
    const json_t *rep = json_object_get(spec, "replicas");
    long long desired = json_is_integer(rep) ? (long long)json_integer_value(rep) : 1LL;
    ctl_cli_field(out, "Model", "%s", ctl_cli_ray_model(o));
    ctl_cli_controlled_by(out, o);
    ctl_cli_selector_text(json_object_get(spec, "selector"), sel, sizeof(sel));
    ctl_cli_field(out, "Selector", "%s", sel);
    if (fleet) {
        ctl_cli_field(
            out, "Replicas", "%lld desired | %s updated | %s total | %s available | %s unavailable",
            desired, ctl_cli_jnum(json_object_get(st, "updatedReplicas"), "0", a, sizeof(a)),
            ctl_cli_jnum(json_object_get(st, "replicas"), "0", b, sizeof(b)),
            ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", c, sizeof(c)),
            ctl_cli_jnum(json_object_get(st, "unavailableReplicas"), "0", d, sizeof(d)));
        const char *type = ctl_cli_jstr(ctl_cli_jget(spec, "strategy", "type", NULL), "");
        int recreate = !strcmp(type, "Recreate");
        ctl_cli_field(out, "StrategyType", "%s", recreate ? "Recreate" : "RollingUpdate");
    } else {
        ctl_cli_field(out, "Replicas", "%s current / %lld desired",
                      ctl_cli_jnum(json_object_get(st, "replicas"), "0", a, sizeof(a)), desired);
        ctl_cli_field(out, "RayClusters Status", "%s ready / %s available",
                      ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", b, sizeof(b)),
                      ctl_cli_jnum(json_object_get(st, "availableReplicas"), "0", c, sizeof(c)));
    }
    ctl_cli_field(out, "MinReadySeconds", "%s",
                  ctl_cli_jnum(json_object_get(spec, "minReadySeconds"), "0", e, sizeof(e)));
    if (fleet) {
        const json_t *ru = ctl_cli_jget(spec, "strategy", "rollingUpdate", NULL);
        if (strcmp(ctl_cli_jstr(ctl_cli_jget(spec, "strategy", "type", NULL), ""), "Recreate"))
            ctl_cli_field(out, "RollingUpdateStrategy", "%s max unavailable, %s max surge",
                          ctl_cli_jnum(json_object_get(ru, "maxUnavailable"), "25%", a, sizeof(a)),
                          ctl_cli_jnum(json_object_get(ru, "maxSurge"), "25%", b, sizeof(b)));
        ctl_cli_field(out, "Paused", "%s",
                      json_is_true(json_object_get(spec, "paused")) ? "true" : "false");
        ctl_cli_field(out, "Scaling Selector", "%s",
                      ctl_cli_jstr(json_object_get(st, "scalingTargetSelector"), "<none>"));
    }
    ctl_cli_field_map(out, "Template Labels",
                      ctl_cli_jget(spec, "template", "metadata", "labels", NULL));
    ctl_cli_describe_ray_spec(out, ctl_cli_jget(spec, "template", "spec", NULL), now);
    if (owned)
        ctl_cli_print_section(out, fleet ? &ctl_cli_ray_replicasets : &ctl_cli_rayclusters, owned,
                              now);
}

static void ctl_cli_describe_raycluster(FILE *out, const json_t *o, const json_t *pods, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char a[24], b[24], c[24];
    ctl_cli_field(out, "Model", "%s", ctl_cli_ray_model(o));
    ctl_cli_controlled_by(out, o);
    ctl_cli_field(out, "State", "%s", ctl_cli_jstr(json_object_get(st, "state"), "<none>"));
    ctl_cli_field(out, "Workers", "%s desired | %s ready | %s available",
                  ctl_cli_jnum(json_object_get(st, "desiredWorkerReplicas"), "0", a, sizeof(a)),
                  ctl_cli_jnum(json_object_get(st, "readyWorkerReplicas"), "0", b, sizeof(b)),
                  ctl_cli_jnum(json_object_get(st, "availableWorkerReplicas"), "0", c, sizeof(c)));
    ctl_cli_field(out, "Head", "%s (%s)",
                  ctl_cli_jstr(ctl_cli_jget(st, "head", "podName", NULL), "<none>"),
                  ctl_cli_jstr(ctl_cli_jget(st, "head", "podIP", NULL), "no IP"));
    ctl_cli_describe_ray_spec(out, json_object_get(o, "spec"), now);
    if (pods) ctl_cli_print_section(out, &ctl_cli_pods, pods, now);
}

static void ctl_cli_describe_adapter(FILE *out, const json_t *o)
{
    const json_t *st = json_object_get(o, "status");
    char rep[24], inst[CTL_CLI_CELL_MAX], a[24], b[24];
    ctl_cli_field(out, "Base Model", "%s",
                  ctl_cli_jstr(ctl_cli_jget(o, "spec", "baseModel", NULL), "<none>"));
    ctl_cli_field(out, "Artifact URL", "%s",
                  ctl_cli_jstr(ctl_cli_jget(o, "spec", "artifactURL", NULL), "<none>"));
    ctl_cli_field(out, "Replicas", "%s",
                  ctl_cli_jnum(ctl_cli_jget(o, "spec", "replicas", NULL), "every matching pod", rep,
                               sizeof(rep)));
    ctl_cli_field(out, "Scheduler", "%s",
                  ctl_cli_jstr(ctl_cli_jget(o, "spec", "schedulerName", NULL), "default"));
    ctl_cli_field_map(out, "Pod Selector",
                      ctl_cli_jget(o, "spec", "podSelector", "matchLabels", NULL));
    ctl_cli_field(out, "Phase", "%s", ctl_cli_jstr(json_object_get(st, "phase"), "<none>"));
    ctl_cli_join_strings(json_object_get(st, "instances"), inst, sizeof(inst));
    ctl_cli_field(out, "Instances", "%s", inst);
    if (json_object_get(st, "readyReplicas") || json_object_get(st, "desiredReplicas"))
        ctl_cli_field(out, "Ready", "%s/%s",
                      ctl_cli_jnum(json_object_get(st, "readyReplicas"), "0", a, sizeof(a)),
                      ctl_cli_jnum(json_object_get(st, "desiredReplicas"), "?", b, sizeof(b)));
}

static void ctl_cli_describe_autoscaler(FILE *out, const json_t *o, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    char a[24], b[24], c[24], d[24], last[24];
    ctl_cli_field(out, "Target", "%s/%s",
                  ctl_cli_jstr(ctl_cli_jget(o, "spec", "scaleTargetRef", "kind", NULL), "?"),
                  ctl_cli_jstr(ctl_cli_jget(o, "spec", "scaleTargetRef", "name", NULL), "?"));
    ctl_cli_field(out, "Strategy", "%s",
                  ctl_cli_jstr(ctl_cli_jget(o, "spec", "scalingStrategy", NULL), "<none>"));
    ctl_cli_field(out, "Min Replicas", "%s",
                  ctl_cli_jnum(ctl_cli_jget(o, "spec", "minReplicas", NULL), "1", a, sizeof(a)));
    ctl_cli_field(
        out, "Max Replicas", "%s",
        ctl_cli_jnum(ctl_cli_jget(o, "spec", "maxReplicas", NULL), "<none>", b, sizeof(b)));
    const json_t *sch = ctl_cli_jget(o, "spec", "schedules", NULL);
    if (json_array_size(sch)) {
        fprintf(out, "Schedules:\n");
        size_t i;
        const json_t *e;
        json_array_foreach(sch, i, e)
        {
            char lo[24], hi[24];
            const json_t *days = json_object_get(e, "daysOfWeek");
            fprintf(out, "  %s: %s-%s %s", ctl_cli_jstr(json_object_get(e, "name"), "?"),
                    ctl_cli_jstr(json_object_get(e, "startTime"), "?"),
                    ctl_cli_jstr(json_object_get(e, "endTime"), "?"),
                    ctl_cli_jstr(json_object_get(e, "timezone"), "UTC"));
            if (json_array_size(days)) {
                size_t k;
                const json_t *d;
                json_array_foreach(days, k, d)
                    fprintf(out, "%s%s", k ? "," : " ", ctl_cli_jstr(d, "?"));
            } else {
                fprintf(out, " every day");
            }
            fprintf(out, ", min %s, max %s\n",
                    ctl_cli_jnum(json_object_get(e, "minReplicas"), "(base)", lo, sizeof(lo)),
                    ctl_cli_jnum(json_object_get(e, "maxReplicas"), "(base)", hi, sizeof(hi)));
        }
    }
    const json_t *cb = ctl_cli_jget(o, "spec", "scheduledBounds", NULL);
    if (json_array_size(cb)) {
        fprintf(out, "Cron Bounds:\n");
        size_t i;
        const json_t *e;
        json_array_foreach(cb, i, e)
        {
            char lo[24], hi[24];
            fprintf(out, "  %s: \"%s\" for %s %s", ctl_cli_jstr(json_object_get(e, "name"), "?"),
                    ctl_cli_jstr(json_object_get(e, "cron"), "?"),
                    ctl_cli_jstr(json_object_get(e, "duration"), "?"),
                    ctl_cli_jstr(json_object_get(e, "timezone"), "UTC"));
            if (json_is_string(json_object_get(e, "startTime")))
                fprintf(out, " from %s", ctl_cli_jstr(json_object_get(e, "startTime"), "?"));
            if (json_is_string(json_object_get(e, "endTime")))
                fprintf(out, " until %s", ctl_cli_jstr(json_object_get(e, "endTime"), "?"));
            fprintf(out, ", min %s, max %s\n",
                    ctl_cli_jnum(json_object_get(e, "minReplicas"), "(base)", lo, sizeof(lo)),
                    ctl_cli_jnum(json_object_get(e, "maxReplicas"), "(base)", hi, sizeof(hi)));
        }
    }
    const json_t *sb = json_object_get(st, "scheduledBounds");
    if (json_is_object(sb)) {
        char lo[24], hi[24];
        ctl_cli_field(
            out, "Scheduled Bounds", "min %s, max %s (%s%s)",
            ctl_cli_jnum(json_object_get(sb, "effectiveMinReplicas"), "?", lo, sizeof(lo)),
            ctl_cli_jnum(json_object_get(sb, "effectiveMaxReplicas"), "?", hi, sizeof(hi)),
            json_is_string(json_object_get(sb, "activeSchedule")) ? "schedule " : "",
            ctl_cli_jstr(json_object_get(sb, "activeSchedule"), "no schedule active"));
    }
    const json_t *ms = ctl_cli_jget(o, "spec", "metricsSources", NULL);
    if (!json_array_size(ms)) {
        ctl_cli_field(out, "Metrics", "<none>");
    } else {
        fprintf(out, "Metrics:\n");
        size_t i;
        const json_t *m;
        json_array_foreach(ms, i, m)
        {
            char v[32];
            fprintf(out, "  %s target %s (%s)\n",
                    ctl_cli_jstr(json_object_get(m, "targetMetric"), "?"),
                    ctl_cli_jnum(json_object_get(m, "targetValue"), "?", v, sizeof(v)),
                    ctl_cli_jstr(json_object_get(m, "metricSourceType"), "pod"));
        }
    }
    ctl_cli_field(out, "Desired Scale", "%s",
                  ctl_cli_jnum(json_object_get(st, "desiredScale"), "<none>", c, sizeof(c)));
    ctl_cli_field(out, "Actual Scale", "%s",
                  ctl_cli_jnum(json_object_get(st, "actualScale"), "<none>", d, sizeof(d)));
    const json_t *lst = json_object_get(st, "lastScaleTime");
    if (json_is_string(lst)) {
        ctl_cli_age_of(lst, now, last, sizeof(last));
        ctl_cli_field(out, "Last Scale Time", "%s (%s ago)", json_string_value(lst), last);
    } else {
        ctl_cli_field(out, "Last Scale Time", "<none>");
    }
}

int ctl_cli_print_describe(FILE *out, const json_t *o, const json_t *events, const json_t *pods,
                           int64_t now_ms)
{
    if (!json_is_object(o)) return -1;
    const char *kind = ctl_cli_jstr(json_object_get(o, "kind"), "");
    const json_t *created = ctl_cli_jget(o, "metadata", "creationTimestamp", NULL);
    char age[24], gen[24];
    ctl_cli_field(out, "Name", "%s", ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""));
    ctl_cli_field(out, "Kind", "%s", kind);
    ctl_cli_field(out, "API Version", "%s", ctl_cli_jstr(json_object_get(o, "apiVersion"), ""));
    if (json_is_string(created)) {
        ctl_cli_age_of(created, now_ms, age, sizeof(age));
        ctl_cli_field(out, "Created", "%s (%s ago)", json_string_value(created), age);
    }
    ctl_cli_field(
        out, "Generation", "%s",
        ctl_cli_jnum(ctl_cli_jget(o, "metadata", "generation", NULL), "<none>", gen, sizeof(gen)));
    ctl_cli_field_map(out, "Labels", ctl_cli_jget(o, "metadata", "labels", NULL));
    ctl_cli_field_map(out, "Annotations", ctl_cli_jget(o, "metadata", "annotations", NULL));
    switch (ctl_kind_parse(kind)) {
    case CTL_KIND_DEPLOYMENT:
        ctl_cli_describe_deployment(out, o, pods, now_ms);
        break;
    case CTL_KIND_MODEL_ADAPTER:
        ctl_cli_describe_adapter(out, o);
        break;
    case CTL_KIND_POD_AUTOSCALER:
        ctl_cli_describe_autoscaler(out, o, now_ms);
        break;
    case CTL_KIND_RAYCLUSTER_FLEET:
    case CTL_KIND_RAYCLUSTER_REPLICASET:
        ctl_cli_describe_fleet(out, o, pods, ctl_kind_parse(kind) == CTL_KIND_RAYCLUSTER_FLEET,
                               now_ms);
        break;
    case CTL_KIND_RAYCLUSTER:
        ctl_cli_describe_raycluster(out, o, pods, now_ms);
        break;
    case CTL_KIND_SERVICE: {
        char models[CTL_CLI_CELL_MAX];
        ctl_cli_field_map(out, "Selector", ctl_cli_jget(o, "spec", "selector", NULL));
        ctl_cli_join_strings(ctl_cli_jget(o, "status", "models", NULL), models, sizeof(models));
        ctl_cli_field(out, "Models", "%s", models);
        ctl_cli_field(out, "Endpoint", "%s",
                      ctl_cli_jstr(ctl_cli_jget(o, "status", "endpoint", NULL), "<none>"));
        break;
    }
    default:
        break;
    }
    ctl_cli_print_section(out, &ctl_cli_conditions, ctl_cli_jget(o, "status", "conditions", NULL),
                          now_ms);
    ctl_cli_print_section(out, &ctl_cli_events, events, now_ms);
    return ferror(out) ? -1 : 0;
}

void ctl_cli_describe_pod(FILE *out, const json_t *p, int64_t now)
{
    char a[24], b[24], c[24], d[24], age[24];
    ctl_cli_field(out, "Name", "%s", ctl_cli_jstr(json_object_get(p, "name"), ""));
    ctl_cli_field(out, "Deployment", "%s",
                  ctl_cli_jstr(json_object_get(p, "deployment"), "<none>"));
    ctl_cli_field(out, "Model", "%s", ctl_cli_jstr(json_object_get(p, "model"), "<none>"));
    ctl_cli_field(out, "Replica", "%s",
                  ctl_cli_jnum(json_object_get(p, "replica"), "<none>", a, sizeof(a)));
    ctl_cli_field(out, "Phase", "%s", ctl_cli_jstr(json_object_get(p, "phase"), "<none>"));
    ctl_cli_field(out, "Ready", "%s", json_is_true(json_object_get(p, "ready")) ? "True" : "False");
    ctl_cli_field(out, "Restarts", "%s",
                  ctl_cli_jnum(json_object_get(p, "restarts"), "0", b, sizeof(b)));
    ctl_cli_field(out, "URL", "%s", ctl_cli_jstr(json_object_get(p, "url"), "<none>"));
    ctl_cli_field(out, "Port", "%s",
                  ctl_cli_jnum(json_object_get(p, "port"), "<none>", c, sizeof(c)));
    ctl_cli_field(out, "PID", "%s",
                  json_integer_value(json_object_get(p, "pid")) > 0
                      ? ctl_cli_jnum(json_object_get(p, "pid"), "", d, sizeof(d))
                      : "<none>");
    const json_t *st = json_object_get(p, "startedAt");
    if (json_is_string(st)) {
        ctl_cli_age_of(st, now, age, sizeof(age));
        ctl_cli_field(out, "Started", "%s (%s ago)", json_string_value(st), age);
    }
    const json_t *rs = json_object_get(p, "readySince");
    if (json_is_string(rs)) {
        ctl_cli_age_of(rs, now, age, sizeof(age));
        ctl_cli_field(out, "Ready Since", "%s (%s ago)", json_string_value(rs), age);
    }
    ctl_cli_field_map(out, "Labels", json_object_get(p, "labels"));
}
