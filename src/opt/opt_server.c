/* opt_server: routes, the replicas metric, the /brix/load envelope and the
 * scale body (opt_server.h). */
#include "opt/opt_server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* [a-z0-9-], alphanumeric at both ends, 1..max bytes; dots allowed when
 * subdomain (each label then the same rule). */
static int opt_server_dns(const char *s, size_t n, size_t max, int subdomain)
{
    if (n == 0 || n > max) return 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || (subdomain && s[i] == '.')) {
            if (i == start || s[start] == '-' || s[i - 1] == '-') return 0;
            start = i + 1;
            continue;
        }
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return 1;
}

/* "<ns>/<name>" (exactly two segments) into r; 1 when valid. */
static int opt_server_ns_name(const char *p, opt_server_route *r)
{
    const char *slash = strchr(p, '/');
    if (!slash) return 0;
    size_t nl = (size_t)(slash - p);
    const char *name = slash + 1;
    size_t ml = strlen(name);
    if (!opt_server_dns(p, nl, 63, 0) || !opt_server_dns(name, ml, 253, 1)) return 0;
    memcpy(r->ns, p, nl);
    r->ns[nl] = '\0';
    memcpy(r->name, name, ml + 1);
    return 1;
}

static int opt_server_model(const char *p, opt_server_route *r)
{
    size_t n = strlen(p);
    if (n == 0 || n >= sizeof(r->model)) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e) return 0;
    memcpy(r->model, p, n + 1);
    return 1;
}

static opt_server_route_kind opt_server_method(opt_server_route *r, const char *method,
                                               const char *want, opt_server_route_kind k)
{
    if (strcmp(method, want) == 0 || (!strcmp(want, "GET") && !strcmp(method, "HEAD")))
        return r->kind = k;
    r->allow = want;
    return r->kind = OPT_SERVER_BAD_METHOD;
}

opt_server_route_kind opt_server_route_parse(const char *method, const char *path,
                                             opt_server_route *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = OPT_SERVER_NOT_FOUND;
    if (!method || !path) return r->kind;
    if (!strcmp(path, "/healthz")) return opt_server_method(r, method, "GET", OPT_SERVER_HEALTH);
    if (!strcmp(path, "/status")) return opt_server_method(r, method, "GET", OPT_SERVER_STATUS);
    if (!strncmp(path, "/metrics/", 9)) {
        if (!opt_server_ns_name(path + 9, r)) return r->kind;
        return opt_server_method(r, method, "GET", OPT_SERVER_METRICS);
    }
    if (!strncmp(path, "/assignment/", 12)) {
        if (!opt_server_model(path + 12, r)) return r->kind;
        return opt_server_method(r, method, "GET", OPT_SERVER_ASSIGNMENT);
    }
    if (!strncmp(path, "/update_profile/", 16)) {
        if (!opt_server_model(path + 16, r)) return r->kind;
        return opt_server_method(r, method, "GET", OPT_SERVER_UPDATE_PROFILE);
    }
    if (!strncmp(path, "/monitor/", 9)) {
        if (!opt_server_ns_name(path + 9, r)) return r->kind;
        if (!strcmp(method, "POST")) return r->kind = OPT_SERVER_MONITOR_ADD;
        if (!strcmp(method, "DELETE")) return r->kind = OPT_SERVER_MONITOR_DEL;
        r->allow = "POST, DELETE";
        return r->kind = OPT_SERVER_BAD_METHOD;
    }
    if (!strncmp(path, "/scale/", 7)) {
        const char *p = path + 7;
        /* AIBrix's POST /scale/<ns>/<dep>/<replicas> */
        const char *last = strrchr(p, '/');
        const char *first = strchr(p, '/');
        if (first && last && last != first) {
            char *end;
            long long v = strtoll(last + 1, &end, 10);
            if (last[1] == '\0' || *end || v < -1 || v > 100000) return r->kind;
            char buf[OPT_SERVER_NS_MAX + OPT_SERVER_NAME_MAX + 2];
            size_t n = (size_t)(last - p);
            if (n >= sizeof(buf)) return r->kind;
            memcpy(buf, p, n);
            buf[n] = '\0';
            if (!opt_server_ns_name(buf, r)) return r->kind;
            r->has_replicas = 1;
            r->replicas = v;
            return opt_server_method(r, method, "POST", OPT_SERVER_SCALE);
        }
        if (!opt_server_ns_name(p, r)) return r->kind;
        return opt_server_method(r, method, "PUT", OPT_SERVER_SCALE);
    }
    return r->kind;
}

int opt_server_route_public(opt_server_route_kind k)
{
    return k == OPT_SERVER_HEALTH || k == OPT_SERVER_METRICS || k == OPT_SERVER_ASSIGNMENT;
}

int opt_server_metric_text(const char *model, int64_t units, char *buf, size_t len)
{
    char esc[2 * OPT_SERVER_MODEL_MAX + 1];
    size_t o = 0;
    for (const char *p = model; *p && o + 2 < sizeof(esc); p++) {
        if (*p == '\\' || *p == '"') {
            esc[o++] = '\\';
            esc[o++] = *p;
        } else if (*p == '\n') {
            esc[o++] = '\\';
            esc[o++] = 'n';
        } else {
            esc[o++] = *p;
        }
    }
    esc[o] = '\0';
    int n = snprintf(buf, len,
                     "# HELP " OPT_SERVER_METRIC " Number of suggested replicas.\n"
                     "# TYPE " OPT_SERVER_METRIC " gauge\n" OPT_SERVER_METRIC
                     "{model_name=\"%s\"} %lld\n",
                     esc, (long long)units);
    if (n < 0 || (size_t)n >= len) return -1;
    return n;
}

int opt_server_load_parse(const char *json, size_t len, const char *model, opt_trace *out, int max,
                          int *n, char *err, size_t errlen)
{
    *n = 0;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", je.text);
        return -1;
    }
    int rc = -1;
    json_t *m = json_object_get(root, "model");
    json_t *ws = json_object_get(root, "windows");
    if (!json_is_object(root) || !json_is_string(m)) {
        snprintf(err, errlen, "model: want a string");
        goto out;
    }
    if (model && strcmp(json_string_value(m), model) != 0) {
        snprintf(err, errlen, "model: not the one asked for");
        goto out;
    }
    if (!json_is_array(ws)) {
        snprintf(err, errlen, "windows: want an array");
        goto out;
    }
    if (json_array_size(ws) > (size_t)max) {
        snprintf(err, errlen, "windows: more than %d", max);
        goto out;
    }
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w)
    {
        json_t *ts = json_object_get(w, "ts");
        json_t *tr = json_object_get(w, "trace");
        if (!json_is_integer(ts) || json_integer_value(ts) < 0 ||
            json_integer_value(ts) % OPT_TRACE_INTERVAL_S != 0) {
            snprintf(err, errlen, "windows[%zu].ts: want a multiple of %d", i,
                     OPT_TRACE_INTERVAL_S);
            goto out;
        }
        if (!json_is_object(tr)) {
            snprintf(err, errlen, "windows[%zu].trace: want an object", i);
            goto out;
        }
        int64_t t = (int64_t)json_integer_value(ts);
        for (int k = 0; k < *n; k++)
            if (out[k].ts == t) {
                snprintf(err, errlen, "windows[%zu].ts: repeated", i);
                goto out;
            }
        char *s = json_dumps(tr, JSON_COMPACT);
        if (!s) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        char e2[200];
        int prc = opt_trace_parse(s, strlen(s), t, &out[*n], e2, sizeof(e2));
        free(s);
        if (prc != 0) {
            snprintf(err, errlen, "windows[%zu].trace: %s", i, e2);
            goto out;
        }
        (*n)++;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc != 0) *n = 0;
    return rc;
}

int opt_server_scale_body(const char *body, size_t len, int64_t *replicas, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", je.text);
        return -1;
    }
    json_t *r = json_object_get(root, "replicas");
    int rc = -1;
    if (!json_is_integer(r) || json_integer_value(r) < -1 || json_integer_value(r) > 100000) {
        snprintf(err, errlen, "replicas: want an integer from -1 to 100000");
    } else {
        *replicas = (int64_t)json_integer_value(r);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

int opt_server_profile_matches(const char *gpu, const char *ns, const char *name)
{
    if (!gpu || !name || !name[0]) return 0;
    if (strcmp(gpu, name) == 0) return 1;
    size_t nl = ns ? strlen(ns) : 0;
    return nl && strncmp(gpu, ns, nl) == 0 && gpu[nl] == '/' && strcmp(gpu + nl + 1, name) == 0;
}
