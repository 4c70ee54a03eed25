/* ctl_obj_fields: the fields brix acts on, per kind, and the one note that
 * names every other field of a document ("accepted, not acted on locally:
 * spec.template.spec.containers[0].image, .resources, spec.strategy"), so
 * that nothing a manifest says is dropped silently.
 *
 * Each kind has a table of patterns: dotted keys, "[]" for any element of
 * a list, "[0]" for the first, "*" for any key. A pattern covers the field
 * it names and everything under it. Walking the document, a field a
 * pattern covers is acted on; one that lies on the way to a pattern is
 * walked into; any other is named (and not walked into: its subtree is one
 * entry). Paths that share their parent with the previous one are written
 * from the last dot (".image") to keep the note short. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl_obj.h"
#include "ctl/ctl_obj_int.h"

/* What every kind has: identity and metadata (the server-owned fields the
 * store strips are accepted as they are in Kubernetes). */
#define CTL_FIELDS_COMMON                                                                          \
    "apiVersion", "kind", "status", "metadata.name", "metadata.namespace", "metadata.labels",      \
        "metadata.annotations", "metadata.uid", "metadata.resourceVersion", "metadata.generation", \
        "metadata.creationTimestamp", "metadata.managedFields"

static const char *const ctl_fields_deployment[] = {
    CTL_FIELDS_COMMON,
    "spec.replicas",
    "spec.selector.matchLabels", /* must match the pod labels, as in Kubernetes */
    "spec.template.metadata.labels",
    "spec.template.spec.terminationGracePeriodSeconds",
    "spec.template.spec.containers[0].name",
    "spec.template.spec.containers[0].command",
    "spec.template.spec.containers[0].args",
    "spec.template.spec.containers[0].env[].name",
    "spec.template.spec.containers[0].env[].value",
    /* probes: the local pod runner's (ctl_local_probe.c) */
    "spec.template.spec.containers[0].readinessProbe",
    "spec.template.spec.containers[0].livenessProbe",
    "spec.template.spec.containers[0].startupProbe",
    NULL,
};

static const char *const ctl_fields_adapter[] = {
    CTL_FIELDS_COMMON, "spec.baseModel",     "spec.podSelector.matchLabels", "spec.artifactURL",
    "spec.replicas",   "spec.schedulerName", "spec.additionalConfig",        NULL,
};

/* as_spec validates the spec field by field and refuses unknown ones; a pod
 * source's port and protocolType are not used locally (each engine's URL
 * is): ctl_fields_pod_sources names them. */
/* all of spec but predictive (checked by as_spec, not acted on) */
static const char *const ctl_fields_autoscaler[] = {
    CTL_FIELDS_COMMON,         "spec.scaleTargetRef",  "spec.subTargetSelector",
    "spec.minReplicas",        "spec.maxReplicas",     "spec.schedules",
    "spec.scheduledBounds",    "spec.metricsSources",  "spec.observeWindowSeconds",
    "spec.panicWindowSeconds", "spec.scalingStrategy", NULL};

static const char *const ctl_fields_service[] = {CTL_FIELDS_COMMON, "spec.selector", NULL};

/* A Ray node's pod template at p: what the local runner takes of it (as of
 * a Deployment's template; brix.ai annotations included). */
#define CTL_FIELDS_RAY_POD(p)                                                                      \
    p ".metadata.labels", p ".metadata.annotations", p ".spec.terminationGracePeriodSeconds",      \
        p ".spec.containers[0].name", p ".spec.containers[0].command",                             \
        p ".spec.containers[0].args", p ".spec.containers[0].env[].name",                          \
        p ".spec.containers[0].env[].value", p ".spec.containers[0].readinessProbe",               \
        p ".spec.containers[0].livenessProbe", p ".spec.containers[0].startupProbe"

/* A RayClusterSpec at p: the groups, their sizes and templates, suspend
 * (rayVersion, rayStartParams, enableInTreeAutoscaling, autoscalerOptions,
 * headServiceAnnotations, ... are KubeRay's business: named). */
#define CTL_FIELDS_RAY_SPEC(p)                                                                     \
    CTL_FIELDS_RAY_POD(p ".headGroupSpec.template"),                                               \
        CTL_FIELDS_RAY_POD(p ".workerGroupSpecs[].template"), p ".workerGroupSpecs[].groupName",   \
        p ".workerGroupSpecs[].replicas", p ".workerGroupSpecs[].minReplicas",                     \
        p ".workerGroupSpecs[].maxReplicas", p ".workerGroupSpecs[].numOfHosts", p ".suspend"

/* RayClusterReplicaSet: the RS controller's (ctl_rcrs.c); RayClusterFleet
 * adds the Deployment fields of the fleet controller (ctl_fleet.c).
 * metadata.ownerReferences: the controllers set and follow them. */
#define CTL_FIELDS_RAY_SET                                                                         \
    CTL_FIELDS_COMMON, "metadata.ownerReferences", "spec.replicas", "spec.selector.matchLabels",   \
        "spec.selector.matchExpressions", "spec.minReadySeconds", "spec.template.metadata.labels", \
        "spec.template.metadata.annotations", CTL_FIELDS_RAY_SPEC("spec.template.spec")

static const char *const ctl_fields_rcrs[] = {CTL_FIELDS_RAY_SET, NULL};

static const char *const ctl_fields_fleet[] = {
    CTL_FIELDS_RAY_SET,
    "spec.strategy.type",
    "spec.strategy.rollingUpdate.maxSurge",
    "spec.strategy.rollingUpdate.maxUnavailable",
    "spec.revisionHistoryLimit",
    "spec.paused",
    "spec.progressDeadlineSeconds",
    NULL,
};

static const char *const ctl_fields_raycluster[] = {
    CTL_FIELDS_COMMON,
    "metadata.ownerReferences",
    CTL_FIELDS_RAY_SPEC("spec"),
    NULL,
};

static const char *const *ctl_fields_of(ctl_kind k)
{
    switch (k) {
    case CTL_KIND_DEPLOYMENT:
        return ctl_fields_deployment;
    case CTL_KIND_MODEL_ADAPTER:
        return ctl_fields_adapter;
    case CTL_KIND_POD_AUTOSCALER:
        return ctl_fields_autoscaler;
    case CTL_KIND_SERVICE:
        return ctl_fields_service;
    case CTL_KIND_RAYCLUSTER_FLEET:
        return ctl_fields_fleet;
    case CTL_KIND_RAYCLUSTER_REPLICASET:
        return ctl_fields_rcrs;
    case CTL_KIND_RAYCLUSTER:
        return ctl_fields_raycluster;
    default:
        return NULL;
    }
}

/* One step of a path: a key, or a list index (key NULL). */
typedef struct ctl_fields_seg {
    const char *key;
    size_t keylen;
    size_t index;
} ctl_fields_seg;

#define CTL_FIELDS_DEPTH 32

/* How pattern pat relates to the path segs[0..n): 2 it covers it, 1 the
 * path leads to it, 0 neither. */
static int ctl_fields_match(const char *pat, const ctl_fields_seg *segs, size_t n)
{
    const char *p = pat;
    size_t i = 0;
    while (*p) {
        if (*p == '.') p++;
        if (i == n) return 1;
        const ctl_fields_seg *s = &segs[i++];
        if (*p == '[') {
            const char *e = strchr(p, ']');
            if (!e || s->key) return 0;
            if (e > p + 1) {
                size_t want = 0;
                for (const char *d = p + 1; d < e; d++)
                    want = want * 10 + (size_t)(*d - '0');
                if (want != s->index) return 0;
            }
            p = e + 1;
            continue;
        }
        size_t len = strcspn(p, ".[");
        if (!s->key) return 0;
        if (!(len == 1 && *p == '*') && (len != s->keylen || strncmp(p, s->key, len) != 0))
            return 0;
        p += len;
    }
    return 2;
}

/* The path as text: "a.b[2].c". */
static void ctl_fields_path(const ctl_fields_seg *segs, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++) {
        int w = segs[i].key ? snprintf(buf + o, len - o, "%s%.*s", i ? "." : "",
                                       (int)segs[i].keylen, segs[i].key)
                            : snprintf(buf + o, len - o, "[%zu]", segs[i].index);
        if (w < 0) return;
        o += (size_t)w;
    }
}

typedef struct ctl_fields_walk {
    const char *const *pats;
    ctl_fields_seg segs[CTL_FIELDS_DEPTH];
    char list[CTL_NOTES_MAX / 2];
    size_t used;                    /* bytes of list */
    char parent[CTL_NOTES_MAX / 2]; /* the previous entry's parent path */
    size_t count, dropped;
} ctl_fields_walk;

static void ctl_fields_add(ctl_fields_walk *w, size_t n)
{
    char full[CTL_NOTES_MAX / 2], parent[CTL_NOTES_MAX / 2];
    ctl_fields_path(w->segs, n, full, sizeof(full));
    ctl_fields_path(w->segs, n - 1, parent, sizeof(parent));
    const char *text = full;
    if (w->count && !strcmp(parent, w->parent) && n > 1) text = full + strlen(parent);
    snprintf(w->parent, sizeof(w->parent), "%s", parent);
    /* keep room for ", and N more" */
    size_t need = strlen(text) + 2;
    if (w->dropped || w->used + need + 24 >= sizeof(w->list)) {
        w->dropped++;
        return;
    }
    w->used += (size_t)snprintf(w->list + w->used, sizeof(w->list) - w->used, "%s%s",
                                w->count ? ", " : "", text);
    w->count++;
}

static void ctl_fields_visit(ctl_fields_walk *w, const json_t *v, size_t n)
{
    if (n > 0) {
        int best = 0;
        for (size_t i = 0; w->pats[i] && best < 2; i++) {
            int m = ctl_fields_match(w->pats[i], w->segs, n);
            if (m > best) best = m;
        }
        if (best == 2) return;
        if (best == 0 || n >= CTL_FIELDS_DEPTH) {
            ctl_fields_add(w, n);
            return;
        }
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            w->segs[n] = (ctl_fields_seg){k, strlen(k), 0};
            ctl_fields_visit(w, c, n + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *c;
        json_array_foreach(v, i, c)
        {
            w->segs[n] = (ctl_fields_seg){NULL, 0, i};
            ctl_fields_visit(w, c, n + 1);
        }
    }
    /* a scalar on the way to a pattern: the pattern's parent is set but
     * not as a mapping; the kind's parser has judged it */
}

/* A PodAutoscaler's pod metric sources: port and protocolType (the
 * autoscaler scrapes each engine at its own URL). */
static void ctl_fields_pod_sources(ctl_fields_walk *w, const json_t *doc)
{
    static const char *const keys[] = {"port", "protocolType"};
    const json_t *srcs = json_object_get(json_object_get(doc, "spec"), "metricsSources");
    size_t i;
    const json_t *m;
    json_array_foreach(srcs, i, m)
    {
        const char *type = json_string_value(json_object_get(m, "metricSourceType"));
        if (!type || strcmp(type, "pod") != 0) continue;
        for (size_t k = 0; k < 2; k++) {
            if (!json_object_get(m, keys[k])) continue;
            w->segs[0] = (ctl_fields_seg){"spec", 4, 0};
            w->segs[1] = (ctl_fields_seg){"metricsSources", 14, 0};
            w->segs[2] = (ctl_fields_seg){NULL, 0, i};
            w->segs[3] = (ctl_fields_seg){keys[k], strlen(keys[k]), 0};
            ctl_fields_add(w, 4);
        }
    }
}

void ctl_obj_note_unused(ctl_obj *o, const json_t *doc)
{
    const char *const *pats = ctl_fields_of(o->kind);
    if (!pats) return;
    ctl_fields_walk w;
    memset(&w, 0, sizeof(w));
    w.pats = pats;
    ctl_fields_visit(&w, doc, 0);
    if (o->kind == CTL_KIND_POD_AUTOSCALER) ctl_fields_pod_sources(&w, doc);
    if (!w.count && !w.dropped) return;
    if (w.dropped)
        ctl_obj_note(o, "accepted, not acted on locally: %s, and %zu more", w.list, w.dropped);
    else
        ctl_obj_note(o, "accepted, not acted on locally: %s", w.list);
}
