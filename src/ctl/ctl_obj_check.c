/* ctl_obj_check: what every kind's parser shares (ctl_obj_int.h): the
 * kind table and name rules (exported through ctl_obj.h), the error and
 * note writers that prefix "<Kind> <name>: <field path>: ", and the typed
 * getters that walk the jansson tree; ctl_labels_match and ctl_obj_model,
 * leaves every kind's file may call. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_err.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_obj_int.h"

typedef struct ctl_obj_kind_row {
    ctl_kind kind;
    const char *name, *lower, *plural, *shortname; /* shortname may be NULL */
    const char *apis[3];                           /* the first is the canonical one */
    int acted_on;
} ctl_obj_kind_row;

static const ctl_obj_kind_row ctl_obj_kinds[] = {
    {CTL_KIND_DEPLOYMENT, "Deployment", "deployment", "deployments", "deploy", {"apps/v1"}, 1},
    {CTL_KIND_MODEL_ADAPTER,
     "ModelAdapter",
     "modeladapter",
     "modeladapters",
     "ma",
     {"model.aibrix.ai/v1alpha1"},
     1},
    {CTL_KIND_POD_AUTOSCALER,
     "PodAutoscaler",
     "podautoscaler",
     "podautoscalers",
     "pa",
     {"autoscaling.aibrix.ai/v1alpha1"},
     1},
    {CTL_KIND_SERVICE, "Service", "service", "services", "svc", {"v1"}, 1},
    {CTL_KIND_SERVICE_ACCOUNT,
     "ServiceAccount",
     "serviceaccount",
     "serviceaccounts",
     "sa",
     {"v1"},
     0},
    {CTL_KIND_CONFIG_MAP, "ConfigMap", "configmap", "configmaps", "cm", {"v1"}, 0},
    {CTL_KIND_SECRET, "Secret", "secret", "secrets", NULL, {"v1"}, 0},
    {CTL_KIND_NAMESPACE, "Namespace", "namespace", "namespaces", "ns", {"v1"}, 0},
    {CTL_KIND_PVC,
     "PersistentVolumeClaim",
     "persistentvolumeclaim",
     "persistentvolumeclaims",
     "pvc",
     {"v1"},
     0},
    {CTL_KIND_HPA,
     "HorizontalPodAutoscaler",
     "horizontalpodautoscaler",
     "horizontalpodautoscalers",
     "hpa",
     {"autoscaling/v2", "autoscaling/v1"},
     0},
    {CTL_KIND_ROLE, "Role", "role", "roles", NULL, {"rbac.authorization.k8s.io/v1"}, 0},
    {CTL_KIND_CLUSTER_ROLE,
     "ClusterRole",
     "clusterrole",
     "clusterroles",
     NULL,
     {"rbac.authorization.k8s.io/v1"},
     0},
    {CTL_KIND_ROLE_BINDING,
     "RoleBinding",
     "rolebinding",
     "rolebindings",
     NULL,
     {"rbac.authorization.k8s.io/v1"},
     0},
    {CTL_KIND_CLUSTER_ROLE_BINDING,
     "ClusterRoleBinding",
     "clusterrolebinding",
     "clusterrolebindings",
     NULL,
     {"rbac.authorization.k8s.io/v1"},
     0},
    {CTL_KIND_INGRESS, "Ingress", "ingress", "ingresses", "ing", {"networking.k8s.io/v1"}, 0},
    {CTL_KIND_HTTP_ROUTE,
     "HTTPRoute",
     "httproute",
     "httproutes",
     NULL,
     {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"},
     0},
    {CTL_KIND_GATEWAY,
     "Gateway",
     "gateway",
     "gateways",
     NULL,
     {"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"},
     0},
    {CTL_KIND_STATEFUL_SET, "StatefulSet", "statefulset", "statefulsets", "sts", {"apps/v1"}, 0},
    /* AIBrix and KubeRay define no short names for these */
    {CTL_KIND_RAYCLUSTER_FLEET,
     "RayClusterFleet",
     "rayclusterfleet",
     "rayclusterfleets",
     NULL,
     {"orchestration.aibrix.ai/v1alpha1"},
     1},
    {CTL_KIND_RAYCLUSTER_REPLICASET,
     "RayClusterReplicaSet",
     "rayclusterreplicaset",
     "rayclusterreplicasets",
     NULL,
     {"orchestration.aibrix.ai/v1alpha1"},
     1},
    {CTL_KIND_RAYCLUSTER,
     "RayCluster",
     "raycluster",
     "rayclusters",
     NULL,
     {"ray.io/v1", "ray.io/v1alpha1"},
     1},
};

#define CTL_OBJ_NKINDS (sizeof(ctl_obj_kinds) / sizeof(ctl_obj_kinds[0]))

static const ctl_obj_kind_row *ctl_obj_kind_find(ctl_kind k)
{
    for (size_t i = 0; i < CTL_OBJ_NKINDS; i++)
        if (ctl_obj_kinds[i].kind == k) return &ctl_obj_kinds[i];
    return NULL;
}

const char *ctl_kind_lower(ctl_kind k)
{
    const ctl_obj_kind_row *r = ctl_obj_kind_find(k);
    return r ? r->lower : "object";
}

const char *ctl_kind_name(ctl_kind k)
{
    const ctl_obj_kind_row *r = ctl_obj_kind_find(k);
    return r ? r->name : NULL;
}

const char *ctl_obj_kind_api_version(ctl_kind k)
{
    const ctl_obj_kind_row *r = ctl_obj_kind_find(k);
    return r ? r->apis[0] : NULL;
}

int ctl_obj_kind_api_ok(ctl_kind k, const char *api)
{
    const ctl_obj_kind_row *r = ctl_obj_kind_find(k);
    for (size_t i = 0; r && api && i < sizeof(r->apis) / sizeof(r->apis[0]) && r->apis[i]; i++)
        if (!strcmp(api, r->apis[i])) return 1;
    return 0;
}

int ctl_kind_acted_on(ctl_kind k)
{
    const ctl_obj_kind_row *r = ctl_obj_kind_find(k);
    return r ? r->acted_on : 0;
}

ctl_kind ctl_kind_parse(const char *s)
{
    if (!s) return CTL_KIND_NONE;
    for (size_t i = 0; i < CTL_OBJ_NKINDS; i++) {
        const ctl_obj_kind_row *r = &ctl_obj_kinds[i];
        if (!strcasecmp(s, r->name) || !strcasecmp(s, r->plural) ||
            (r->shortname && !strcasecmp(s, r->shortname)))
            return r->kind;
    }
    return CTL_KIND_NONE;
}

int ctl_name_is_label(const char *s)
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

int ctl_name_valid(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > CTL_NAME_MAX) return 0;
    char part[CTL_NAME_MAX + 1];
    for (const char *p = s;;) {
        size_t len = strcspn(p, ".");
        memcpy(part, p, len);
        part[len] = '\0';
        if (!ctl_name_is_label(part)) return 0;
        if (!p[len]) return 1;
        p += len + 1;
    }
}

const char *ctl_adapter_sched_name(ctl_adapter_sched s)
{
    if ((unsigned)s > CTL_SCHED_RANDOM) return "leastAdapters";
    return ctl_place_policy_name((ctl_place_policy)s);
}

/* ---- error and note helpers ---- */

int ctl_obj_fail(ctl_obj_pctx *c, const char *path, const char *fmt, ...)
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

void ctl_obj_note(ctl_obj *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bx_vcatf(o->notes, sizeof(o->notes), "; ", fmt, ap);
    va_end(ap);
}

int ctl_obj_oom(ctl_obj_pctx *c)
{
    return ctl_obj_fail(c, NULL, "out of memory");
}

/* Printable ASCII or UTF-8 bytes; no control characters. */
int ctl_obj_str_clean(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* ---- typed getters: 1 present, 0 absent (or null), -1 error ---- */

/* parent[key] when it is of type t ("must be <what>" otherwise). */
static int ctl_obj_get_typed(ctl_obj_pctx *c, const json_t *parent, const char *key,
                             const char *path, json_type t, const char *what, const json_t **out)
{
    *out = NULL;
    const json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v)) return 0;
    if (json_typeof(v) != t) return ctl_obj_fail(c, path, "must be %s", what);
    *out = v;
    return 1;
}

int ctl_obj_get_obj(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const json_t **out)
{
    return ctl_obj_get_typed(c, parent, key, path, JSON_OBJECT, "a mapping", out);
}

int ctl_obj_get_arr(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const json_t **out)
{
    return ctl_obj_get_typed(c, parent, key, path, JSON_ARRAY, "a list", out);
}

int ctl_obj_check_str(ctl_obj_pctx *c, const json_t *v, const char *path, const char **out)
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

int ctl_obj_get_str(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v)) return 0;
    return ctl_obj_check_str(c, v, path, out);
}

int ctl_obj_get_int(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
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
int ctl_obj_check_map(ctl_obj_pctx *c, const json_t *map, const char *path)
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

int ctl_obj_get_map(ctl_obj_pctx *c, const json_t *parent, const char *key, const char *path,
                    const json_t **out)
{
    int r = ctl_obj_get_obj(c, parent, key, path, out);
    if (r <= 0) return r;
    if (ctl_obj_check_map(c, *out, path) < 0) return -1;
    return 1;
}

const char *ctl_obj_map_str(const json_t *map, const char *key)
{
    return map ? json_string_value(json_object_get(map, key)) : NULL;
}

/* An annotation number: a string holding a finite number (ctl_obj_check_map has
 * made sure annotation values are strings). */
int ctl_obj_ann_number(ctl_obj_pctx *c, const json_t *ann, const char *key, double min, double max,
                       double *out)
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
int ctl_obj_model_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CTL_MODEL_NAME_MAX || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && !strchr("._/:-", ch)) return 0;
    }
    return 1;
}

char *ctl_obj_dup_or_oom(ctl_obj_pctx *c, const char *s, int *rc)
{
    char *d = strdup(s);
    if (!d) *rc = ctl_obj_oom(c);
    return d;
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

/* labels[model.aibrix.ai/name] of the mapping at doc.<a>.<b>.<c>... (NULL-ended path). */
static const char *ctl_obj_label_at(const json_t *v, const char *const *path)
{
    for (; *path; path++)
        v = json_object_get(v, *path);
    return json_string_value(json_object_get(v, CTL_LABEL_MODEL));
}

const char *ctl_obj_model(const ctl_obj *o)
{
    static const char *const own[] = {"metadata", "labels", NULL};
    static const char *const tmpl[] = {"spec", "template", "metadata", "labels", NULL};
    static const char *const head[] = {"spec",     "headGroupSpec", "template",
                                       "metadata", "labels",        NULL};
    if (!o) return NULL;
    const char *m = NULL;
    switch (o->kind) {
    case CTL_KIND_DEPLOYMENT:
        return o->u.dep.model;
    case CTL_KIND_RAYCLUSTER_FLEET:
    case CTL_KIND_RAYCLUSTER_REPLICASET:
        m = ctl_obj_label_at(o->raw, tmpl);
        return m ? m : ctl_obj_label_at(o->raw, own);
    case CTL_KIND_RAYCLUSTER: /* what its pods carry first, as for a fleet */
        m = ctl_obj_label_at(o->raw, head);
        return m ? m : ctl_obj_label_at(o->raw, own);
    default:
        return NULL;
    }
}
