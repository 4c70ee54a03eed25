/* ctl_fleet_rs: the fleet controller's writes (ctl_fleet_int.h): reading
 * the replica sets a fleet owns, creating and resizing them as ctl_rollout
 * says, rollback, and the fleet's status with its conditions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_time.h"
#include "ctl/ctl_cond.h"
#include "ctl/ctl_fleet_int.h"
#include "ctl/ctl_key.h"
#include "ctl/ctl_owner.h"

static int64_t rs_int(const json_t *o, const char *key, int64_t dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *rs_ann(const json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"), key));
}

/* 1 when rec's controller is of kind `kind`, named (as a key next to rec)
 * `key`. */
static int rs_owned_by(const ctl_record *rec, const char *kind, const char *key)
{
    const char *owner = ctl_owner_name(rec->object, kind);
    char k[CTL_NAME_MAX + 1];
    return owner && ctl_key_sibling(rec->name, owner, k, sizeof(k)) == 0 && !strcmp(k, key);
}

void fl_rs_collect(fl_view *v, const ctl_record *rss, size_t nrs, const ctl_record *rcs, size_t nrc)
{
    v->n = 0;
    for (size_t i = 0; i < nrs; i++) {
        const ctl_record *r = &rss[i];
        if (!rs_owned_by(r, FL_KIND, v->fleet->name)) continue;
        if (v->n == CTL_FLEET_MAX_RS) {
            bx_warn("rayclusterfleet %s: more than %d replica sets; the rest are not looked at",
                    v->fleet->name, CTL_FLEET_MAX_RS);
            break;
        }
        const json_t *spec = json_object_get(r->object, "spec");
        const json_t *md = json_object_get(r->object, "metadata");
        ctl_rollout_rs *x = &v->rs[v->n];
        memset(x, 0, sizeof(*x));
        x->name = r->name;
        x->created_ms = r->created_ms;
        int64_t ms;
        const char *ct = json_string_value(json_object_get(md, "creationTimestamp"));
        if (ct && bx_time_parse_rfc3339(ct, &ms) == 0) x->created_ms = ms;
        x->revision = ctl_rollout_ann_revision(rs_ann(r->object, CTL_ROLLOUT_ANN_REVISION));
        x->spec_replicas = (int)rs_int(spec, "replicas", 1);
        x->status_replicas = (int)rs_int(r->status, "replicas", 0);
        x->ready = (int)rs_int(r->status, "readyReplicas", 0);
        x->available = (int)rs_int(r->status, "availableReplicas", 0);
        x->desired_ann = ctl_rollout_ann_int(rs_ann(r->object, CTL_ROLLOUT_ANN_DESIRED));
        x->max_ann = ctl_rollout_ann_int(rs_ann(r->object, CTL_ROLLOUT_ANN_MAX));
        for (size_t k = 0; k < nrc; k++)
            if (rs_owned_by(&rcs[k], FL_RS_KIND, r->name)) x->clusters++;
        x->deleting = json_object_get(md, "deletionTimestamp") != NULL;
        x->generation = r->generation;
        x->observed_generation = rs_int(r->status, "observedGeneration", 0);
        v->tmpl[v->n] = json_object_get(spec, "template");
        v->rec[v->n] = r;
        v->n++;
    }
}

/* Puts doc (stolen) as the object of key. 0 or -1 (logged, st->failure). */
static int rs_put(fl_step *st, json_t *doc, const char *key, const char *failure)
{
    char err[512];
    ctl_obj *o = NULL;
    int rc = doc ? ctl_obj_parse(doc, &o, err, sizeof(err)) : -1;
    if (!doc) snprintf(err, sizeof(err), "out of memory");
    json_decref(doc);
    if (rc == 0) {
        snprintf(o->name, sizeof(o->name), "%s", key);
        rc = ctl_objstore_put(st->store, o, NULL, err, sizeof(err));
        ctl_obj_free(o);
    }
    if (rc != 0) {
        bx_warn("%s %s: %s", failure, key, err);
        st->failure = failure;
        snprintf(st->message, sizeof(st->message), "%.63s: %.180s", ctl_key_name(key), err);
    }
    return rc;
}

static int rs_set_annotations(json_t *obj, const fl_view *v)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) {
        ann = json_object();
        if (!ann || json_object_set_new(md, "annotations", ann) != 0) return -1;
    }
    char buf[24];
    snprintf(buf, sizeof(buf), "%d", v->replicas);
    if (json_object_set_new(ann, CTL_ROLLOUT_ANN_DESIRED, json_string(buf)) != 0) return -1;
    snprintf(buf, sizeof(buf), "%d",
             v->replicas + ctl_rollout_max_surge(&v->f.strategy, v->replicas));
    return json_object_set_new(ann, CTL_ROLLOUT_ANN_MAX, json_string(buf));
}

/* Sets replica set i to `target` replicas (and its annotations to the
 * fleet's size), when either differs. */
static void rs_resize(fl_view *v, fl_step *st, size_t i, int target)
{
    const ctl_rollout_rs *x = &v->rs[i];
    char want[24];
    snprintf(want, sizeof(want), "%d", v->replicas);
    const char *d = rs_ann(v->rec[i]->object, CTL_ROLLOUT_ANN_DESIRED);
    int max = v->replicas + ctl_rollout_max_surge(&v->f.strategy, v->replicas);
    if (target == x->spec_replicas && d && !strcmp(d, want) && x->max_ann == max) return;
    json_t *doc = json_deep_copy(v->rec[i]->object);
    json_t *spec = json_object_get(doc, "spec");
    if (!doc || !json_is_object(spec) ||
        json_object_set_new(spec, "replicas", json_integer(target)) != 0 ||
        rs_set_annotations(doc, v) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    if (rs_put(st, doc, x->name, "FailedUpdate") != 0) return;
    if (target != x->spec_replicas) {
        st->scaled = 1;
        ctl_ctrl_event(st->ctrl, v->fleet->name, CTL_EVENT_NORMAL, "ScalingReplicaSet",
                       "Scaled %s replica set %s to %d from %d",
                       target > x->spec_replicas ? "up" : "down", ctl_key_name(x->name), target,
                       x->spec_replicas);
    }
}

/* Adds key=value to obj[path...].metadata.labels, making objects on the
 * way. 0 or -1. */
static int rs_label(json_t *tmpl, const char *key, const char *value)
{
    json_t *md = json_object_get(tmpl, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        if (!md || json_object_set_new(tmpl, "metadata", md) != 0) return -1;
    }
    json_t *labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        if (!labels || json_object_set_new(md, "labels", labels) != 0) return -1;
    }
    return json_object_set_new(labels, key, json_string(value));
}

/* The new replica set's template: the fleet's, with the hash on the
 * RayClusters' labels and the fleet's name on every pod template. */
static json_t *rs_template(const fl_view *v, const char *hash)
{
    json_t *t = json_deep_copy(v->obj->u.fleet.template);
    if (!t || rs_label(t, CTL_ROLLOUT_LABEL_HASH, hash) != 0) goto fail;
    const char *fleet = ctl_key_name(v->fleet->name);
    json_t *spec = json_object_get(t, "spec");
    json_t *head = json_object_get(json_object_get(spec, "headGroupSpec"), "template");
    if (json_is_object(head) && rs_label(head, CTL_ROLLOUT_LABEL_FLEET, fleet) != 0) goto fail;
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(spec, "workerGroupSpecs"), i, g)
    {
        json_t *wt = json_object_get(g, "template");
        if (json_is_object(wt) && rs_label(wt, CTL_ROLLOUT_LABEL_FLEET, fleet) != 0) goto fail;
    }
    return t;
fail:
    json_decref(t);
    return NULL;
}

/* Creates the new replica set with `replicas`. 0, 1 on a name collision
 * (st->collision), -1 on failure. */
static int rs_create(fl_view *v, fl_step *st, int replicas)
{
    char hash[CTL_ROLLOUT_HASH_LEN], err[256];
    int32_t cc = (int32_t)rs_int(v->fleet->status, "collisionCount", 0);
    if (ctl_rollout_template_hash(v->obj->u.fleet.template, &cc, hash, err, sizeof(err)) != 0) {
        st->failure = "ReplicaSetCreateError";
        snprintf(st->message, sizeof(st->message), "%s", err);
        return -1;
    }
    const char *fname = ctl_key_name(v->fleet->name);
    char name[CTL_NAME_MAX + 1], key[CTL_NAME_MAX + 1];
    if ((size_t)snprintf(name, sizeof(name), "%s-%s", fname, hash) >= sizeof(name) ||
        ctl_key_sibling(v->fleet->name, name, key, sizeof(key)) != 0) {
        st->failure = "ReplicaSetCreateError";
        snprintf(st->message, sizeof(st->message), "the name %s-%s is too long", fname, hash);
        return -1;
    }
    ctl_record prev;
    if (ctl_objstore_get(st->store, FL_RS_KIND, key, &prev, err, sizeof(err)) == 0) {
        /* taken, and not by an equal template of ours (find_new would have
         * found it): a hash collision */
        ctl_record_clear(&prev);
        st->collision = 1;
        return 1;
    }
    json_t *tmpl = rs_template(v, hash);
    json_t *sel = json_deep_copy(v->obj->u.fleet.selector);
    json_t *ml = sel ? json_object_get(sel, "matchLabels") : NULL;
    if (sel && !json_is_object(ml)) {
        ml = json_object();
        if (ml && json_object_set_new(sel, "matchLabels", ml) != 0) ml = NULL;
    }
    json_t *labels = json_deep_copy(
        json_object_get(json_object_get(v->obj->u.fleet.template, "metadata"), "labels"));
    if (!labels) labels = json_object();
    char rev[24];
    snprintf(rev, sizeof(rev), "%lld", (long long)ctl_rollout_new_revision(v->rs, v->n, -1));
    json_t *refs = ctl_owner_refs(v->fleet->object);
    json_t *doc = NULL;
    if (tmpl && ml && labels && refs &&
        json_object_set_new(ml, CTL_ROLLOUT_LABEL_HASH, json_string(hash)) == 0 &&
        json_object_set_new(labels, CTL_ROLLOUT_LABEL_HASH, json_string(hash)) == 0)
        doc = json_pack("{s:s,s:s,s:{s:s,s:O,s:{s:s},s:O},s:{s:i,s:i,s:O,s:O}}", "apiVersion",
                        FL_API, "kind", FL_RS_KIND, "metadata", "name", name, "labels", labels,
                        "annotations", CTL_ROLLOUT_ANN_REVISION, rev, "ownerReferences", refs,
                        "spec", "replicas", replicas, "minReadySeconds",
                        v->obj->u.fleet.min_ready_s, "selector", sel, "template", tmpl);
    const json_t *ns = json_object_get(json_object_get(v->fleet->object, "metadata"), "namespace");
    if (doc && ns) json_object_set(json_object_get(doc, "metadata"), "namespace", (json_t *)ns);
    if (doc && rs_set_annotations(doc, v) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    json_decref(tmpl);
    json_decref(sel);
    json_decref(labels);
    json_decref(refs);
    if (rs_put(st, doc, key, "ReplicaSetCreateError") != 0) return -1;
    st->created = 1;
    st->scaled = 1;
    snprintf(st->message, sizeof(st->message), "Created new replica set \"%s\"", name);
    ctl_ctrl_event(st->ctrl, v->fleet->name, CTL_EVENT_NORMAL, "ScalingReplicaSet",
                   "Scaled up replica set %s to %d (revision %s)", name, replicas, rev);
    return 0;
}

void fl_rs_revision(fl_view *v, fl_step *st, int new_idx)
{
    if (new_idx < 0) return;
    int64_t want = ctl_rollout_new_revision(v->rs, v->n, new_idx);
    const ctl_rollout_rs *x = &v->rs[new_idx];
    if (x->revision >= want) return;
    json_t *doc = json_deep_copy(v->rec[new_idx]->object);
    json_t *md = doc ? json_object_get(doc, "metadata") : NULL;
    json_t *ann = md ? json_object_get(md, "annotations") : NULL;
    if (md && !json_is_object(ann)) {
        ann = json_object();
        if (ann && json_object_set_new(md, "annotations", ann) != 0) ann = NULL;
    }
    char rev[24], hist[CTL_ROLLOUT_REV_HISTORY_MAX + 1];
    snprintf(rev, sizeof(rev), "%lld", (long long)want);
    const char *old = rs_ann(v->rec[new_idx]->object, CTL_ROLLOUT_ANN_REVISION);
    int ok = ann && json_object_set_new(ann, CTL_ROLLOUT_ANN_REVISION, json_string(rev)) == 0;
    if (ok && old && *old &&
        ctl_rollout_revision_history(
            rs_ann(v->rec[new_idx]->object, CTL_ROLLOUT_ANN_REVISION_HISTORY), old, hist,
            sizeof(hist)) == 0)
        ok = json_object_set_new(ann, CTL_ROLLOUT_ANN_REVISION_HISTORY, json_string(hist)) == 0;
    if (!ok) {
        json_decref(doc);
        doc = NULL;
    }
    if (rs_put(st, doc, x->name, "FailedUpdate") == 0) v->rs[new_idx].revision = want;
}

void fl_rs_scale(fl_view *v, fl_step *st, int new_idx)
{
    int target[CTL_FLEET_MAX_RS];
    unsigned char touch[CTL_FLEET_MAX_RS];
    if (v->n == 0) return;
    ctl_rollout_scale(&v->f, v->rs, v->n, new_idx, target, touch);
    for (size_t i = 0; i < v->n; i++)
        if (touch[i] || target[i] != v->rs[i].spec_replicas) rs_resize(v, st, i, target[i]);
}

static void rs_history(fl_view *v, fl_step *st, int new_idx)
{
    if (!ctl_rollout_complete(&v->f)) return;
    size_t del[CTL_FLEET_MAX_RS];
    size_t k = ctl_rollout_history_cleanup(&v->f, v->rs, v->n, new_idx, del, CTL_FLEET_MAX_RS);
    char err[256];
    for (size_t i = 0; i < k; i++)
        if (ctl_objstore_delete(st->store, FL_RS_KIND, v->rs[del[i]].name, err, sizeof(err)) < 0)
            bx_warn("rayclusterfleet %s: history: %s", v->fleet->name, err);
}

void fl_rs_rollout(fl_view *v, fl_step *st, int new_idx)
{
    int target[CTL_FLEET_MAX_RS];
    ctl_rollout_step step;
    memset(&step, 0, sizeof(step));
    if (v->f.strategy.recreate) {
        ctl_rollout_recreate_action a =
            ctl_rollout_recreate(&v->f, v->rs, v->n, new_idx, target, &step);
        if (a == CTL_RECREATE_SCALE_DOWN_OLD) {
            for (size_t i = 0; i < v->n; i++)
                if ((int)i != new_idx && target[i] != v->rs[i].spec_replicas)
                    rs_resize(v, st, i, target[i]);
            return;
        }
        if (a == CTL_RECREATE_WAIT_OLD) return;
        if (a == CTL_RECREATE_SCALE_UP_NEW) {
            if (step.create_new)
                rs_create(v, st, step.new_replicas);
            else if (new_idx >= 0)
                rs_resize(v, st, (size_t)new_idx, step.new_replicas);
        }
        rs_history(v, st, new_idx);
        return;
    }
    ctl_rollout_rolling(&v->f, v->rs, v->n, new_idx, target, &step);
    /* Kubernetes counts replica sets' spec: RayClusters an old replica set
     * was told to drop but that still exist (their deletion not yet seen)
     * would let the new one surge past replicas + maxSurge. They hold its
     * growth back until they are gone. */
    int excess = 0;
    for (size_t i = 0; i < v->n; i++)
        if ((int)i != new_idx && v->rs[i].clusters > v->rs[i].spec_replicas)
            excess += v->rs[i].clusters - v->rs[i].spec_replicas;
    if (excess > 0 && step.create_new) {
        step.new_replicas = step.new_replicas > excess ? step.new_replicas - excess : 0;
    } else if (excess > 0 && new_idx >= 0 && target[new_idx] > v->rs[new_idx].spec_replicas) {
        int held = target[new_idx] - excess;
        target[new_idx] = held > v->rs[new_idx].spec_replicas ? held : v->rs[new_idx].spec_replicas;
    }
    if (step.create_new && rs_create(v, st, step.new_replicas) != 0) return;
    for (size_t i = 0; i < v->n; i++)
        if (target[i] != v->rs[i].spec_replicas ||
            ((int)i == new_idx && v->rs[i].desired_ann != v->replicas))
            rs_resize(v, st, i, target[i]);
    rs_history(v, st, new_idx);
}

/* ---- rollback ---- */

void fl_rollback(fl_view *v, fl_step *st, const char *to)
{
    int idx = ctl_rollout_rollback_target(v->rs, v->n, ctl_rollout_ann_revision(to));
    json_t *doc = json_deep_copy(v->fleet->object);
    json_t *ann = doc ? json_object_get(json_object_get(doc, "metadata"), "annotations") : NULL;
    if (!doc || !ann) {
        json_decref(doc);
        return;
    }
    json_object_del(ann, CTL_ROLLOUT_ANN_ROLLBACK_TO);
    if (idx < 0) {
        ctl_ctrl_event(st->ctrl, v->fleet->name, CTL_EVENT_WARNING, "RollbackRevisionNotFound",
                       "Unable to find the revision to roll back to (%s)", to);
    } else if (!ctl_rollout_template_equal(v->tmpl[idx], v->obj->u.fleet.template)) {
        json_t *copy = ctl_rollout_rollback_template(v->tmpl[idx]);
        if (!copy || json_object_set_new(json_object_get(doc, "spec"), "template", copy) != 0) {
            json_decref(doc);
            return;
        }
        ctl_ctrl_event(st->ctrl, v->fleet->name, CTL_EVENT_NORMAL, "DeploymentRollback",
                       "Rolled back fleet %s to revision %lld", ctl_key_name(v->fleet->name),
                       (long long)v->rs[idx].revision);
    } else {
        ctl_ctrl_event(st->ctrl, v->fleet->name, CTL_EVENT_WARNING, "RollbackTemplateUnchanged",
                       "The rollback revision contains the same template as the current one");
    }
    rs_put(st, doc, v->fleet->name, "RollbackFailed");
}

/* ---- status ---- */

/* A condition: the times of the previous one of its type kept while its
 * status stays (lastUpdateTime moves when the reason or message changes,
 * or `progress` says so). */
static int st_cond(json_t *conds, const json_t *prev, const char *type, const char *status,
                   const char *reason, const char *msg, int progress, int64_t now)
{
    char ts[32];
    bx_time_rfc3339(now, ts, sizeof(ts));
    const char *ps = json_string_value(json_object_get(prev, "status"));
    const char *pr = json_string_value(json_object_get(prev, "reason"));
    const char *pm = json_string_value(json_object_get(prev, "message"));
    const char *lt = json_string_value(json_object_get(prev, "lastTransitionTime"));
    const char *lu = json_string_value(json_object_get(prev, "lastUpdateTime"));
    int same = ps && !strcmp(ps, status);
    int same_text = same && pr && !strcmp(pr, reason) && pm && !strcmp(pm, msg);
    json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "reason",
                          reason, "message", msg, "lastTransitionTime", same && lt ? lt : ts,
                          "lastUpdateTime", same_text && !progress && lu ? lu : ts);
    return c ? json_array_append_new(conds, c) : -1;
}

void fl_status(fl_view *v, fl_step *st, int new_idx)
{
    ctl_rollout_status s;
    ctl_rollout_status_calc(&v->f, v->rs, v->n, new_idx, &s);
    const json_t *prev = v->fleet->status;
    int64_t cc = rs_int(prev, "collisionCount", 0) + (st->collision ? 1 : 0);
    const char *fname = ctl_key_name(v->fleet->name);
    char sel[CTL_NAME_MAX + 96];
    snprintf(sel, sizeof(sel), "%s=%s,%s", CTL_ROLLOUT_LABEL_FLEET, fname, CTL_FLEET_SELECTOR_HEAD);
    json_t *out =
        json_pack("{s:I,s:i,s:i,s:i,s:i,s:i,s:s,s:[]}", "observedGeneration",
                  (json_int_t)v->fleet->generation, "replicas", s.replicas, "updatedReplicas",
                  s.updated, "readyReplicas", s.ready, "availableReplicas", s.available,
                  "unavailableReplicas", s.unavailable, "scalingTargetSelector", sel, "conditions");
    if (!out) return;
    if (cc > 0) json_object_set_new(out, "collisionCount", json_integer(cc));
    if (v->autoscaled) json_object_set_new(out, "autoscaledReplicas", json_integer(v->replicas));
    json_t *conds = json_object_get(out, "conditions");
    int64_t now = v->now_ms;
    st_cond(
        conds, ctl_cond_get(prev, "Available"), "Available", s.available_cond ? "True" : "False",
        s.available_cond ? CTL_ROLLOUT_REASON_MIN_AVAILABLE : CTL_ROLLOUT_REASON_MIN_UNAVAILABLE,
        s.available_cond ? "Fleet has minimum availability."
                         : "Fleet does not have minimum availability.",
        0, now);
    const json_t *pp = ctl_cond_get(prev, "Progressing");
    const char *pr = json_string_value(json_object_get(pp, "reason"));
    char msg[320];
    const char *new_name = new_idx >= 0 ? ctl_key_name(v->rs[new_idx].name) : "";
    if (v->obj->u.fleet.paused) {
        st_cond(conds, pp, "Progressing", "Unknown", CTL_ROLLOUT_REASON_PAUSED, "Fleet is paused",
                0, now);
    } else if (pr && !strcmp(pr, CTL_ROLLOUT_REASON_PAUSED)) {
        st_cond(conds, pp, "Progressing", "Unknown", CTL_ROLLOUT_REASON_RESUMED, "Fleet is resumed",
                0, now);
    } else if (st->created) {
        st_cond(conds, pp, "Progressing", "True", CTL_ROLLOUT_REASON_NEW_RS, st->message, 1, now);
    } else {
        int64_t lu = 0;
        const char *lus = json_string_value(json_object_get(pp, "lastUpdateTime"));
        if (lus && bx_time_parse_rfc3339(lus, &lu) != 0) lu = 0;
        ctl_rollout_progress_action a = ctl_rollout_progress(&v->f, &s, pr, lu, now);
        if (!pp && a == CTL_PROGRESS_KEEP) {
            snprintf(msg, sizeof(msg), "Found new replica set \"%s\"", new_name);
            st_cond(conds, pp, "Progressing", "True", CTL_ROLLOUT_REASON_FOUND_RS, msg, 1, now);
        } else if (a == CTL_PROGRESS_KEEP) {
            json_array_append(conds, (json_t *)pp);
        } else if (a == CTL_PROGRESS_COMPLETE) {
            snprintf(msg, sizeof(msg), "RayClusterReplicaSet \"%s\" has successfully progressed.",
                     new_name);
            st_cond(conds, pp, "Progressing", "True", CTL_ROLLOUT_REASON_NEW_RS_AVAILABLE, msg, 0,
                    now);
        } else if (a == CTL_PROGRESS_UPDATED) {
            snprintf(msg, sizeof(msg), "RayClusterReplicaSet \"%s\" is progressing.", new_name);
            st_cond(conds, pp, "Progressing", "True", CTL_ROLLOUT_REASON_RS_UPDATED, msg, 1, now);
        } else if (a == CTL_PROGRESS_TIMED_OUT) {
            snprintf(msg, sizeof(msg), "RayClusterReplicaSet \"%s\" has timed out progressing.",
                     new_name);
            st_cond(conds, pp, "Progressing", "False", CTL_ROLLOUT_REASON_TIMED_OUT, msg, 0, now);
        } /* CTL_PROGRESS_REMOVE: no Progressing condition */
        int64_t again = ctl_rollout_progress_requeue_ms(&v->f, &s, pr, lu, now);
        if (again >= 0) ctl_ctrl_wake_at(st->ctrl, ctl_ctrl_now(st->ctrl) + (uint64_t)again + 1000);
    }
    if (st->failure)
        st_cond(conds, ctl_cond_get(prev, "ReplicaFailure"), "ReplicaFailure", "True", st->failure,
                st->message, 0, now);
    ctl_ctrl_status(st->ctrl, v->fleet->name, out);
    if (st->collision) ctl_ctrl_kick(st->ctrl);
}
