/* ctl_rcrs: the RayClusterReplicaSet controller (ctl_rcrs.h). Each pass
 * lists the replica sets and the RayClusters from the store and reconciles
 * every replica set; what it keeps between passes is only the expectations
 * (names created or deleted and not yet seen so) per replica set. */
#include "ctl/ctl_rcrs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_rand.h"
#include "common/bx_time.h"
#include "ctl/ctl_cond.h"
#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_owner.h"
#include "ctl/ctl_rollout.h"

#define RS_KIND "RayClusterReplicaSet"
#define RC_KIND "RayCluster"
#define RCRS_PERIOD_MS 10000
#define RCRS_EXPECT_MAX 16 /* names one replica set waits to see */

/* What a pass waits to see of one replica set's writes. */
typedef struct rcrs_expect {
    char rs[CTL_NAME_MAX + 1];
    char created[RCRS_EXPECT_MAX][CTL_NAME_MAX + 1];
    char deleted[RCRS_EXPECT_MAX][CTL_NAME_MAX + 1];
    int ncreated, ndeleted;
    uint64_t since; /* loop ms of the oldest write not yet seen */
} rcrs_expect;

struct ctl_rcrs {
    ctl_ctrl *ctrl;
    ctl_objstore *store;
    rcrs_expect exp[CTL_RCRS_MAX];
    size_t nexp;
    uint64_t rng;
    int closing;
};

/* One RayCluster as the pass sees it: ctl_rollout's view first (the sort
 * and the predicates take it), then what the pass needs besides. */
typedef struct rcrs_cluster {
    ctl_rollout_cluster c; /* first: sorted as a ctl_rollout_cluster */
    const ctl_record *rec;
    const char *owner; /* its controller's name, or NULL */
} rcrs_cluster;

/* ---- reading a RayCluster ---- */

static int64_t rcrs_int(const json_t *o, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static void rcrs_read_cluster(const ctl_record *r, rcrs_cluster *x)
{
    memset(x, 0, sizeof(*x));
    ctl_rollout_cluster *c = &x->c;
    x->rec = r;
    c->name = r->name;
    const json_t *md = json_object_get(r->object, "metadata");
    x->owner = ctl_owner_name(r->object, RS_KIND);
    c->deleting = json_object_get(md, "deletionTimestamp") != NULL;
    const json_t *pc = ctl_cond_get(r->status, "RayClusterProvisioned");
    const json_t *hc = ctl_cond_get(r->status, "HeadPodReady");
    c->provisioned = ctl_cond_true(pc);
    c->head_ready = ctl_cond_true(hc);
    c->replica_failure = ctl_cond_true(ctl_cond_get(r->status, "ReplicaFailure"));
    c->ready_workers = (int)rcrs_int(r->status, "readyWorkerReplicas", 0);
    c->desired_workers = (int)rcrs_int(r->status, "desiredWorkerReplicas", 0);
    int64_t a = ctl_cond_since_ms(pc), b = ctl_cond_since_ms(hc);
    c->ready_since_ms = a > b ? a : b;
    c->created_ms = r->created_ms;
    const char *ct = json_string_value(json_object_get(md, "creationTimestamp"));
    int64_t ms;
    if (ct && bx_time_parse_rfc3339(ct, &ms) == 0) c->created_ms = ms;
    c->deletion_cost = ctl_rollout_ann_deletion_cost(json_string_value(
        json_object_get(json_object_get(md, "annotations"), CTL_ROLLOUT_ANN_DELETION_COST)));
}

/* ---- expectations ---- */

static rcrs_expect *rcrs_expect_for(ctl_rcrs *r, const char *rs, int create)
{
    for (size_t i = 0; i < r->nexp; i++)
        if (!strcmp(r->exp[i].rs, rs)) return &r->exp[i];
    if (!create || r->nexp == CTL_RCRS_MAX) return NULL;
    rcrs_expect *e = &r->exp[r->nexp++];
    memset(e, 0, sizeof(*e));
    snprintf(e->rs, sizeof(e->rs), "%s", rs);
    return e;
}

static void rcrs_expect_drop(ctl_rcrs *r, const char *rs)
{
    for (size_t i = 0; i < r->nexp; i++)
        if (!strcmp(r->exp[i].rs, rs)) {
            r->exp[i] = r->exp[--r->nexp];
            return;
        }
}

static int rcrs_listed(const ctl_record *rcs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rcs[i].name, name)) return 1;
    return 0;
}

/* 1 when every write expected of rs is seen in the list (or timed out). */
static int rcrs_expect_met(ctl_rcrs *r, const char *rs, const ctl_record *rcs, size_t n)
{
    rcrs_expect *e = rcrs_expect_for(r, rs, 0);
    if (!e) return 1;
    int k = 0;
    for (int i = 0; i < e->ncreated; i++)
        if (!rcrs_listed(rcs, n, e->created[i]))
            memmove(e->created[k++], e->created[i], sizeof(e->created[0]));
    e->ncreated = k;
    k = 0;
    for (int i = 0; i < e->ndeleted; i++)
        if (rcrs_listed(rcs, n, e->deleted[i]))
            memmove(e->deleted[k++], e->deleted[i], sizeof(e->deleted[0]));
    e->ndeleted = k;
    if (e->ncreated + e->ndeleted == 0) {
        rcrs_expect_drop(r, rs);
        return 1;
    }
    if (ctl_ctrl_now(r->ctrl) - e->since >= CTL_RCRS_EXPECT_MS) {
        bx_warn("raycluster replica set %s: writes not seen after %d s; going on", rs,
                CTL_RCRS_EXPECT_MS / 1000);
        rcrs_expect_drop(r, rs);
        return 1;
    }
    return 0;
}

static void rcrs_expect_add(ctl_rcrs *r, const char *rs, const char *name, int created)
{
    rcrs_expect *e = rcrs_expect_for(r, rs, 1);
    if (!e) return;
    if (e->ncreated + e->ndeleted == 0) e->since = ctl_ctrl_now(r->ctrl);
    if (created && e->ncreated < RCRS_EXPECT_MAX)
        snprintf(e->created[e->ncreated++], CTL_NAME_MAX + 1, "%s", name);
    else if (!created && e->ndeleted < RCRS_EXPECT_MAX)
        snprintf(e->deleted[e->ndeleted++], CTL_NAME_MAX + 1, "%s", name);
}

/* ---- writes ---- */

/* Creates one RayCluster of replica set rs (its record). 0, or -1 with err. */
static int rcrs_create(ctl_rcrs *r, const ctl_record *rs, const ctl_record *rcs, size_t n,
                       char *err, size_t errlen)
{
    const char *rsname = ctl_key_name(rs->name);
    char name[CTL_NAME_MAX + 1], key[CTL_NAME_MAX + 1];
    for (int tries = 0;; tries++) {
        char sfx[CTL_ROLLOUT_SUFFIX_LEN + 1];
        ctl_rollout_name_suffix(&r->rng, sfx);
        /* generateName: the prefix is cut so that the name fits */
        if (snprintf(name, sizeof(name), "%.*s-%s", CTL_NAME_MAX - 6, rsname, sfx) < 0 ||
            ctl_key_sibling(rs->name, name, key, sizeof(key)) != 0) {
            snprintf(err, errlen, "no room for a RayCluster name");
            return -1;
        }
        ctl_record taken;
        char gerr[128];
        int got = ctl_objstore_get(r->store, RC_KIND, key, &taken, gerr, sizeof(gerr));
        if (got == 0) ctl_record_clear(&taken);
        if (got == 1 && !rcrs_listed(rcs, n, key)) break;
        if (tries == 8) {
            snprintf(err, errlen, "no free RayCluster name");
            return -1;
        }
    }
    const json_t *tmpl = json_object_get(json_object_get(rs->object, "spec"), "template");
    const json_t *tmd = json_object_get(tmpl, "metadata");
    const json_t *rsmd = json_object_get(rs->object, "metadata");
    json_t *refs = ctl_owner_refs(rs->object);
    json_t *md = refs ? json_pack("{s:s,s:o}", "name", name, "ownerReferences", refs) : NULL;
    const json_t *ns = json_object_get(rsmd, "namespace");
    const json_t *labels = json_object_get(tmd, "labels");
    const json_t *ann = json_object_get(tmd, "annotations");
    json_t *doc = md ? json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", "ray.io/v1", "kind", RC_KIND,
                                 "metadata", md, "spec", json_object_get(tmpl, "spec"))
                     : NULL;
    if (!doc || (ns && json_object_set(md, "namespace", (json_t *)ns) != 0) ||
        (labels && json_object_set_new(md, "labels", json_deep_copy(labels)) != 0) ||
        (ann && json_object_set_new(md, "annotations", json_deep_copy(ann)) != 0)) {
        json_decref(doc);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ctl_obj *o = NULL;
    int rc = ctl_obj_parse(doc, &o, err, errlen);
    json_decref(doc);
    if (rc != 0) return -1;
    snprintf(o->name, sizeof(o->name), "%s", key);
    rc = ctl_objstore_put(r->store, o, NULL, err, errlen);
    ctl_obj_free(o);
    if (rc != 0) return -1;
    rcrs_expect_add(r, rs->name, key, 1);
    ctl_ctrl_event(r->ctrl, rs->name, CTL_EVENT_NORMAL, "SuccessfulCreate",
                   "Created RayCluster: %s", name);
    return 0;
}

static int rcrs_delete(ctl_rcrs *r, const char *rs, const ctl_record *rc, const char *why,
                       char *err, size_t errlen)
{
    if (ctl_objstore_delete(r->store, RC_KIND, rc->name, err, errlen) < 0) return -1;
    if (rs) {
        rcrs_expect_add(r, rs, rc->name, 0);
        ctl_ctrl_event(r->ctrl, rs, CTL_EVENT_NORMAL, "SuccessfulDelete",
                       "Deleted RayCluster: %s (%s)", ctl_key_name(rc->name), why);
    }
    return 0;
}

/* ---- one replica set ---- */

static void rcrs_status(ctl_rcrs *r, const ctl_record *rs, rcrs_cluster *const *mine, size_t n,
                        const char *failure)
{
    const json_t *spec = json_object_get(rs->object, "spec");
    const json_t *want =
        json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"), "labels");
    int min_ready_s = (int)rcrs_int(spec, "minReadySeconds", 0);
    int64_t now = ctl_ctrl_wall_ms();
    int replicas = 0, labeled = 0, ready = 0, avail = 0;
    uint64_t wake = CTL_CTRL_NEVER;
    for (size_t i = 0; i < n; i++) {
        const ctl_rollout_cluster *c = &mine[i]->c;
        if (c->deleting) continue;
        replicas++;
        const json_t *labels =
            json_object_get(json_object_get(mine[i]->rec->object, "metadata"), "labels");
        if (!want || ctl_labels_match(want, labels)) labeled++;
        if (!ctl_rollout_cluster_ready(c)) continue;
        ready++;
        if (ctl_rollout_cluster_available(c, min_ready_s, now)) {
            avail++;
            continue;
        }
        int64_t at = c->ready_since_ms + (int64_t)min_ready_s * 1000 + 1;
        if (c->ready_since_ms > 0 && at > now && (uint64_t)(at - now) < wake)
            wake = (uint64_t)(at - now);
    }
    if (wake != CTL_CTRL_NEVER) ctl_ctrl_wake_at(r->ctrl, ctl_ctrl_now(r->ctrl) + wake);
    json_t *st = json_pack("{s:i,s:i,s:i,s:i,s:I}", "replicas", replicas, "fullyLabeledReplicas",
                           labeled, "readyReplicas", ready, "availableReplicas", avail,
                           "observedGeneration", (json_int_t)rs->generation);
    if (st && failure) {
        char ts[32];
        bx_time_rfc3339(now, ts, sizeof(ts));
        json_object_set_new(st, "conditions",
                            json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "type", "ReplicaFailure", "status",
                                      "True", "reason", failure, "message", failure,
                                      "lastTransitionTime", ts));
    }
    ctl_ctrl_status(r->ctrl, rs->name, st);
}

static void rcrs_sync_one(ctl_rcrs *r, const ctl_record *rs, rcrs_cluster *all, size_t nall,
                          const ctl_record *rcs, size_t nrc)
{
    rcrs_cluster **mine = calloc(nall ? nall : 1, sizeof(*mine));
    if (!mine) return;
    size_t n = 0, active = 0;
    const char *failure = NULL;
    char err[512];
    for (size_t i = 0; i < nall; i++) {
        char key[CTL_NAME_MAX + 1];
        if (!all[i].owner || ctl_key_sibling(rs->name, all[i].owner, key, sizeof(key)) != 0 ||
            strcmp(key, rs->name) != 0)
            continue;
        mine[n++] = &all[i];
    }
    int met = rcrs_expect_met(r, rs->name, rcs, nrc);
    /* failed clusters (provisioned, then not Ready; or ReplicaFailure) go, and are replaced */
    for (size_t i = 0; i < n && met; i++) {
        ctl_rollout_cluster *c = &mine[i]->c;
        if (c->deleting || ctl_rollout_cluster_active(c)) continue;
        const char *why = c->replica_failure ? "ReplicaFailure" : "no longer ready";
        if (rcrs_delete(r, rs->name, mine[i]->rec, why, err, sizeof(err)) != 0) {
            bx_warn("raycluster replica set %s: %s", rs->name, err);
            failure = "FailedDelete";
        }
        c->deleting = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (ctl_rollout_cluster_active(&mine[i]->c)) active++;
    const json_t *spec = json_object_get(rs->object, "spec");
    int want = (int)rcrs_int(spec, "replicas", 1);
    if (met && (int)active < want) {
        int add = want - (int)active;
        if (add > CTL_RCRS_BURST) add = CTL_RCRS_BURST;
        for (int i = 0; i < add; i++)
            if (rcrs_create(r, rs, rcs, nrc, err, sizeof(err)) != 0) {
                bx_warn("raycluster replica set %s: create: %s", rs->name, err);
                ctl_ctrl_event(r->ctrl, rs->name, CTL_EVENT_WARNING, "FailedCreate",
                               "Error creating: %s", err);
                failure = "FailedCreate";
                break;
            }
    } else if (met && (int)active > want) {
        rcrs_cluster *act = calloc(active, sizeof(*act));
        size_t k = 0;
        for (size_t i = 0; act && i < n; i++)
            if (ctl_rollout_cluster_active(&mine[i]->c)) act[k++] = *mine[i];
        if (act) qsort(act, k, sizeof(*act), ctl_rollout_cluster_cmp_delete);
        int del = (int)active - want;
        if (del > CTL_RCRS_BURST) del = CTL_RCRS_BURST;
        for (int i = 0; act && i < del; i++) {
            if (rcrs_delete(r, rs->name, act[i].rec, "scale down", err, sizeof(err)) != 0) {
                bx_warn("raycluster replica set %s: delete: %s", rs->name, err);
                failure = "FailedDelete";
                break;
            }
        }
        free(act);
    }
    rcrs_status(r, rs, mine, n, failure);
    free(mine);
}

/* ---- the pass ---- */

static void rcrs_pass(void *ud, ctl_ctrl_why why)
{
    (void)why;
    ctl_rcrs *r = ud;
    if (r->closing) return;
    ctl_record *rss = NULL, *rcs = NULL;
    size_t nrs = 0, nrc = 0;
    char err[256];
    if (ctl_objstore_list(r->store, RS_KIND, &rss, &nrs, err, sizeof(err)) != 0 ||
        ctl_objstore_list(r->store, RC_KIND, &rcs, &nrc, err, sizeof(err)) != 0) {
        bx_warn("raycluster replica sets: %s", err);
        ctl_records_free(rss, nrs);
        return;
    }
    rcrs_cluster *all = calloc(nrc ? nrc : 1, sizeof(*all));
    if (!all) goto out;
    for (size_t i = 0; i < nrc; i++)
        rcrs_read_cluster(&rcs[i], &all[i]);
    for (size_t i = 0; i < nrs; i++)
        rcrs_sync_one(r, &rss[i], all, nrc, rcs, nrc);
    /* RayClusters whose replica set is gone (the API server's garbage
     * collector does this there; the local store has none) */
    for (size_t i = 0; i < nrc; i++) {
        char key[CTL_NAME_MAX + 1];
        if (!all[i].owner || all[i].c.deleting ||
            ctl_key_sibling(rcs[i].name, all[i].owner, key, sizeof(key)) != 0)
            continue;
        int found = 0;
        for (size_t k = 0; k < nrs && !found; k++)
            found = !strcmp(rss[k].name, key);
        if (!found && rcrs_delete(r, NULL, &rcs[i], "owner gone", err, sizeof(err)) != 0)
            bx_warn("raycluster %s: %s", rcs[i].name, err);
    }
    /* expectations of replica sets that went */
    for (size_t i = 0; i < r->nexp;) {
        int found = 0;
        for (size_t k = 0; k < nrs && !found; k++)
            found = !strcmp(rss[k].name, r->exp[i].rs);
        if (found)
            i++;
        else
            r->exp[i] = r->exp[--r->nexp];
    }
out:
    free(all);
    ctl_records_free(rss, nrs);
    ctl_records_free(rcs, nrc);
}

static void rcrs_on_change(void *ud, const ctl_watch_event *ev)
{
    ctl_rcrs *r = ud;
    if (ev->type == CTL_WATCH_DELETE && ev->kind == CTL_KIND_RAYCLUSTER_REPLICASET)
        ctl_ctrl_forget(r->ctrl, ev->name);
    ctl_ctrl_kick(r->ctrl);
}

int ctl_rcrs_init(ctl_rcrs **out, uv_loop_t *loop, ctl_objstore *store, char *err, size_t errlen)
{
    *out = NULL;
    ctl_rcrs *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->store = store;
    r->rng = (uint64_t)bx_time_unix_ms() ^ (uint64_t)(uintptr_t)r;
    ctl_ctrl_cfg kc = {.kind = RS_KIND,
                       .log_name = "rayclusterreplicaset",
                       .period_ms = RCRS_PERIOD_MS,
                       .pass = rcrs_pass,
                       .ud = r};
    if (ctl_ctrl_init(&r->ctrl, loop, store, &kc, err, errlen) != 0) {
        free(r);
        return -1;
    }
    if (ctl_ctrl_watch(r->ctrl, CTL_KIND_RAYCLUSTER_REPLICASET, rcrs_on_change, r) != 0 ||
        ctl_ctrl_watch(r->ctrl, CTL_KIND_RAYCLUSTER, rcrs_on_change, r) != 0 ||
        ctl_objstore_watch_status(store, CTL_KIND_RAYCLUSTER, rcrs_on_change, r) != 0) {
        snprintf(err, errlen, "out of memory");
        ctl_rcrs_close(r, NULL, NULL);
        return -1;
    }
    ctl_ctrl_kick(r->ctrl);
    *out = r;
    return 0;
}

void ctl_rcrs_close(ctl_rcrs *r, void (*done)(void *ud), void *ud)
{
    if (!r || r->closing) return;
    r->closing = 1;
    ctl_objstore_unwatch(r->store, rcrs_on_change, r);
    ctl_ctrl_close(r->ctrl, r, done, ud);
}
