/* ctl_obj_deployment: the Deployment kind (ctl_obj.h lists the fields
 * honoured): metadata labels and brix annotations, the engine command
 * template of containers[0] (command, args, env, readiness probe), kept as
 * typed copies for the orchestrator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_apikey.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_obj_int.h"
#include "gateway/gw_strategy.h"

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
        if (r == 0 && json_object_get(e, "valueFrom")) continue; /* named as not acted on */
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

/* s with its first "--port N" / "--port=N" (N digits, inside a longer
 * string such as a `sh -c` line) turned into "--port {port}" (malloc'd),
 * or NULL when it has none. *was gets N (truncated). */
static char *ctl_obj_port_in_line(const char *s, char *was, size_t wcap)
{
    for (const char *p = strstr(s, "--port"); p; p = strstr(p + 1, "--port")) {
        const char *v = p + 6;
        if (*v != ' ' && *v != '=') continue;
        v++;
        size_t n = strspn(v, "0123456789");
        if (n == 0 || (v[n] && v[n] != ' ' && v[n] != '\t' && v[n] != ';' && v[n] != '\n'))
            continue;
        snprintf(was, wcap, "%.*s", (int)(n < 15 ? n : 15), v);
        size_t pre = (size_t)(v - s), len = pre + 6 + strlen(v + n) + 1;
        char *out = malloc(len);
        if (out) snprintf(out, len, "%.*s{port}%s", (int)pre, s, v + n);
        return out;
    }
    return NULL;
}

/* 1 when argv starts an OpenAI-compatible server that listens on 8000
 * unless told: vLLM (`vllm serve`, `python -m vllm.entrypoints.openai.api_server`)
 * or brix's engine. */
static int ctl_obj_is_engine_server(const ctl_deployment *d)
{
    const char *b = strrchr(d->argv[0], '/');
    b = b ? b + 1 : d->argv[0];
    if ((!strcmp(b, "brix") || !strcmp(b, "{brix}")) && d->argc > 1 &&
        !strcmp(d->argv[1], "engine"))
        return 1;
    for (size_t i = 0; i < d->argc; i++)
        if (!strcmp(d->argv[i], "vllm.entrypoints.openai.api_server") ||
            (i > 0 && !strcmp(d->argv[i], "serve") &&
             (!strcmp(b, "vllm") || !strcmp(d->argv[i - 1], "vllm"))))
            return 1;
    return 0;
}

/* A command line without {port}, as AIBrix's manifests write them (`vllm
 * serve ... --port 8000`): its --port value becomes the port brix allocates
 * for each replica; an engine server without --port gets one. Noted. 1
 * done, 0 nothing to do, -1 out of memory. */
static int ctl_obj_port_remap(ctl_obj_pctx *c, ctl_deployment *d, const char *cpath)
{
    for (size_t i = 0; i < d->argc; i++) {
        char *rep = NULL, was[16] = "";
        if (!strcmp(d->argv[i], "--port") && i + 1 < d->argc) {
            snprintf(was, sizeof(was), "%s", d->argv[i + 1]);
            if (!(rep = strdup("{port}"))) return -1;
            i++;
        } else if (!strncmp(d->argv[i], "--port=", 7)) {
            snprintf(was, sizeof(was), "%s", d->argv[i] + 7);
            if (!(rep = strdup("--port={port}"))) return -1;
        } else if (!(rep = ctl_obj_port_in_line(d->argv[i], was, sizeof(was)))) {
            continue;
        }
        free(d->argv[i]);
        d->argv[i] = rep;
        ctl_obj_note(c->o, "%s: --port %s becomes the port brix allocates for each replica", cpath,
                     was);
        return 1;
    }
    if (!ctl_obj_is_engine_server(d)) return 0;
    char **nv = realloc(d->argv, (d->argc + 3) * sizeof(char *));
    if (!nv) return -1;
    d->argv = nv;
    d->argv[d->argc] = strdup("--port");
    d->argv[d->argc + 1] = strdup("{port}");
    d->argv[d->argc + 2] = NULL;
    if (!d->argv[d->argc] || !d->argv[d->argc + 1]) {
        free(d->argv[d->argc]);
        free(d->argv[d->argc + 1]);
        d->argv[d->argc] = NULL;
        return -1;
    }
    d->argc += 2;
    ctl_obj_note(c->o,
                 "%s: no --port (the server's default is 8000): --port set to the port brix "
                 "allocates for each replica",
                 cpath);
    return 1;
}

/* The port a command that takes none listens on, as AIBrix's gateway
 * reaches it: the pod label model.aibrix.ai/port, else containers[0]'s
 * first containerPort, else 8000. */
static int ctl_obj_fixed_port(const json_t *c0, const json_t *labels)
{
    const char *l = ctl_obj_map_str(labels, CTL_LABEL_PORT);
    char *end = NULL;
    long v = l ? strtol(l, &end, 10) : 0;
    if (l && end && !*end && v > 0 && v <= 65535) return (int)v;
    json_int_t cp = json_integer_value(
        json_object_get(json_array_get(json_object_get(c0, "ports"), 0), "containerPort"));
    return cp > 0 && cp <= 65535 ? (int)cp : 8000;
}

/* 1 when name is the name of a port of containers[0]. */
static int ctl_obj_port_named(const json_t *c0, const char *name)
{
    size_t i;
    const json_t *pt;
    json_array_foreach(json_object_get(c0, "ports"), i, pt)
    {
        const json_t *n = json_object_get(pt, "name");
        if (json_is_string(n) && !strcmp(json_string_value(n), name)) return 1;
    }
    return 0;
}

/* httpGet / tcpSocket's port: a number or the name of a containers[0]
 * port; either way the probe goes to the port brix allocates (the one the
 * engine was told), noted when the name matches nothing. */
static int ctl_obj_probe_port(ctl_obj_pctx *c, const json_t *c0, const json_t *h, const char *path)
{
    char pp[160];
    snprintf(pp, sizeof(pp), "%s.port", path);
    const json_t *port = json_object_get(h, "port");
    if (!port || json_is_null(port)) return 0;
    if (json_is_integer(port)) {
        if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
            return ctl_obj_fail(c, pp, "must be 1..65535 or a port name");
        return 0;
    }
    if (!json_is_string(port)) return ctl_obj_fail(c, pp, "must be a number or a port name");
    if (!ctl_obj_port_named(c0, json_string_value(port)))
        ctl_obj_note(c->o, "%s: '%.63s' names no port of containers[0]; probed on the pod's port",
                     pp, json_string_value(port));
    return 0;
}

/* containers[0][key]: one of httpGet, tcpSocket, exec and the timings,
 * with Kubernetes' defaults. */
static int ctl_obj_parse_probe(ctl_obj_pctx *c, const json_t *c0, const char *key, ctl_probe *pr)
{
    char path[96], p[160];
    snprintf(path, sizeof(path), "spec.template.spec.containers[0].%s", key);
    const json_t *probe = NULL, *h = NULL, *t = NULL, *e = NULL;
    pr->period_s = 10;
    pr->timeout_s = 1;
    pr->failure_threshold = 3;
    pr->success_threshold = 1;
    const char *hpath = "/";
    if (c0 && ctl_obj_get_obj(c, c0, key, path, &probe) < 0) return -1;
    if (probe) {
        pr->given = 1;
        snprintf(p, sizeof(p), "%s.httpGet", path);
        if (ctl_obj_get_obj(c, probe, "httpGet", p, &h) < 0) return -1;
        snprintf(p, sizeof(p), "%s.tcpSocket", path);
        if (ctl_obj_get_obj(c, probe, "tcpSocket", p, &t) < 0) return -1;
        snprintf(p, sizeof(p), "%s.exec", path);
        if (ctl_obj_get_obj(c, probe, "exec", p, &e) < 0) return -1;
        if (!!h + !!t + !!e + !!json_object_get(probe, "grpc") != 1)
            return ctl_obj_fail(c, path, "must have exactly one of httpGet, tcpSocket, exec, grpc");
        if (json_object_get(probe, "grpc")) {
            ctl_obj_note(c->o, "%s.grpc: not run locally (the probe always passes)", path);
            pr->given = 0;
            return 0;
        }
    }
    if (h) {
        snprintf(p, sizeof(p), "%s.httpGet.path", path);
        const char *s = NULL;
        if (ctl_obj_get_str(c, h, "path", p, &s) < 0) return -1;
        if (s) {
            if (s[0] != '/' || strlen(s) > 256 || strpbrk(s, " \t") || !ctl_obj_str_clean(s))
                return ctl_obj_fail(c, p, "must be an absolute path of at most 256 bytes");
            hpath = s;
        }
        snprintf(p, sizeof(p), "%s.httpGet", path);
        if (ctl_obj_probe_port(c, c0, h, p) < 0) return -1;
        const json_t *scheme = json_object_get(h, "scheme");
        if (json_object_get(h, "host") || json_object_get(h, "httpHeaders") ||
            (json_is_string(scheme) && strcmp(json_string_value(scheme), "HTTP")))
            ctl_obj_note(c->o,
                         "%s: host, scheme and httpHeaders ignored locally (plain GET on "
                         "127.0.0.1)",
                         p);
    } else if (t) {
        pr->kind = CTL_PROBE_TCP;
        snprintf(p, sizeof(p), "%s.tcpSocket", path);
        if (ctl_obj_probe_port(c, c0, t, p) < 0) return -1;
    } else if (e) {
        pr->kind = CTL_PROBE_EXEC;
        const json_t *cmd = NULL;
        snprintf(p, sizeof(p), "%s.exec.command", path);
        if (ctl_obj_get_arr(c, e, "command", p, &cmd) < 0) return -1;
        if (!cmd || json_array_size(cmd) == 0) return ctl_obj_fail(c, p, "required");
        if (json_array_size(cmd) > CTL_MAX_ARGS)
            return ctl_obj_fail(c, p, "more than %d entries", CTL_MAX_ARGS);
        if (!(pr->exec = calloc(json_array_size(cmd) + 1, sizeof(char *)))) return ctl_obj_oom(c);
        size_t n = 0;
        if (ctl_obj_parse_argv_list(c, cmd, p, pr->exec, &n) < 0) return -1;
    }
    int rc = 0;
    pr->path = ctl_obj_dup_or_oom(c, hpath, &rc);
    if (rc || !probe) return rc;
    static const struct {
        const char *key;
        int64_t min, max;
    } f[] = {{"initialDelaySeconds", 0, 86400},
             {"periodSeconds", 1, 86400},
             {"timeoutSeconds", 1, 3600},
             {"failureThreshold", 1, 100000},
             {"successThreshold", 1, 100000}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        int64_t v = 0;
        snprintf(p, sizeof(p), "%s.%s", path, f[i].key);
        int r = ctl_obj_get_int(c, probe, f[i].key, p, f[i].min, f[i].max, &v);
        if (r < 0) return -1;
        if (!r) continue;
        if (i == 0) pr->initial_delay_s = (double)v;
        if (i == 1) pr->period_s = (double)v;
        if (i == 2) pr->timeout_s = (double)v;
        if (i == 3) pr->failure_threshold = (int)v;
        if (i == 4) pr->success_threshold = (int)v;
    }
    if (pr->success_threshold != 1 && strcmp(key, "readinessProbe"))
        return ctl_obj_fail(c, path, "successThreshold must be 1 for liveness and startup probes");
    return 0;
}

/* The engine's key, as vLLM reads it: --api-key K / --api-key=K on the
 * command line (a `sh -c` line's words too), else env VLLM_API_KEY. */
static int ctl_obj_engine_key(ctl_obj_pctx *c, ctl_deployment *d)
{
    char key[CTL_API_KEY_MAX];
    const char *k = NULL;
    if (bx_apikey_from_words((const char *const *)d->argv, d->argc, key, sizeof(key))) k = key;
    for (size_t i = 0; !k && i < d->nenv; i++)
        if (!strcmp(d->env[i].name, "VLLM_API_KEY") && d->env[i].value[0]) k = d->env[i].value;
    if (!k) return 0;
    if (!bx_apikey_header_safe(k, CTL_API_KEY_MAX))
        return ctl_obj_fail(c, "spec.template.spec.containers[0]",
                            "the engine's API key (--api-key or VLLM_API_KEY) must be 1..%d "
                            "bytes of printable ASCII without blanks",
                            CTL_API_KEY_MAX - 1);
    int rc = 0;
    d->api_key = ctl_obj_dup_or_oom(c, k, &rc);
    return rc ? -1 : 0;
}

/* The value of option opt (argv[i] "opt" followed by a value, or
 * "opt=value") made val: 1 done, 0 not there, -1 out of memory. */
static int ctl_obj_set_option(ctl_deployment *d, const char *opt, const char *val)
{
    size_t ol = strlen(opt);
    for (size_t i = 1; i < d->argc; i++) {
        char *rep = NULL;
        size_t slot = i;
        if (!strcmp(d->argv[i], opt) && i + 1 < d->argc) {
            slot = i + 1;
            rep = strdup(val);
        } else if (!strncmp(d->argv[i], opt, ol) && d->argv[i][ol] == '=') {
            size_t len = ol + 1 + strlen(val) + 1;
            if ((rep = malloc(len))) snprintf(rep, len, "%s=%s", opt, val);
        } else {
            continue;
        }
        if (!rep) return -1;
        free(d->argv[slot]);
        d->argv[slot] = rep;
        return 1;
    }
    return 0;
}

/* vLLM's --kv-events-config JSON (argv[i]; "=JSON" after the option when
 * eq) with endpoint and replay_endpoint made the pod's own, bound on
 * every address: 1 done, 0 not a JSON object (left), -1 out of memory. */
static int ctl_obj_kv_events_json(ctl_deployment *d, size_t i, int eq)
{
    const char *opt = "--kv-events-config=";
    const char *text = d->argv[i] + (eq ? strlen(opt) : 0);
    json_t *j = json_loads(text, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    if (json_object_set_new(j, "endpoint", json_string("tcp://*:{kv_events_port}")) ||
        json_object_set_new(j, "replay_endpoint", json_string("tcp://*:{kv_events_replay_port}"))) {
        json_decref(j);
        return -1;
    }
    char *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!out) return -1;
    size_t len = (eq ? strlen(opt) : 0) + strlen(out) + 1;
    char *rep = malloc(len);
    if (rep) snprintf(rep, len, "%s%s", eq ? opt : "", out);
    free(out);
    if (!rep) return -1;
    free(d->argv[i]);
    d->argv[i] = rep;
    return 1;
}

/* A vLLM server's --kv-events-config made the pod's own (1), 0 when it
 * has none, -1 out of memory. */
static int ctl_obj_kv_events_vllm(ctl_deployment *d)
{
    for (size_t i = 1; i < d->argc; i++) {
        if (!strcmp(d->argv[i], "--kv-events-config") && i + 1 < d->argc)
            return ctl_obj_kv_events_json(d, i + 1, 0);
        if (!strncmp(d->argv[i], "--kv-events-config=", 19)) return ctl_obj_kv_events_json(d, i, 1);
    }
    return 0;
}

/* Appends a (and b unless NULL) to d's arguments. 0, or -1 out of memory. */
static int ctl_obj_add_args(ctl_deployment *d, const char *a, const char *b)
{
    char **nv = realloc(d->argv, (d->argc + 3) * sizeof(char *));
    if (!nv) return -1;
    d->argv = nv;
    char *x = strdup(a), *y = b ? strdup(b) : NULL;
    if (!x || (b && !y)) {
        free(x);
        free(y);
        d->argv[d->argc] = NULL;
        return -1;
    }
    d->argv[d->argc++] = x;
    if (y) d->argv[d->argc++] = y;
    d->argv[d->argc] = NULL;
    return 0;
}

/* The label model.aibrix.ai/kv-events-enabled=true on a brix engine
 * command: its KV events published at the pod's own ports (HTTP port +
 * CTL_KV_EVENTS_OFFSET, replay + 1) on the loopback address (the gateway
 * of brix up reads them there; --kv-events-bind, as brix engine, like
 * vLLM, binds only an endpoint with '*' or '::' otherwise): the
 * --kv-events and --kv-events-replay values rewritten (AIBrix's manifests
 * bind 5557 and 5558 on every address, one port pair that replicas sharing
 * a host cannot all bind), or added. A vLLM server's --kv-events-config
 * endpoints are rewritten to the pod's ports on every address (vLLM binds
 * nothing else). Any other command is left as written (noted). 0, or -1
 * out of memory. */
static int ctl_obj_kv_events_args(ctl_obj_pctx *c, ctl_deployment *d, const char *cpath)
{
    static const char *const opt[2] = {"--kv-events", "--kv-events-replay"};
    static const char *const ep[2] = {"tcp://127.0.0.1:{kv_events_port}",
                                      "tcp://127.0.0.1:{kv_events_replay_port}"};
    const char *b = strrchr(d->argv[0], '/');
    b = b ? b + 1 : d->argv[0];
    if (!((!strcmp(b, "brix") || !strcmp(b, "{brix}")) && d->argc > 1 &&
          !strcmp(d->argv[1], "engine"))) {
        int r = ctl_obj_is_engine_server(d) ? ctl_obj_kv_events_vllm(d) : 0;
        if (r < 0) return -1;
        if (r > 0)
            ctl_obj_note(c->o,
                         "%s: label " CTL_LABEL_KV_EVENTS "=true: --kv-events-config's endpoint "
                         "at each replica's port + %d, replay_endpoint + %d",
                         cpath, CTL_KV_EVENTS_OFFSET, CTL_KV_EVENTS_OFFSET + 1);
        else
            ctl_obj_note(c->o,
                         "%s: label " CTL_LABEL_KV_EVENTS "=true on a command that is not brix "
                         "engine nor vLLM with --kv-events-config: run as written (its KV events "
                         "are followed at its port + %d, replay + %d: {kv_events_port}, "
                         "{kv_events_replay_port})",
                         cpath, CTL_KV_EVENTS_OFFSET, CTL_KV_EVENTS_OFFSET + 1);
        return 0;
    }
    for (int k = 0; k < 2; k++) {
        int r = ctl_obj_set_option(d, opt[k], ep[k]);
        if (r < 0) return -1;
        if (r == 0 && ctl_obj_add_args(d, opt[k], ep[k]) != 0) return -1;
    }
    int bound = 0;
    for (size_t i = 2; i < d->argc; i++)
        bound |= !strcmp(d->argv[i], "--kv-events-bind");
    if (!bound && ctl_obj_add_args(d, "--kv-events-bind", NULL) != 0) return -1;
    ctl_obj_note(c->o,
                 "%s: label " CTL_LABEL_KV_EVENTS "=true: --kv-events at each replica's port + "
                 "%d, --kv-events-replay + %d",
                 cpath, CTL_KV_EVENTS_OFFSET, CTL_KV_EVENTS_OFFSET + 1);
    return 0;
}

static int ctl_obj_parse_container(ctl_obj_pctx *c, ctl_deployment *d, const json_t *tspec)
{
    static const char *const default_entry[] = {"{brix}", "engine"};
    /* LoRA on, as a vLLM serving adapters would be: AIBrix's LoRA tutorial
     * runs a Deployment without command and ModelAdapters on it */
    static const char *const default_args[] = {"--port", "{port}", "--model", "{model}",
                                               "--enable-lora"};
    const size_t ndefault_args = sizeof(default_args) / sizeof(default_args[0]);
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
        if (ctl_obj_get_arr(c, c0, "command", "spec.template.spec.containers[0].command",
                            &command) < 0 ||
            ctl_obj_get_arr(c, c0, "args", "spec.template.spec.containers[0].args", &args) < 0)
            return -1;
    }
    size_t ncmd = command ? json_array_size(command) : 0;
    size_t cap = (ncmd ? ncmd : 2) + (args ? json_array_size(args) : ndefault_args);
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
        for (size_t i = 0; i < ndefault_args; i++)
            if (!(d->argv[d->argc++] = strdup(default_args[i]))) return ctl_obj_oom(c);
    }
    if (d->argc == 0 || d->argv[0][0] == '\0')
        return ctl_obj_fail(c, "spec.template.spec.containers[0].command", "must name a program");

    const json_t *env = NULL;
    if (c0) {
        char p[128];
        snprintf(p, sizeof(p), "%s.env", cpath);
        if (ctl_obj_get_arr(c, c0, "env", p, &env) < 0) return -1;
    }
    if (env && ctl_obj_parse_env(c, d, env, cpath) < 0) return -1;
    if (!d->env && !(d->env = calloc(1, sizeof(ctl_env)))) return ctl_obj_oom(c);
    if (ctl_obj_engine_key(c, d) < 0) return -1;
    if (!ctl_obj_has_port_placeholder(d)) {
        int r = ctl_obj_port_remap(c, d, cpath);
        if (r < 0) return ctl_obj_oom(c);
        if (r == 0 && d->replicas > 1)
            return ctl_obj_fail(c, cpath,
                                "command/args/env must use the {port} placeholder or a --port "
                                "option (brix allocates each replica's port; a command that takes "
                                "none runs as one replica only)");
        if (r == 0) {
            d->fixed_port = ctl_obj_fixed_port(c0, d->pod_labels);
            ctl_obj_note(c->o,
                         "%s: no {port} placeholder or --port option: runs as written and is "
                         "reached on port %d (its model.aibrix.ai/port label, else its first "
                         "containerPort, else 8000), one replica only",
                         cpath, d->fixed_port);
        }
    }

    const char *kv = ctl_obj_map_str(d->pod_labels, CTL_LABEL_KV_EVENTS);
    d->kv_events = kv && !strcmp(kv, "true");
    if (d->kv_events && ctl_obj_kv_events_args(c, d, cpath) < 0) return ctl_obj_oom(c);

    if (ctl_obj_parse_probe(c, c0, "readinessProbe", &d->readiness) < 0 ||
        ctl_obj_parse_probe(c, c0, "livenessProbe", &d->liveness) < 0 ||
        ctl_obj_parse_probe(c, c0, "startupProbe", &d->startup) < 0)
        return -1;
    if (!d->readiness.given) { /* brix's own: GET /health every second */
        int rc = 0;
        free(d->readiness.path);
        d->readiness.path = ctl_obj_dup_or_oom(c, "/health", &rc);
        if (rc) return -1;
        d->readiness.period_s = 1;
        d->readiness.timeout_s = 0;
        d->readiness.failure_threshold = 0;
    }
    return 0;
}

int ctl_obj_parse_deployment(ctl_obj_pctx *c, const json_t *doc, const json_t *labels,
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

    /* The pods' label names the model (AIBrix's gateway reads the pods'),
     * else the Deployment's own. */
    const char *model = ctl_obj_map_str(labels, CTL_LABEL_MODEL);
    const char *tmodel = ctl_obj_map_str(tlabels, CTL_LABEL_MODEL);
    const char *mpath = "metadata.labels[\"" CTL_LABEL_MODEL "\"]";
    if (tmodel) {
        if (model && strcmp(tmodel, model) != 0)
            ctl_obj_note(c->o,
                         "%s: '%.100s' differs from the pod template's '%.100s': the pods' label "
                         "names the model, as in AIBrix",
                         mpath, model, tmodel);
        model = tmodel;
        mpath = "spec.template.metadata.labels[\"" CTL_LABEL_MODEL "\"]";
    }
    if (!model) return ctl_obj_fail(c, mpath, "required (the served model name)");
    if (!ctl_obj_model_name_valid(model))
        return ctl_obj_fail(c, mpath,
                            "'%.300s' is not a valid model name (1..255 of A-Za-z0-9._/:-)", model);
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

    const json_t *sel = NULL, *sml = NULL;
    if (ctl_obj_get_obj(c, spec, "selector", "spec.selector", &sel) < 0 ||
        (sel && ctl_obj_get_map(c, sel, "matchLabels", "spec.selector.matchLabels", &sml) < 0))
        return -1;
    if (sml && !ctl_labels_match(sml, d->pod_labels))
        return ctl_obj_fail(c, "spec.selector.matchLabels",
                            "does not match spec.template.metadata.labels (Kubernetes refuses "
                            "such a Deployment)");

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
        gw_strategy_plan plan;
        char perr[256];
        if (gw_strategy_plan_parse(strategy, &plan, perr, sizeof(perr)) != 0)
            return ctl_obj_fail(c, "metadata.annotations[\"" CTL_ANN_ROUTING_STRATEGY "\"]",
                                "unknown routing strategy '%.100s'", strategy);
        d->routing_strategy = ctl_obj_dup_or_oom(c, strategy, &rc);
        if (rc) return -1;
    }
    return 0;
}

void ctl_obj_deployment_clear(ctl_deployment *d)
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
    free(d->api_key);
    free(d->model);
    free(d->engine);
    ctl_probe *pr[] = {&d->readiness, &d->liveness, &d->startup};
    for (size_t k = 0; k < 3; k++) {
        free(pr[k]->path);
        if (pr[k]->exec)
            for (size_t i = 0; pr[k]->exec[i]; i++)
                free(pr[k]->exec[i]);
        free(pr[k]->exec);
    }
    free(d->routing_strategy);
    json_decref(d->pod_labels);
}
