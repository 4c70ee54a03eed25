/* ctl_obj_render: a Deployment's command template made into one replica's
 * argv and env (ctl_deployment_render): {port} {host} {model} {name}
 * {replica} {brix} {kv_events_port} {kv_events_replay_port} substituted, unknown {...} kept
 * verbatim, each result a single malloc'd block bounded by RENDER_MAX_BYTES. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_obj.h"

#define RENDER_MAX_BYTES (1u << 20)

/* Substitutes placeholders of t into dst (NULL: only measure). Returns the
 * length without the NUL. */
static size_t ctl_obj_subst(const char *t, const ctl_obj *o, const ctl_render_vars *v, char *dst)
{
    char port[16], replica[16], kvp[16], kvr[16];
    int kv = v->port + CTL_KV_EVENTS_OFFSET;
    snprintf(port, sizeof(port), "%d", v->port);
    snprintf(kvp, sizeof(kvp), "%d", kv);
    snprintf(kvr, sizeof(kvr), "%d", kv + 1);
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
        {"{kv_events_port}", kvp},
        {"{kv_events_replay_port}", kvr},
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
