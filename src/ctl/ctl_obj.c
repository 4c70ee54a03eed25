/* ctl_obj: parse and validate control-plane objects (see ctl_obj.h for the
 * fields honoured). Validation is a single pass over the jansson tree with a
 * context that knows the object's kind and name, so every message can be
 * "<Kind> <name>: <field path>: <what is wrong>". The typed views hold
 * their own copies of strings (strdup) so that they do not depend on raw.
 * This file takes a document to its kind's parser (ctl_obj_deployment.c,
 * ctl_obj_adapter.c, ctl_obj_core.c for the Kubernetes kinds; PodAutoscaler,
 * identity only, is here), frees objects, parses whole streams (skipping
 * unknown kinds with a warning), and reads GatewayConfig documents and label
 * selectors; ctl_obj_int.h lists the other files. */
#include "ctl/ctl_obj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_err.h"
#include "common/bx_yaml.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_obj_int.h"

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
    r = ctl_obj_get_str(c, ref, "name", "spec.scaleTargetRef.name", &name);
    if (r < 0) return -1;
    if (r == 0 || !name[0]) return ctl_obj_fail(c, "spec.scaleTargetRef.name", "required");
    if (!ctl_name_valid(name))
        return ctl_obj_fail(c, "spec.scaleTargetRef.name",
                            "'%.100s' is not a DNS-1123 subdomain of at most 63 bytes", name);
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
    case CTL_KIND_RAYCLUSTER_FLEET:
    case CTL_KIND_RAYCLUSTER_REPLICASET:
    case CTL_KIND_RAYCLUSTER:
        ctl_obj_ray_clear(o);
        break;
    default:
        ctl_obj_core_clear(o);
        break;
    }
    json_decref(o->raw);
    free(o);
}

/* 0 parsed, -1 invalid (message in c->err), 1 skipped: a kind or
 * apiVersion brix does not know, or a stored-only kind whose name it cannot
 * store (why in c->err, for ctl_obj_parse_all's warning). */
static int ctl_obj_parse_doc(ctl_obj_pctx *c, const json_t *doc)
{
    ctl_obj *o = c->o;
    if (!json_is_object(doc))
        return ctl_obj_fail(c, NULL, "not a mapping (want an object with kind)");
    const char *kind = NULL, *api = NULL, *name = NULL;
    if (ctl_obj_get_str(c, doc, "kind", "kind", &kind) < 0) return -1;
    if (!kind) return ctl_obj_fail(c, "kind", "required");
    if (!strcmp(kind, CTL_GATEWAY_CONFIG_KIND))
        return ctl_obj_fail(c, "kind",
                            "%s is read by `brix up -f` when it starts (API keys), not applied or "
                            "stored: pass the file to brix up (see docs/security.md)",
                            CTL_GATEWAY_CONFIG_KIND);
    const json_t *av = json_object_get(doc, "apiVersion");
    const char *api_seen = json_is_string(av) ? json_string_value(av) : "no apiVersion";
    o->kind = ctl_kind_parse(kind);
    if (o->kind == CTL_KIND_NONE || strcmp(kind, ctl_kind_name(o->kind)) != 0) {
        o->kind = CTL_KIND_NONE;
        ctl_obj_fail(c, NULL, "kind %.100s (%.100s): unknown kind, skipped", kind, api_seen);
        return 1;
    }
    const char *peek = json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
    if (peek && ctl_name_valid(peek)) memcpy(o->name, peek, strlen(peek) + 1);
    if (ctl_obj_get_str(c, doc, "apiVersion", "apiVersion", &api) < 0) return -1;
    if (!api)
        return ctl_obj_fail(c, "apiVersion", "required (%s)", ctl_obj_kind_api_version(o->kind));
    if (!ctl_obj_kind_api_ok(o->kind, api)) {
        ctl_obj_fail(c, "apiVersion", "%.100s is not one brix knows (%s), skipped", api,
                     ctl_obj_kind_api_version(o->kind));
        return 1;
    }
    const json_t *meta = NULL, *labels = NULL, *ann = NULL;
    int r = ctl_obj_get_obj(c, doc, "metadata", "metadata", &meta);
    if (r < 0) return -1;
    if (r == 0) return ctl_obj_fail(c, "metadata.name", "required");
    if (ctl_obj_get_str(c, meta, "name", "metadata.name", &name) < 0) return -1;
    if (!name) return ctl_obj_fail(c, "metadata.name", "required");
    int label = o->kind == CTL_KIND_SERVICE || o->kind == CTL_KIND_NAMESPACE ||
                o->kind == CTL_KIND_MODEL_ADAPTER;
    if (label ? !ctl_name_is_label(name) : !ctl_name_valid(name)) {
        ctl_obj_fail(c, "metadata.name",
                     label ? "'%.100s' is not a DNS-1123 label (1..63 of a-z, 0-9 and '-', "
                             "alphanumeric at both ends)"
                           : "'%.100s' is not a DNS-1123 subdomain of at most 63 bytes (a-z, 0-9, "
                             "'-' and '.', alphanumeric at both ends of each part)",
                     name);
        if (ctl_kind_acted_on(o->kind)) return -1;
        bx_catf(c->err, c->errlen, "", ", skipped (brix stores such names only)");
        return 1;
    }
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
        r = ctl_obj_parse_deployment(c, doc, labels, ann);
        break;
    case CTL_KIND_MODEL_ADAPTER:
        r = ctl_obj_parse_adapter(c, doc);
        break;
    case CTL_KIND_POD_AUTOSCALER:
        r = ctl_obj_parse_autoscaler(c, doc);
        break;
    case CTL_KIND_RAYCLUSTER_FLEET:
    case CTL_KIND_RAYCLUSTER_REPLICASET:
        r = ctl_obj_parse_fleet(c, doc, labels);
        break;
    case CTL_KIND_RAYCLUSTER:
        r = ctl_obj_parse_raycluster(c, doc, labels);
        break;
    case CTL_KIND_NONE:
        return ctl_obj_fail(c, "kind", "unknown");
    default:
        return ctl_obj_parse_core(c, doc); /* notes its own fields */
    }
    if (r == 0) ctl_obj_note_unused(o, doc);
    return r;
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
    if (ctl_obj_parse_doc(&c, doc) != 0) {
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

/* What local mode cannot run: a PodAutoscaler whose target is neither a
 * Deployment nor a RayClusterFleet. 0, or 1 with why (the document is
 * skipped). */
static int ctl_obj_local_skip(const ctl_obj *o, char *why, size_t len)
{
    if (o->kind != CTL_KIND_POD_AUTOSCALER || !strcmp(o->u.pa.target_kind, "Deployment") ||
        !strcmp(o->u.pa.target_kind, ctl_kind_name(CTL_KIND_RAYCLUSTER_FLEET)))
        return 0;
    snprintf(why, len,
             "PodAutoscaler %s: spec.scaleTargetRef.kind: only a Deployment or a RayClusterFleet "
             "scales locally (got '%.100s'; brix controller scales any kind with a scale "
             "subresource), skipped",
             o->name, o->u.pa.target_kind);
    return 1;
}

/* A Deployment that names no model (no model.aibrix.ai/name label on it or
 * its pod template: an nginx demo, a router, Grafana next to the models in
 * AIBrix's samples) is no engine brix up can route to. 1 with why (the
 * document is skipped with a warning), else 0. */
static int ctl_obj_local_not_model(const json_t *doc, char *why, size_t len)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (!kind || strcmp(kind, "Deployment") != 0) return 0;
    const json_t *l = json_object_get(json_object_get(doc, "metadata"), "labels");
    const json_t *tl = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "spec"), "template"), "metadata"),
        "labels");
    if (json_object_get(l, CTL_LABEL_MODEL) || json_object_get(tl, CTL_LABEL_MODEL)) return 0;
    const char *name = json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
    snprintf(why, len,
             "deployment/%.100s: no " CTL_LABEL_MODEL " label: not a model server, skipped "
             "(brix up runs and routes to model servers only)",
             name ? name : "?");
    return 1;
}

/* A warning about document i (0-based) of total into warnings (may be
 * NULL). -1 when out of memory. */
static int ctl_obj_warn(json_t *warnings, size_t i, size_t total, const char *why)
{
    if (!warnings) return 0;
    char w[640];
    if (total > 1)
        snprintf(w, sizeof(w), "document %zu: %s", i + 1, why);
    else
        snprintf(w, sizeof(w), "%s", why);
    return json_array_append_new(warnings, json_string(w));
}

int ctl_obj_parse_all(const json_t *docs, json_t *warnings, ctl_obj ***out, size_t *n, char *err,
                      size_t errlen)
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
        if (ctl_obj_local_not_model(d, one, sizeof(one))) {
            if (ctl_obj_warn(warnings, i, total, one) == 0) continue;
            ctl_objs_free(objs, k);
            if (err && errlen) snprintf(err, errlen, "out of memory");
            return -1;
        }
        ctl_obj *o = calloc(1, sizeof(*o));
        int r = -1;
        if (!o) {
            snprintf(one, sizeof(one), "out of memory");
        } else {
            ctl_obj_pctx c = {o, one, sizeof(one)};
            one[0] = '\0';
            r = ctl_obj_parse_doc(&c, d);
            if (r == 0) r = ctl_obj_local_skip(o, one, sizeof(one));
            if (r == 0 && ctl_key_obj(o, one, sizeof(one)) < 0) r = -1;
        }
        if (r == 1) {
            ctl_obj_free(o);
            if (ctl_obj_warn(warnings, i, total, one) == 0) continue;
            snprintf(one, sizeof(one), "out of memory");
            o = NULL;
            r = -1;
        }
        if (r < 0) {
            ctl_obj_free(o);
            if (err && errlen) {
                if (total > 1)
                    snprintf(err, errlen, "document %zu: %s", i + 1, one);
                else
                    snprintf(err, errlen, "%s", one);
            }
            ctl_objs_free(objs, k);
            return -1;
        }
        o->doc = i + 1;
        objs[k++] = o;
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
    int r = ctl_obj_parse_all(docs, NULL, out, n, err, errlen);
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

