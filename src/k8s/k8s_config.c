/* k8s_config: see k8s_config.h. The kubeconfig is turned into JSON first
 * (bx_yaml reads JSON too, as it is YAML), then resolved by name lookups in
 * the clusters/users/contexts lists; several files are merged into one JSON
 * document before that, so resolving has one path. */
#include "k8s/k8s_config.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_yaml.h"

#define KUBECONFIG_MAX (4u << 20)
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount/"

void k8s_incluster_paths_default(k8s_incluster_paths *p)
{
    p->token = SA_DIR "token";
    p->ca = SA_DIR "ca.crt";
    p->ns = SA_DIR "namespace";
}

void k8s_config_free(k8s_config *c)
{
    free(c->server);
    free(c->ns);
    free(c->ca_file);
    free(c->ca_data);
    free(c->token);
    free(c->token_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->cert_data);
    free(c->key_data);
    memset(c, 0, sizeof(*c));
}

char *k8s_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n > max) {
            snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
            free(b);
            b = NULL;
            break;
        }
        if (r == 0) break;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!b) {
        if (!err[0]) snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        free(b);
        return NULL;
    }
    b[n] = '\0';
    if (len) *len = n;
    return b;
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return strndup(s, n);
}

/* Standard base64 (whitespace ignored) into a new buffer. -1 when invalid. */
static int b64_decode(const char *in, char **out, size_t *outlen)
{
    size_t n = strlen(in);
    char *clean = malloc(n + 4);
    if (!clean) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ' && in[i] != '\t') clean[m++] = in[i];
    while (m % 4)
        clean[m++] = '='; /* unpadded input */
    clean[m] = '\0';
    unsigned char *dec = malloc(m / 4 * 3 + 1);
    int r = dec ? EVP_DecodeBlock(dec, (const unsigned char *)clean, (int)m) : -1;
    if (r < 0) {
        free(clean);
        free(dec);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    for (size_t i = m; i > 0 && clean[i - 1] == '='; i--)
        r--;
    free(clean);
    if (r < 0) r = 0;
    dec[r] = '\0';
    *out = (char *)dec;
    *outlen = (size_t)r;
    return 0;
}

/* The "<what>" entry named name in doc[list] (kubeconfig's named-list
 * shape: [{name, <what>: {...}}]). */
static const json_t *named(const json_t *doc, const char *list, const char *what, const char *name)
{
    const json_t *arr = json_object_get(doc, list);
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0) {
            const json_t *v = json_object_get(e, what);
            return json_is_object(v) ? v : NULL;
        }
    }
    return NULL;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && s[0] ? s : NULL;
}

static char *path_dup(const char *base_dir, const char *p)
{
    if (!base_dir || p[0] == '/') return strdup(p);
    size_t n = strlen(base_dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r) snprintf(r, n, "%s/%s", base_dir, p);
    return r;
}

#define OOM_IF(x)                                                                                  \
    do {                                                                                           \
        if (!(x)) goto oom;                                                                        \
    } while (0)

static int resolve(const json_t *doc, const char *context, const char *base_dir, k8s_config *c,
                   char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "kubeconfig: not a mapping");
        return -1;
    }
    const char *ctxname = context ? context : str(doc, "current-context");
    if (!ctxname) {
        snprintf(err, errlen, "kubeconfig: no current-context (and none asked for)");
        return -1;
    }
    const json_t *ctx = named(doc, "contexts", "context", ctxname);
    if (!ctx) {
        snprintf(err, errlen, "kubeconfig: context \"%.128s\" not found", ctxname);
        return -1;
    }
    const char *clname = str(ctx, "cluster"), *uname = str(ctx, "user");
    const json_t *cl = clname ? named(doc, "clusters", "cluster", clname) : NULL;
    if (!cl) {
        snprintf(err, errlen, "kubeconfig: context \"%.128s\": cluster \"%.128s\" not found",
                 ctxname, clname ? clname : "");
        return -1;
    }
    const json_t *u = uname ? named(doc, "users", "user", uname) : NULL;
    if (uname && !u) {
        snprintf(err, errlen, "kubeconfig: context \"%.128s\": user \"%.128s\" not found", ctxname,
                 uname);
        return -1;
    }
    const char *server = str(cl, "server");
    if (!server || (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)) {
        snprintf(err, errlen, "kubeconfig: cluster \"%.128s\": server must be an http(s) URL",
                 clname);
        return -1;
    }
    if (u && (json_object_get(u, "exec") || json_object_get(u, "auth-provider"))) {
        snprintf(err, errlen,
                 "kubeconfig: user \"%.128s\": exec and auth-provider credential plugins are not "
                 "supported; use a token, tokenFile or client certificate",
                 uname);
        return -1;
    }
    size_t sl = strlen(server);
    while (sl > 0 && server[sl - 1] == '/')
        sl--;
    OOM_IF(c->server = strndup(server, sl));
    const char *ns = str(ctx, "namespace");
    OOM_IF(c->ns = strdup(ns ? ns : "default"));
    const json_t *ins = json_object_get(cl, "insecure-skip-tls-verify");
    c->insecure = json_is_true(ins);
    const char *s;
    if ((s = str(cl, "certificate-authority-data"))) {
        if (b64_decode(s, &c->ca_data, &c->ca_len) != 0) {
            snprintf(err, errlen, "kubeconfig: cluster \"%.128s\": bad certificate-authority-data",
                     clname);
            goto fail;
        }
    } else if ((s = str(cl, "certificate-authority"))) {
        OOM_IF(c->ca_file = path_dup(base_dir, s));
    }
    if (u) {
        if ((s = str(u, "token"))) OOM_IF(c->token = strdup(s));
        if ((s = str(u, "tokenFile"))) OOM_IF(c->token_file = path_dup(base_dir, s));
        if ((s = str(u, "client-certificate-data"))) {
            if (b64_decode(s, &c->cert_data, &c->cert_len) != 0) {
                snprintf(err, errlen, "kubeconfig: user \"%.128s\": bad client-certificate-data",
                         uname);
                goto fail;
            }
        } else if ((s = str(u, "client-certificate"))) {
            OOM_IF(c->cert_file = path_dup(base_dir, s));
        }
        if ((s = str(u, "client-key-data"))) {
            if (b64_decode(s, &c->key_data, &c->key_len) != 0) {
                snprintf(err, errlen, "kubeconfig: user \"%.128s\": bad client-key-data", uname);
                goto fail;
            }
        } else if ((s = str(u, "client-key"))) {
            OOM_IF(c->key_file = path_dup(base_dir, s));
        }
        int has_cert = c->cert_data || c->cert_file, has_key = c->key_data || c->key_file;
        if (has_cert != has_key) {
            snprintf(err, errlen,
                     "kubeconfig: user \"%.128s\": a client certificate needs its key and the "
                     "other way round",
                     uname);
            goto fail;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "kubeconfig: out of memory");
fail:
    k8s_config_free(c);
    return -1;
}

static json_t *load_doc(const char *buf, size_t len, char *err, size_t errlen)
{
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_bytes = KUBECONFIG_MAX;
    lim.max_nodes = 100000;
    json_t *doc = NULL;
    char yerr[200];
    if (bx_yaml_load(buf, len, &lim, &doc, yerr, sizeof(yerr)) != 0) {
        snprintf(err, errlen, "kubeconfig: %s", yerr);
        return NULL;
    }
    return doc;
}

int k8s_config_parse_kubeconfig(const char *buf, size_t len, const char *context,
                                const char *base_dir, k8s_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *doc = load_doc(buf, len, err, errlen);
    if (!doc) return -1;
    int r = resolve(doc, context, base_dir, out, err, errlen);
    json_decref(doc);
    return r;
}

int k8s_config_incluster(const k8s_incluster_paths *paths, k8s_config *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof(*out));
    k8s_incluster_paths def;
    if (!paths) {
        k8s_incluster_paths_default(&def);
        paths = &def;
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !host[0] || !port || !port[0]) {
        snprintf(err, errlen, "in-cluster: KUBERNETES_SERVICE_HOST and _PORT must be set");
        return -1;
    }
    size_t n = strlen(host) + strlen(port) + 16;
    out->server = malloc(n);
    if (!out->server) goto oom;
    /* An IPv6 service address needs brackets. */
    snprintf(out->server, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    size_t tl;
    char *tok = k8s_read_file(paths->token, 64 << 10, &tl, err, errlen);
    if (!tok) goto fail;
    out->token = trimmed_dup(tok, tl);
    free(tok);
    if (!out->token || !(out->token_file = strdup(paths->token))) goto oom;
    if (!(out->ca_file = strdup(paths->ca))) goto oom;
    char nerr[64] = "";
    char *ns = k8s_read_file(paths->ns, 4096, &tl, nerr, sizeof(nerr));
    out->ns = ns ? trimmed_dup(ns, tl) : strdup("default");
    free(ns);
    if (!out->ns) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "in-cluster: out of memory");
fail:
    k8s_config_free(out);
    return -1;
}

/* Adds the entries of src[list] whose names dst[list] lacks (first wins). */
static void merge_list(json_t *dst, const json_t *src, const char *list)
{
    json_t *sarr = json_object_get(src, list);
    if (!json_is_array(sarr)) return;
    json_t *darr = json_object_get(dst, list);
    if (!json_is_array(darr)) {
        darr = json_array();
        json_object_set_new(dst, list, darr);
    }
    size_t i, j;
    json_t *e, *d;
    json_array_foreach(sarr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (!n) continue;
        int dup = 0;
        json_array_foreach(darr, j, d)
        {
            const char *dn = json_string_value(json_object_get(d, "name"));
            if (dn && strcmp(dn, n) == 0) dup = 1;
        }
        if (!dup) json_array_append(darr, e);
    }
}

/* Makes the relative paths of one file's entries absolute (each file's
 * relative paths are relative to that file). */
static void absolutize(json_t *doc, const char *dir)
{
    static const char *const keys[][3] = {{"clusters", "cluster", "certificate-authority"},
                                          {"users", "user", "client-certificate"},
                                          {"users", "user", "client-key"},
                                          {"users", "user", "tokenFile"}};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(doc, keys[k][0]), i, e)
        {
            json_t *o = json_object_get(e, keys[k][1]);
            const char *p = str(o, keys[k][2]);
            if (!p || p[0] == '/') continue;
            char *a = path_dup(dir, p);
            if (a) json_object_set_new(o, keys[k][2], json_string(a));
            free(a);
        }
    }
}

int k8s_config_kubeconfig(const char *paths, const char *context, k8s_config *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char home_cfg[4096];
    if (!paths || !paths[0]) paths = getenv("KUBECONFIG");
    if (!paths || !paths[0]) {
        const char *home = getenv("HOME");
        if (!home) {
            snprintf(err, errlen, "kubeconfig: neither $KUBECONFIG nor $HOME is set");
            return -1;
        }
        snprintf(home_cfg, sizeof(home_cfg), "%s/.kube/config", home);
        paths = home_cfg;
    }
    char *list = strdup(paths);
    json_t *merged = json_object();
    int nfiles = 0, rc = -1;
    if (!list || !merged) {
        snprintf(err, errlen, "kubeconfig: out of memory");
        goto done;
    }
    char *save = NULL;
    for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        size_t len;
        char ferr[256] = "";
        char *buf = k8s_read_file(p, KUBECONFIG_MAX, &len, ferr, sizeof(ferr));
        if (!buf) {
            if (errno == ENOENT) continue; /* kubectl skips missing files of the list */
            snprintf(err, errlen, "kubeconfig: %s", ferr);
            goto done;
        }
        json_t *doc = load_doc(buf, len, err, errlen);
        free(buf);
        if (!doc) goto done;
        if (json_is_object(doc)) {
            char *slash = strrchr(p, '/');
            char dir[4096];
            snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - p) : 1, slash ? p : ".");
            absolutize(doc, dir);
            if (!json_object_get(merged, "current-context") && str(doc, "current-context"))
                json_object_set(merged, "current-context", json_object_get(doc, "current-context"));
            merge_list(merged, doc, "clusters");
            merge_list(merged, doc, "users");
            merge_list(merged, doc, "contexts");
        }
        json_decref(doc);
        nfiles++;
    }
    if (!nfiles) {
        snprintf(err, errlen, "kubeconfig: no file found in \"%.200s\"", paths);
        goto done;
    }
    rc = resolve(merged, context, NULL, out, err, errlen);
done:
    json_decref(merged);
    free(list);
    return rc;
}

int k8s_config_load(const char *kubeconfig, const char *context, k8s_config *out, char *err,
                    size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    if (!kubeconfig && host && host[0]) return k8s_config_incluster(NULL, out, err, errlen);
    return k8s_config_kubeconfig(kubeconfig, context, out, err, errlen);
}
