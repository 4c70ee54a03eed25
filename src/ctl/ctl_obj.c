/* ctl_obj: parse and validate control-plane objects (see ctl_obj.h for the
 * fields honoured). Validation is a single pass over the jansson tree with a
 * context that knows the object's kind and name, so every message can be
 * "<Kind> <name>: <field path>: <what is wrong>". The typed views hold
 * their own copies of strings (strdup) so that they do not depend on raw. */
#include "ctl/ctl_obj.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_err.h"
#include "common/bx_yaml.h"
#include "gateway/gw_strategy.h"

#define RENDER_MAX_BYTES (1u << 20)

typedef struct ctl_obj_pctx {
    ctl_obj *o;
    char *err;
    size_t errlen;
} ctl_obj_pctx;

static const struct {
    ctl_kind kind;
    const char *name;
    const char *api;
} ctl_obj_kinds[] = {
    {CTL_KIND_DEPLOYMENT, "Deployment", "apps/v1"},
    {CTL_KIND_MODEL_ADAPTER, "ModelAdapter", "model.aibrix.ai/v1alpha1"},
    {CTL_KIND_POD_AUTOSCALER, "PodAutoscaler", "autoscaling.aibrix.ai/v1alpha1"},
};

const char *ctl_kind_lower(ctl_kind k)
{
    switch (k) {
    case CTL_KIND_DEPLOYMENT:
        return "deployment";
    case CTL_KIND_MODEL_ADAPTER:
        return "modeladapter";
    case CTL_KIND_POD_AUTOSCALER:
        return "podautoscaler";
    default:
        return "object";
    }
}

const char *ctl_kind_name(ctl_kind k)
{
    for (size_t i = 0; i < sizeof(ctl_obj_kinds) / sizeof(ctl_obj_kinds[0]); i++)
        if (ctl_obj_kinds[i].kind == k) return ctl_obj_kinds[i].name;
    return NULL;
}

const char *ctl_obj_kind_api_version(ctl_kind k)
{
    for (size_t i = 0; i < sizeof(ctl_obj_kinds) / sizeof(ctl_obj_kinds[0]); i++)
        if (ctl_obj_kinds[i].kind == k) return ctl_obj_kinds[i].api;
    return NULL;
}

ctl_kind ctl_kind_parse(const char *s)
{
    static const struct {
        const char *alias;
        ctl_kind kind;
    } aliases[] = {
        {"deployment", CTL_KIND_DEPLOYMENT},
        {"deployments", CTL_KIND_DEPLOYMENT},
        {"deploy", CTL_KIND_DEPLOYMENT},
        {"modeladapter", CTL_KIND_MODEL_ADAPTER},
        {"modeladapters", CTL_KIND_MODEL_ADAPTER},
        {"ma", CTL_KIND_MODEL_ADAPTER},
        {"podautoscaler", CTL_KIND_POD_AUTOSCALER},
        {"podautoscalers", CTL_KIND_POD_AUTOSCALER},
        {"pa", CTL_KIND_POD_AUTOSCALER},
    };
    if (!s) return CTL_KIND_NONE;
    for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
        if (strcasecmp(s, aliases[i].alias) == 0) return aliases[i].kind;
    return CTL_KIND_NONE;
}

int ctl_name_valid(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > CTL_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-') return 0;
        if (!alnum && (i == 0 || i == n - 1)) return 0;
    }
    return 1;
}

const char *ctl_adapter_sched_name(ctl_adapter_sched s)
{
    switch (s) {
    case CTL_SCHED_LEAST_ADAPTERS:
        return "leastAdapters";
    case CTL_SCHED_BIN_PACK:
        return "binPack";
    case CTL_SCHED_LEAST_LATENCY:
        return "leastLatency";
    case CTL_SCHED_LEAST_THROUGHPUT:
        return "leastThroughput";
    case CTL_SCHED_RANDOM:
        return "random";
    }
    return "leastAdapters";
}

/* ---- error and note helpers ---- */

static int ctl_obj_fail(ctl_obj_pctx *c, const char *path, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0) return -1;
    const char *kn = ctl_kind_name(c->o->kind);
    int n = 0;
    if (kn && c->o->name[0])
        n = snprintf(c->err, c->errlen, "%s %s: ", kn, c->o->name);
    else if (kn)
        n = snprintf(c->err, c->errlen, "%s: ", kn);
    if (n < 0 || (size_t)n >= c->errlen) return -1;
    if (path) {
        int m = snprintf(c->err + n, c->errlen - (size_t)n, "%s: ", path);
        if (m < 0 || (size_t)(n + m) >= c->errlen) return -1;
        n += m;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void ctl_obj_note(ctl_obj *o, const char *fmt, ...)
{
    size_t used = strlen(o->notes);
    if (used + 3 >= sizeof(o->notes)) return;
    if (used) {
        memcpy(o->notes + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->notes + used, sizeof(o->notes) - used, fmt, ap);
    va_end(ap);
}

static int ctl_obj_oom(ctl_obj_pctx *c)
{
    return ctl_obj_fail(c, NULL, "out of memory");
}

/* Printable ASCII or UTF-8 bytes; no control characters. */
static int ctl_obj_str_clean(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* ---- typed getters: 1 present, 0 absent (or null), -1 error ---- */

static int ctl_obj_get_obj(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                           const json_t **out)
{
    *out = NULL;
    const json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v)) return ctl_obj_fail(c, path, "must be a mapping");
    *out = v;
    return 1;
}

static int ctl_obj_get_arr(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                           const json_t **out)
{
    *out = NULL;
    const json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_array(v)) return ctl_obj_fail(c, path, "must be a list");
    *out = v;
    return 1;
}

static int ctl_obj_check_str(ctl_obj_pctx *c, const json_t *v, const char *path, const char **out)
{
    if (!json_is_string(v)) return ctl_obj_fail(c, path, "must be a string");
    const char *s = json_string_value(v);
    if (json_string_length(v) != strlen(s))
        return ctl_obj_fail(c, path, "must not contain NUL bytes");
    if (json_string_length(v) > CTL_MAX_STR)
        return ctl_obj_fail(c, path, "longer than %d bytes", CTL_MAX_STR);
    *out = s;
    return 1;
}

static int ctl_obj_get_str(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                           const char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v)) return 0;
    return ctl_obj_check_str(c, v, path, out);
}

static int ctl_obj_get_int(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                           int64_t min, int64_t max, int64_t *out)
{
    const json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return ctl_obj_fail(c, path, "must be an integer");
    int64_t x = json_integer_value(v);
    if (x < min || x > max)
        return ctl_obj_fail(c, path, "must be between %lld and %lld", (long long)min,
                            (long long)max);
    *out = x;
    return 1;
}

/* A string->string map with at most CTL_MAX_MAP entries. */
static int ctl_obj_check_map(ctl_obj_pctx *c, const json_t *map, const char *path)
{
    if (json_object_size(map) > CTL_MAX_MAP)
        return ctl_obj_fail(c, path, "more than %d entries", CTL_MAX_MAP);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)map, k, v)
    {
        char p[384];
        snprintf(p, sizeof(p), "%s[\"%.200s\"]", path, k);
        if (strlen(k) == 0 || strlen(k) > 253)
            return ctl_obj_fail(c, p, "key must be 1..253 bytes");
        const char *s;
        if (ctl_obj_check_str(c, v, p, &s) < 0) return -1;
    }
    return 0;
}

static int ctl_obj_get_map(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                           const json_t **out)
{
    int r = ctl_obj_get_obj(c, parent, key, path, out);
    if (r <= 0) return r;
    if (ctl_obj_check_map(c, *out, path) < 0) return -1;
    return 1;
}

static const char *ctl_obj_map_str(const json_t *map, const char *key)
{
    return map ? json_string_value(json_object_get(map, key)) : NULL;
}

/* An annotation number: a string holding a finite number (ctl_obj_check_map has
 * made sure annotation values are strings). */
static int ctl_obj_ann_number(ctl_obj_pctx *c, const json_t *ann, const char *key, double min,
                              double max, double *out)
{
    const char *s = ctl_obj_map_str(ann, key);
    if (!s) return 0;
    char p[128];
    snprintf(p, sizeof(p), "metadata.annotations[\"%s\"]", key);
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE)
        return ctl_obj_fail(c, p, "must be a number of seconds");
    if (!isfinite(x) || x < min || x > max)
        return ctl_obj_fail(c, p, "must be between %g and %g", min, max);
    *out = x;
    return 1;
}

/* Served model names: 1..255 of [A-Za-z0-9._/:-], alphanumeric first. */
static int ctl_obj_model_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CTL_MODEL_NAME_MAX || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && !strchr("._/:-", ch)) return 0;
    }
    return 1;
}

static char *ctl_obj_dup_or_oom(ctl_obj_pctx *c, const char *s, int *rc)
{
    char *d = strdup(s);
    if (!d) *rc = ctl_obj_oom(c);
    return d;
}

/* ---- Deployment ---- */

static int ctl_obj_parse_argv_list(ctl_obj_pctx *c, const json_t *arr, const char *path,
                                   char **argv, size_t *argc)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        char p[160];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        const char *s;
        if (ctl_obj_check_str(c, v, p, &s) < 0) return -1;
        if (*argc >= CTL_MAX_ARGS)
            return ctl_obj_fail(c, path, "command and args hold more than %d entries",
                                CTL_MAX_ARGS);
        argv[*argc] = strdup(s);
        if (!argv[*argc]) return ctl_obj_oom(c);
        (*argc)++;
    }
    return 0;
}

static int ctl_obj_parse_env(ctl_obj_pctx *c, ctl_deployment *d, const json_t *env,
                             const char *cpath)
{
    char path[160];
    snprintf(path, sizeof(path), "%s.env", cpath);
    if (json_array_size(env) > CTL_MAX_ENV)
        return ctl_obj_fail(c, path, "more than %d entries", CTL_MAX_ENV);
    d->env = calloc(json_array_size(env) + 1, sizeof(ctl_env));
    if (!d->env) return ctl_obj_oom(c);
    size_t i;
    const json_t *e;
    json_array_foreach(env, i, e)
    {
        char p[192], pn[208];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        if (!json_is_object(e)) return ctl_obj_fail(c, p, "must be a mapping");
        snprintf(pn, sizeof(pn), "%s.name", p);
        const char *name, *value;
        int r = ctl_obj_get_str(c, e, "name", pn, &name);
        if (r < 0) return -1;
        if (r == 0) return ctl_obj_fail(c, pn, "required");
        if (name[0] == '\0' || strchr(name, '=') || !ctl_obj_str_clean(name) || strlen(name) > 256)
            return ctl_obj_fail(c, pn, "must be 1..256 bytes without '=' or control characters");
        snprintf(pn, sizeof(pn), "%s.value", p);
        r = ctl_obj_get_str(c, e, "value", pn, &value);
        if (r < 0) return -1;
        if (r == 0 && json_object_get(e, "valueFrom")) {
            ctl_obj_note(c->o, "%s.valueFrom: not supported locally, variable %s not set", p, name);
            continue;
        }
        if (!value) value = "";
        ctl_env *out = &d->env[d->nenv];
        out->name = strdup(name);
        out->value = strdup(value);
        d->nenv++;
        if (!out->name || !out->value) return ctl_obj_oom(c);
    }
    return 0;
}

static int ctl_obj_has_port_placeholder(const ctl_deployment *d)
{
    for (size_t i = 0; i < d->argc; i++)
        if (strstr(d->argv[i], "{port}")) return 1;
    for (size_t i = 0; i < d->nenv; i++)
        if (strstr(d->env[i].value, "{port}")) return 1;
    return 0;
}

static int ctl_obj_parse_container(ctl_obj_pctx *c, ctl_deployment *d, const json_t *tspec)
{
    static const char *const default_entry[] = {"{brix}", "engine"};
    static const char *const default_args[] = {"--port", "{port}", "--model", "{model}"};
    const char *cpath = "spec.template.spec.containers[0]";
    const json_t *containers = NULL, *c0 = NULL, *command = NULL, *args = NULL;
    if (tspec &&
        ctl_obj_get_arr(c, tspec, "containers", "spec.template.spec.containers", &containers) < 0)
        return -1;
    if (containers) {
        if (json_array_size(containers) == 0)
            return ctl_obj_fail(c, "spec.template.spec.containers", "must not be empty");
        c0 = json_array_get(containers, 0);
        if (!json_is_object(c0)) return ctl_obj_fail(c, cpath, "must be a mapping");
        if (json_array_size(containers) > 1)
            ctl_obj_note(c->o,
                         "spec.template.spec.containers[1..]: ignored locally (only containers[0] "
                         "runs)");
        if (json_object_get(c0, "image"))
            ctl_obj_note(c->o, "%s.image: ignored locally (the command runs on this machine)",
                         cpath);
        if (ctl_obj_get_arr(c, c0, "command", "spec.template.spec.containers[0].command",
                            &command) < 0 ||
            ctl_obj_get_arr(c, c0, "args", "spec.template.spec.containers[0].args", &args) < 0)
            return -1;
    }
    size_t ncmd = command ? json_array_size(command) : 0;
    size_t cap = (ncmd ? ncmd : 2) + (args ? json_array_size(args) : 4);
    if (cap > CTL_MAX_ARGS)
        return ctl_obj_fail(c, cpath, "command and args hold more than %d entries", CTL_MAX_ARGS);
    d->argv = calloc(cap + 1, sizeof(char *));
    if (!d->argv) return ctl_obj_oom(c);
    if (ncmd > 0) {
        if (ctl_obj_parse_argv_list(c, command, "spec.template.spec.containers[0].command", d->argv,
                                    &d->argc) < 0)
            return -1;
    } else {
        d->default_command = 1;
        for (size_t i = 0; i < 2; i++)
            if (!(d->argv[d->argc++] = strdup(default_entry[i]))) return ctl_obj_oom(c);
    }
    if (args) {
        if (ctl_obj_parse_argv_list(c, args, "spec.template.spec.containers[0].args", d->argv,
                                    &d->argc) < 0)
            return -1;
    } else if (d->default_command) {
        for (size_t i = 0; i < 4; i++)
            if (!(d->argv[d->argc++] = strdup(default_args[i]))) return ctl_obj_oom(c);
    }
    if (d->argc == 0 || d->argv[0][0] == '\0')
        return ctl_obj_fail(c, "spec.template.spec.containers[0].command", "must name a program");

    const json_t *env = NULL, *probe = NULL, *http = NULL;
    if (c0) {
        char p[128];
        snprintf(p, sizeof(p), "%s.env", cpath);
        if (ctl_obj_get_arr(c, c0, "env", p, &env) < 0) return -1;
    }
    if (env && ctl_obj_parse_env(c, d, env, cpath) < 0) return -1;
    if (!d->env && !(d->env = calloc(1, sizeof(ctl_env)))) return ctl_obj_oom(c);
    if (!ctl_obj_has_port_placeholder(d))
        return ctl_obj_fail(c, cpath,
                            "command/args/env must use the {port} placeholder (brix allocates each "
                            "replica's port)");

    const char *hpath = "/health";
    d->probe_period_s = 1;
    if (c0 && ctl_obj_get_obj(c, c0, "readinessProbe",
                              "spec.template.spec.containers[0].readinessProbe", &probe) < 0)
        return -1;
    if (probe) {
        const char *pp = "spec.template.spec.containers[0].readinessProbe.httpGet.path";
        if (ctl_obj_get_obj(c, probe, "httpGet",
                            "spec.template.spec.containers[0].readinessProbe.httpGet", &http) < 0)
            return -1;
        const char *s = NULL;
        if (http && ctl_obj_get_str(c, http, "path", pp, &s) < 0) return -1;
        if (s) {
            if (s[0] != '/' || strlen(s) > 256 || strpbrk(s, " \t") || !ctl_obj_str_clean(s))
                return ctl_obj_fail(c, pp, "must be an absolute path of at most 256 bytes");
            hpath = s;
        }
        int64_t period = 0;
        int r = ctl_obj_get_int(c, probe, "periodSeconds",
                                "spec.template.spec.containers[0].readinessProbe.periodSeconds", 1,
                                3600, &period);
        if (r < 0) return -1;
        if (r) d->probe_period_s = (double)period;
    }
    int rc = 0;
    d->health_path = ctl_obj_dup_or_oom(c, hpath, &rc);
    return rc;
}

static int ctl_obj_parse_deployment(ctl_obj_pctx *c, const json_t *doc, const json_t *labels,
                                    const json_t *ann)
{
    ctl_deployment *d = &c->o->u.dep;
    const json_t *spec = NULL, *tmpl = NULL, *tmeta = NULL, *tlabels = NULL, *tspec = NULL;
    int r = ctl_obj_get_obj(c, doc, "spec", "spec", &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec", "required");
    int64_t replicas = 1;
    if (ctl_obj_get_int(c, spec, "replicas", "spec.replicas", 0, CTL_MAX_REPLICAS, &replicas) < 0)
        return -1;
    d->replicas = (int)replicas;
    if (ctl_obj_get_obj(c, spec, "template", "spec.template", &tmpl) < 0) return -1;
    if (tmpl && ctl_obj_get_obj(c, tmpl, "metadata", "spec.template.metadata", &tmeta) < 0)
        return -1;
    if (tmeta && ctl_obj_get_map(c, tmeta, "labels", "spec.template.metadata.labels", &tlabels) < 0)
        return -1;
    if (tmpl && ctl_obj_get_obj(c, tmpl, "spec", "spec.template.spec", &tspec) < 0) return -1;

    const char *model = ctl_obj_map_str(labels, CTL_LABEL_MODEL);
    const char *tmodel = ctl_obj_map_str(tlabels, CTL_LABEL_MODEL);
    const char *mpath = "metadata.labels[\"" CTL_LABEL_MODEL "\"]";
    if (!model && tmodel) {
        model = tmodel;
        mpath = "spec.template.metadata.labels[\"" CTL_LABEL_MODEL "\"]";
    }
    if (!model) return ctl_obj_fail(c, mpath, "required (the served model name)");
    if (!ctl_obj_model_name_valid(model))
        return ctl_obj_fail(c, mpath,
                            "'%.300s' is not a valid model name (1..255 of A-Za-z0-9._/:-)", model);
    if (tmodel && strcmp(tmodel, model) != 0)
        return ctl_obj_fail(c, "spec.template.metadata.labels[\"" CTL_LABEL_MODEL "\"]",
                            "'%.300s' differs from metadata.labels (%.300s)", tmodel, model);
    const char *engine = ctl_obj_map_str(labels, CTL_LABEL_ENGINE);
    if (!engine) engine = ctl_obj_map_str(tlabels, CTL_LABEL_ENGINE);
    if (!engine) engine = "vllm";
    if (!ctl_name_valid(engine))
        return ctl_obj_fail(c, "metadata.labels[\"" CTL_LABEL_ENGINE "\"]",
                            "'%.300s' is not a valid name", engine);
    int rc = 0;
    d->model = ctl_obj_dup_or_oom(c, model, &rc);
    if (rc) return -1;
    d->engine = ctl_obj_dup_or_oom(c, engine, &rc);
    if (rc) return -1;
    d->pod_labels = tlabels ? json_deep_copy(tlabels) : json_object();
    if (!d->pod_labels || json_object_set_new(d->pod_labels, CTL_LABEL_MODEL, json_string(model)))
        return ctl_obj_oom(c);

    if (ctl_obj_parse_container(c, d, tspec) < 0) return -1;

    d->startup_timeout_s = 600;
    d->drain_grace_s = 30;
    int64_t grace = 0;
    r = tspec ? ctl_obj_get_int(c, tspec, "terminationGracePeriodSeconds",
                                "spec.template.spec.terminationGracePeriodSeconds", 0, 3600, &grace)
              : 0;
    if (r < 0) return -1;
    if (r) d->drain_grace_s = (double)grace;
    if (ctl_obj_ann_number(c, ann, CTL_ANN_STARTUP_TIMEOUT, 0.001, 86400, &d->startup_timeout_s) <
            0 ||
        ctl_obj_ann_number(c, ann, CTL_ANN_DRAIN_GRACE, 0, 3600, &d->drain_grace_s) < 0)
        return -1;
    const char *strategy = ctl_obj_map_str(ann, CTL_ANN_ROUTING_STRATEGY);
    if (strategy) {
        if (!gw_strategy_find(strategy))
            return ctl_obj_fail(c, "metadata.annotations[\"" CTL_ANN_ROUTING_STRATEGY "\"]",
                                "unknown routing strategy '%.100s'", strategy);
        d->routing_strategy = ctl_obj_dup_or_oom(c, strategy, &rc);
        if (rc) return -1;
    }
    return 0;
}

static void ctl_obj_deployment_clear(ctl_deployment *d)
{
    if (d->argv)
        for (size_t i = 0; i < d->argc; i++)
            free(d->argv[i]);
    free(d->argv);
    if (d->env)
        for (size_t i = 0; i < d->nenv; i++) {
            free(d->env[i].name);
            free(d->env[i].value);
        }
    free(d->env);
    free(d->model);
    free(d->engine);
    free(d->health_path);
    free(d->routing_strategy);
    json_decref(d->pod_labels);
}

/* ---- ModelAdapter ---- */

/* AIBrix's webhook list, plus what brix resolves locally: http(s)://
 * (downloaded into the adapter cache) and file:// (a local path). */
static int ctl_obj_artifact_url_valid(const char *u)
{
    static const char *const schemes[] = {"s3://", "gcs://",  "tos://",   "huggingface://",
                                          "hf://", "http://", "https://", "file://"};
    if (!ctl_obj_str_clean(u) || strpbrk(u, " \t")) return 0;
    if (u[0] == '/') return u[1] != '\0';
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(u, schemes[i], n) == 0) return u[n] != '\0' && u[n] != '/';
    }
    return 0;
}

static int ctl_obj_parse_adapter(ctl_obj_pctx *c, const json_t *doc)
{
    ctl_adapter *a = &c->o->u.ma;
    const json_t *spec = NULL, *sel = NULL, *ml = NULL, *cfg = NULL;
    int r = ctl_obj_get_obj(c, doc, "spec", "spec", &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec", "required");
    int rc = 0;

    const char *base = NULL;
    if (ctl_obj_get_str(c, spec, "baseModel", "spec.baseModel", &base) < 0) return -1;
    if (base && !ctl_obj_model_name_valid(base))
        return ctl_obj_fail(c, "spec.baseModel", "'%.300s' is not a valid model name", base);
    if (base && !(a->base_model = ctl_obj_dup_or_oom(c, base, &rc))) return -1;

    if (ctl_obj_get_obj(c, spec, "podSelector", "spec.podSelector", &sel) < 0) return -1;
    if (sel && ctl_obj_get_map(c, sel, "matchLabels", "spec.podSelector.matchLabels", &ml) < 0)
        return -1;
    if (sel && json_object_get(sel, "matchExpressions"))
        ctl_obj_note(c->o,
                     "spec.podSelector.matchExpressions: ignored (only matchLabels selects pods)");
    if (ml && json_object_size(ml) > 0) {
        const char *sm = ctl_obj_map_str(ml, CTL_LABEL_MODEL);
        if (base && sm && strcmp(sm, base) != 0)
            return ctl_obj_fail(
                c, "spec.baseModel",
                "'%.300s' contradicts spec.podSelector.matchLabels[\"" CTL_LABEL_MODEL
                "\"] ('%.300s')",
                base, sm);
        a->match_labels = json_deep_copy(ml);
    } else if (base) {
        a->match_labels = json_pack("{ss}", CTL_LABEL_MODEL, base);
    } else {
        return ctl_obj_fail(c, "spec.podSelector.matchLabels", "required (or set spec.baseModel)");
    }
    if (!a->match_labels) return ctl_obj_oom(c);

    const char *url = NULL;
    r = ctl_obj_get_str(c, spec, "artifactURL", "spec.artifactURL", &url);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec.artifactURL", "required");
    if (!ctl_obj_artifact_url_valid(url))
        return ctl_obj_fail(
            c, "spec.artifactURL",
            "'%.300s' must start with s3://, gcs://, tos://, huggingface://, hf://, "
            "http://, https://, file:// or /",
            url);
    if (!(a->artifact_url = ctl_obj_dup_or_oom(c, url, &rc))) return -1;

    a->replicas = CTL_ADAPTER_ALL;
    const json_t *rv = json_object_get(spec, "replicas");
    if (rv && !json_is_null(rv)) {
        if (!json_is_integer(rv)) return ctl_obj_fail(c, "spec.replicas", "must be an integer");
        json_int_t x = json_integer_value(rv);
        if (x <= 0) return ctl_obj_fail(c, "spec.replicas", "must be > 0");
        if (x > CTL_MAX_REPLICAS)
            return ctl_obj_fail(c, "spec.replicas", "must be at most %d", CTL_MAX_REPLICAS);
        a->replicas = (int)x;
    }

    const char *sched = NULL;
    if (ctl_obj_get_str(c, spec, "schedulerName", "spec.schedulerName", &sched) < 0) return -1;
    a->sched = CTL_SCHED_LEAST_ADAPTERS;
    if (sched && strcmp(sched, "default") != 0) {
        static const ctl_adapter_sched all[] = {CTL_SCHED_LEAST_ADAPTERS, CTL_SCHED_BIN_PACK,
                                                CTL_SCHED_LEAST_LATENCY, CTL_SCHED_LEAST_THROUGHPUT,
                                                CTL_SCHED_RANDOM};
        size_t i = 0;
        for (; i < sizeof(all) / sizeof(all[0]); i++)
            if (strcmp(sched, ctl_adapter_sched_name(all[i])) == 0) break;
        if (i == sizeof(all) / sizeof(all[0]))
            return ctl_obj_fail(c, "spec.schedulerName",
                                "unknown scheduler '%.100s' (want default, leastAdapters, binPack, "
                                "leastLatency, leastThroughput or random)",
                                sched);
        a->sched = all[i];
    }

    if (ctl_obj_get_map(c, spec, "additionalConfig", "spec.additionalConfig", &cfg) < 0) return -1;
    a->additional_config = cfg ? json_deep_copy(cfg) : json_object();
    if (!a->additional_config) return ctl_obj_oom(c);
    const char *key = ctl_obj_map_str(cfg, "api-key");
    if (key && !(a->api_key = ctl_obj_dup_or_oom(c, key, &rc))) return -1;
    const char *sum = ctl_obj_map_str(cfg, "sha256");
    if (sum) {
        size_t n = strlen(sum);
        int hex = n == 64;
        for (size_t i = 0; hex && i < n; i++)
            hex = (sum[i] >= '0' && sum[i] <= '9') || (sum[i] >= 'a' && sum[i] <= 'f') ||
                  (sum[i] >= 'A' && sum[i] <= 'F');
        if (!hex) return ctl_obj_fail(c, "spec.additionalConfig.sha256", "must be 64 hex digits");
        if (!(a->sha256 = ctl_obj_dup_or_oom(c, sum, &rc))) return -1;
    }

    const json_t *cred = json_object_get(spec, "credentialsSecretRef");
    if (cred && !json_is_null(cred)) {
        if (!json_is_object(cred))
            return ctl_obj_fail(c, "spec.credentialsSecretRef", "must be a mapping");
        ctl_obj_note(c->o,
                     "spec.credentialsSecretRef: not supported locally (no Secrets; the artifact "
                     "is passed to the engine as is)");
    }
    return 0;
}

static void ctl_obj_adapter_clear(ctl_adapter *a)
{
    free(a->base_model);
    json_decref(a->match_labels);
    free(a->artifact_url);
    json_decref(a->additional_config);
    free(a->api_key);
    free(a->sha256);
}

/* ---- PodAutoscaler ---- */

static int ctl_obj_parse_autoscaler(ctl_obj_pctx *c, const json_t *doc)
{
    ctl_autoscaler *p = &c->o->u.pa;
    const json_t *spec = NULL, *ref = NULL;
    int r = ctl_obj_get_obj(c, doc, "spec", "spec", &spec);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec", "required");
    r = ctl_obj_get_obj(c, spec, "scaleTargetRef", "spec.scaleTargetRef", &ref);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "spec.scaleTargetRef", "required");
    const char *kind = NULL, *name = NULL, *strategy = NULL;
    r = ctl_obj_get_str(c, ref, "kind", "spec.scaleTargetRef.kind", &kind);
    if (r < 0) return -1;
    if (r == 0 || !kind[0]) return ctl_obj_fail(c, "spec.scaleTargetRef.kind", "required");
    if (strcmp(kind, "Deployment") != 0)
        return ctl_obj_fail(c, "spec.scaleTargetRef.kind",
                            "only Deployment can be scaled locally (got '%.100s')", kind);
    r = ctl_obj_get_str(c, ref, "name", "spec.scaleTargetRef.name", &name);
    if (r < 0) return -1;
    if (r == 0 || !name[0]) return ctl_obj_fail(c, "spec.scaleTargetRef.name", "required");
    if (!ctl_name_valid(name))
        return ctl_obj_fail(c, "spec.scaleTargetRef.name", "'%.100s' is not a DNS-1123 label",
                            name);
    r = ctl_obj_get_str(c, spec, "scalingStrategy", "spec.scalingStrategy", &strategy);
    if (r < 0) return -1;
    if (r == 0 || !strategy[0]) return ctl_obj_fail(c, "spec.scalingStrategy", "required");
    int rc = 0;
    if (!(p->target_kind = ctl_obj_dup_or_oom(c, kind, &rc)) ||
        !(p->target_name = ctl_obj_dup_or_oom(c, name, &rc)) ||
        !(p->strategy = ctl_obj_dup_or_oom(c, strategy, &rc)))
        return -1;
    return 0;
}

static void ctl_obj_autoscaler_clear(ctl_autoscaler *p)
{
    free(p->target_kind);
    free(p->target_name);
    free(p->strategy);
}

/* ---- objects ---- */

void ctl_obj_free(ctl_obj *o)
{
    if (!o) return;
    switch (o->kind) {
    case CTL_KIND_DEPLOYMENT:
        ctl_obj_deployment_clear(&o->u.dep);
        break;
    case CTL_KIND_MODEL_ADAPTER:
        ctl_obj_adapter_clear(&o->u.ma);
        break;
    case CTL_KIND_POD_AUTOSCALER:
        ctl_obj_autoscaler_clear(&o->u.pa);
        break;
    case CTL_KIND_NONE:
        break;
    }
    json_decref(o->raw);
    free(o);
}

static int ctl_obj_parse_doc(ctl_obj_pctx *c, const json_t *doc)
{
    ctl_obj *o = c->o;
    if (!json_is_object(doc))
        return ctl_obj_fail(c, NULL, "not a mapping (want an object with kind)");
    const char *kind = NULL, *api = NULL, *name = NULL;
    if (ctl_obj_get_str(c, doc, "kind", "kind", &kind) < 0) return -1;
    if (!kind) return ctl_obj_fail(c, "kind", "required");
    o->kind = ctl_kind_parse(kind);
    if (!strcmp(kind, CTL_GATEWAY_CONFIG_KIND))
        return ctl_obj_fail(c, "kind",
                            "%s is read by `brix up -f` when it starts (API keys), not applied or "
                            "stored: pass the file to brix up (see docs/security.md)",
                            CTL_GATEWAY_CONFIG_KIND);
    if (o->kind == CTL_KIND_NONE || strcmp(kind, ctl_kind_name(o->kind)) != 0) {
        o->kind = CTL_KIND_NONE;
        return ctl_obj_fail(
            c, "kind", "unknown kind '%.100s' (want Deployment, ModelAdapter or PodAutoscaler)",
            kind);
    }
    if (ctl_obj_get_str(c, doc, "apiVersion", "apiVersion", &api) < 0) return -1;
    if (!api)
        return ctl_obj_fail(c, "apiVersion", "required (%s)", ctl_obj_kind_api_version(o->kind));
    if (strcmp(api, ctl_obj_kind_api_version(o->kind)) != 0)
        return ctl_obj_fail(c, "apiVersion", "must be %s (got '%.100s')",
                            ctl_obj_kind_api_version(o->kind), api);
    const json_t *meta = NULL, *labels = NULL, *ann = NULL;
    int r = ctl_obj_get_obj(c, doc, "metadata", "metadata", &meta);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "metadata.name", "required");
    if (ctl_obj_get_str(c, meta, "name", "metadata.name", &name) < 0) return -1;
    if (!name) return ctl_obj_fail(c, "metadata.name", "required");
    if (!ctl_name_valid(name))
        return ctl_obj_fail(c, "metadata.name",
                            "'%.100s' is not a DNS-1123 label (1..63 of a-z, 0-9 and '-', "
                            "alphanumeric at both ends)",
                            name);
    memcpy(o->name, name, strlen(name) + 1);
    const char *ns = NULL;
    if (ctl_obj_get_str(c, meta, "namespace", "metadata.namespace", &ns) < 0) return -1;
    if (ctl_obj_get_map(c, meta, "labels", "metadata.labels", &labels) < 0 ||
        ctl_obj_get_map(c, meta, "annotations", "metadata.annotations", &ann) < 0)
        return -1;

    o->raw = json_deep_copy(doc);
    if (!o->raw) return ctl_obj_oom(c);
    (void)json_object_del(o->raw, "status"); /* absent is fine */

    switch (o->kind) {
    case CTL_KIND_DEPLOYMENT:
        return ctl_obj_parse_deployment(c, doc, labels, ann);
    case CTL_KIND_MODEL_ADAPTER:
        return ctl_obj_parse_adapter(c, doc);
    case CTL_KIND_POD_AUTOSCALER:
        return ctl_obj_parse_autoscaler(c, doc);
    case CTL_KIND_NONE:
        break;
    }
    return ctl_obj_fail(c, "kind", "unknown");
}

int ctl_obj_parse(const json_t *doc, ctl_obj **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    ctl_obj *o = calloc(1, sizeof(*o));
    if (!o) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -1;
    }
    ctl_obj_pctx c = {o, err, errlen};
    if (ctl_obj_parse_doc(&c, doc) < 0) {
        ctl_obj_free(o);
        return -1;
    }
    *out = o;
    return 0;
}

void ctl_objs_free(ctl_obj **objs, size_t n)
{
    if (!objs) return;
    for (size_t i = 0; i < n; i++)
        ctl_obj_free(objs[i]);
    free(objs);
}

int ctl_obj_parse_all(const json_t *docs, ctl_obj ***out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    if (!json_is_array(docs)) {
        if (err && errlen) snprintf(err, errlen, "expected a list of documents");
        return -1;
    }
    size_t total = json_array_size(docs);
    if (total > CTL_MAX_DOCS) {
        if (err && errlen) snprintf(err, errlen, "more than %d documents", CTL_MAX_DOCS);
        return -1;
    }
    ctl_obj **objs = calloc(total ? total : 1, sizeof(*objs));
    if (!objs) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    char one[512];
    for (size_t i = 0; i < total; i++) {
        const json_t *d = json_array_get(docs, i);
        if (json_is_null(d)) continue;
        if (ctl_obj_parse(d, &objs[k], one, sizeof(one)) < 0) {
            if (err && errlen) {
                if (total > 1)
                    snprintf(err, errlen, "document %zu: %s", i + 1, one);
                else
                    snprintf(err, errlen, "%s", one);
            }
            ctl_objs_free(objs, k);
            return -1;
        }
        k++;
    }
    *out = objs;
    *n = k;
    return 0;
}

int ctl_obj_load_yaml(const char *buf, size_t len, ctl_obj ***out, size_t *n, char *err,
                      size_t errlen)
{
    json_t *docs = NULL;
    *out = NULL;
    *n = 0;
    if (bx_yaml_load_all(buf, len, NULL, &docs, err, errlen) < 0) return -1;
    int r = ctl_obj_parse_all(docs, out, n, err, errlen);
    json_decref(docs);
    return r;
}

int ctl_obj_gateway_config_parse(const json_t *doc, const char *file, ctl_gateway_config *gc,
                                 char *err, size_t errlen)
{
    const char *k;
    const json_t *v;
    gc->key_file[0] = '\0';
    const char *api = json_string_value(json_object_get(doc, "apiVersion"));
    if (!api || strcmp(api, CTL_GATEWAY_CONFIG_API) != 0)
        return bx_errf(err, errlen, "GatewayConfig: apiVersion must be %s", CTL_GATEWAY_CONFIG_API);
    json_object_foreach((json_t *)doc, k, v)
    {
        if (strcmp(k, "apiVersion") && strcmp(k, "kind") && strcmp(k, "metadata") &&
            strcmp(k, "spec"))
            return bx_errf(err, errlen, "GatewayConfig: unknown field '%.64s'", k);
    }
    const json_t *spec = json_object_get(doc, "spec");
    if (!json_is_object(spec))
        return bx_errf(err, errlen, "GatewayConfig: spec: required, a mapping");
    int found = 0;
    char e[512];
    json_object_foreach((json_t *)spec, k, v)
    {
        if (!strcmp(k, "apiKeys")) {
            size_t i;
            const json_t *key;
            if (!json_is_array(v))
                return bx_errf(err, errlen, "GatewayConfig: spec.apiKeys: a list of strings");
            json_array_foreach(v, i, key)
            {
                if (!json_is_string(key) ||
                    bx_apikeys_add(&gc->keys, json_string_value(key), json_string_length(key), e,
                                   sizeof(e)) != 0)
                    return bx_errf(err, errlen, "GatewayConfig: spec.apiKeys[%zu]: %s", i,
                                   json_is_string(key) ? e : "not a string");
                found++;
            }
        } else if (!strcmp(k, "apiKeyFile")) {
            const char *path = json_string_value(v);
            if (!path || !*path)
                return bx_errf(err, errlen, "GatewayConfig: spec.apiKeyFile: a file name");
            const char *slash = file ? strrchr(file, '/') : NULL;
            if (path[0] != '/' && slash)
                snprintf(gc->key_file, sizeof(gc->key_file), "%.*s/%s", (int)(slash - file), file,
                         path);
            else
                snprintf(gc->key_file, sizeof(gc->key_file), "%s", path);
            found++; /* its load fails when it holds no key */
        } else {
            return bx_errf(err, errlen,
                           "GatewayConfig: spec: unknown field '%.64s' (apiKeys, apiKeyFile)", k);
        }
    }
    if (!found) return bx_errf(err, errlen, "GatewayConfig: spec: no key in apiKeys or apiKeyFile");
    return 0;
}

int ctl_labels_match(const json_t *match_labels, const json_t *labels)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)match_labels, k, v)
    {
        const char *want = json_string_value(v);
        const char *have = json_string_value(json_object_get(labels, k));
        if (!want || !have || strcmp(want, have) != 0) return 0;
    }
    return 1;
}

/* ---- rendering ---- */

/* Substitutes placeholders of t into dst (NULL: only measure). Returns the
 * length without the NUL. */
static size_t ctl_obj_subst(const char *t, const ctl_obj *o, const ctl_render_vars *v, char *dst)
{
    char port[16], replica[16];
    snprintf(port, sizeof(port), "%d", v->port);
    snprintf(replica, sizeof(replica), "%d", v->replica);
    const struct {
        const char *key;
        const char *val;
    } map[] = {
        {"{port}", port},
        {"{host}", v->host ? v->host : "127.0.0.1"},
        {"{model}", o->u.dep.model},
        {"{name}", o->name},
        {"{replica}", replica},
        {"{brix}", v->brix ? v->brix : "brix"},
    };
    size_t n = 0;
    while (*t) {
        size_t i = 0;
        if (*t == '{')
            for (; i < sizeof(map) / sizeof(map[0]); i++)
                if (strncmp(t, map[i].key, strlen(map[i].key)) == 0) break;
        if (*t == '{' && i < sizeof(map) / sizeof(map[0])) {
            size_t l = strlen(map[i].val);
            if (dst) memcpy(dst + n, map[i].val, l);
            n += l;
            t += strlen(map[i].key);
        } else {
            if (dst) dst[n] = *t;
            n++;
            t++;
        }
    }
    if (dst) dst[n] = '\0';
    return n;
}

static int ctl_obj_render_list(const ctl_obj *o, const ctl_render_vars *v, size_t count,
                               const char *(*get)(const ctl_obj *, size_t, const char **),
                               char ***out, char *err, size_t errlen)
{
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        const char *prefix = NULL;
        const char *t = get(o, i, &prefix);
        bytes += (prefix ? strlen(prefix) + 1 : 0) + ctl_obj_subst(t, o, v, NULL) + 1;
        if (bytes > RENDER_MAX_BYTES) {
            if (err && errlen) snprintf(err, errlen, "rendered command longer than 1 MiB");
            return -1;
        }
    }
    size_t ptrs = (count + 1) * sizeof(char *);
    char **arr = malloc(ptrs + bytes);
    if (!arr) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *p = (char *)arr + ptrs;
    for (size_t i = 0; i < count; i++) {
        const char *prefix = NULL;
        const char *t = get(o, i, &prefix);
        arr[i] = p;
        if (prefix) {
            size_t l = strlen(prefix);
            memcpy(p, prefix, l);
            p[l] = '=';
            p += l + 1;
        }
        p += ctl_obj_subst(t, o, v, p) + 1;
    }
    arr[count] = NULL;
    *out = arr;
    return 0;
}

/* A program named plain "brix" is this brix, as {brix} is: manifests can
 * say `command: [brix, engine, ...]` without brix on PATH. */
static const char *ctl_obj_argv_at(const ctl_obj *o, size_t i, const char **prefix)
{
    *prefix = NULL;
    if (i == 0 && strcmp(o->u.dep.argv[0], "brix") == 0) return "{brix}";
    return o->u.dep.argv[i];
}

static const char *ctl_obj_env_at(const ctl_obj *o, size_t i, const char **prefix)
{
    *prefix = o->u.dep.env[i].name;
    return o->u.dep.env[i].value;
}

int ctl_deployment_render(const ctl_obj *o, const ctl_render_vars *v, char ***argv, char ***envp,
                          char *err, size_t errlen)
{
    *argv = NULL;
    if (envp) *envp = NULL;
    if (!o || o->kind != CTL_KIND_DEPLOYMENT) {
        if (err && errlen) snprintf(err, errlen, "not a Deployment");
        return -1;
    }
    if (ctl_obj_render_list(o, v, o->u.dep.argc, ctl_obj_argv_at, argv, err, errlen) < 0) return -1;
    if (envp && ctl_obj_render_list(o, v, o->u.dep.nenv, ctl_obj_env_at, envp, err, errlen) < 0) {
        free(*argv);
        *argv = NULL;
        return -1;
    }
    return 0;
}
