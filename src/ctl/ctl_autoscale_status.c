/* ctl_autoscale_status: what a PodAutoscaler reports (see ctl_autoscale.h):
 * its conditions (AIBrix's: ValidSpec, AbleToScale, ScalingActive, Ready,
 * MultiPodAutoscalerConflict; a condition's lastTransitionTime moves only
 * when its status does), the status after each decision, and the
 * strategy's memory kept in that status so a restart resumes it. The
 * skeleton (ctl_ctrl) writes a status only when it changed. */
#include "ctl/ctl_autoscale_int.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "common/bx_log.h"
#include "common/bx_time.h"

void ctl_as_cond_set(ctl_as_pa *p, const char *type, int status, const char *reason,
                     const char *msg)
{
    ctl_as_cond *c = NULL, *free_slot = NULL;
    for (int i = 0; i < CTL_AS_NCOND; i++) {
        if (p->cond[i].present && strcmp(p->cond[i].type, type) == 0) c = &p->cond[i];
        if (!p->cond[i].present && !free_slot) free_slot = &p->cond[i];
    }
    const char *st = status ? "True" : "False";
    if (!c) {
        if (!free_slot) return;
        c = free_slot;
        memset(c, 0, sizeof(*c));
        c->present = 1;
        ctl_as_fmt(c->type, sizeof(c->type), "%s", type);
    }
    if (strcmp(c->status, st) != 0 || c->since_ms == 0) c->since_ms = ctl_ctrl_wall_ms();
    ctl_as_fmt(c->status, sizeof(c->status), "%s", st);
    ctl_as_fmt(c->reason, sizeof(c->reason), "%s", reason);
    ctl_as_fmt(c->message, sizeof(c->message), "%s", msg ? msg : "");
}

void ctl_as_cond_clear(ctl_as_pa *p, const char *type)
{
    for (int i = 0; i < CTL_AS_NCOND; i++)
        if (p->cond[i].present && strcmp(p->cond[i].type, type) == 0) p->cond[i].present = 0;
}

static const char *ctl_as_cond_status(const ctl_as_pa *p, const char *type)
{
    for (int i = 0; i < CTL_AS_NCOND; i++)
        if (p->cond[i].present && strcmp(p->cond[i].type, type) == 0) return p->cond[i].status;
    return "";
}

void ctl_as_cond_ready(ctl_as_pa *p)
{
    int ok = strcmp(ctl_as_cond_status(p, "AbleToScale"), "True") == 0 &&
             strcmp(ctl_as_cond_status(p, "ScalingActive"), "True") != 0 && !p->conflict;
    ctl_as_cond_set(p, "Ready", ok, ok ? "AsExpected" : "NotReady", "");
}

static int ctl_as_jset(json_t *o, const char *k, json_t *v)
{
    return v ? json_object_set_new(o, k, v) : -1;
}

static json_t *ctl_as_conds_json(const ctl_as_pa *p)
{
    json_t *arr = json_array();
    if (!arr) return NULL;
    for (int i = 0; i < CTL_AS_NCOND; i++) {
        const ctl_as_cond *c = &p->cond[i];
        if (!c->present) continue;
        char ts[32];
        bx_time_rfc3339(c->since_ms, ts, sizeof(ts));
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", c->type, "status", c->status,
                              "reason", c->reason, "message", c->message, "lastTransitionTime", ts);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The strategy's memory (panic mode, stabilization and rate histories:
 * plain data, as_policy.h) is kept in status as base64, so a restarted
 * `brix up` resumes it; its times are uv_now (monotonic since boot), valid
 * across restarts on one machine. Restored only for the same generation. */
#define AS_STATE_KEY "brixStrategyState"

static void ctl_as_state_put(json_t *st, const ctl_as_pa *p)
{
    if (!p->valid || p->st.version != AS_STATE_VERSION) return;
    char b64[((sizeof(as_state) + 2) / 3) * 4 + 1];
    int n =
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)&p->st, (int)sizeof(as_state));
    if (n <= 0) return;
    json_object_set_new(st, AS_STATE_KEY,
                        json_pack("{s:i,s:I,s:s}", "version", (int)AS_STATE_VERSION, "generation",
                                  (json_int_t)p->generation, "data", b64));
}

int ctl_as_state_get(ctl_as *a, ctl_as_pa *p)
{
    ctl_record r;
    char err[256];
    if (ctl_objstore_get(a->store, CTL_AS_KIND, p->name, &r, err, sizeof(err)) != 0) return -1;
    int rc = -1;
    json_t *s = json_object_get(r.status, AS_STATE_KEY);
    const char *data = json_string_value(json_object_get(s, "data"));
    if (data && json_integer_value(json_object_get(s, "version")) == AS_STATE_VERSION &&
        json_integer_value(json_object_get(s, "generation")) == p->generation &&
        strlen(data) == ((sizeof(as_state) + 2) / 3) * 4) {
        unsigned char buf[((sizeof(as_state) + 2) / 3) * 3 + 3];
        int n = EVP_DecodeBlock(buf, (const unsigned char *)data, (int)strlen(data));
        as_state st;
        if (n >= (int)sizeof(as_state)) {
            memcpy(&st, buf, sizeof(st));
            if (st.version == AS_STATE_VERSION && st.stab_up.n <= AS_HIST_MAX &&
                st.stab_down.n <= AS_HIST_MAX && st.up_events.n <= AS_HIST_MAX &&
                st.down_events.n <= AS_HIST_MAX) {
                p->st = st;
                rc = 0;
            }
        }
    }
    ctl_record_clear(&r);
    return rc;
}

void ctl_as_status_write(ctl_as *a, ctl_as_pa *p, json_t *st)
{
    if (st) ctl_as_state_put(st, p);
    /* rc -1: the object is not stored (yet); the next change writes it */
    ctl_ctrl_status(a->ctrl, p->name, st);
}

void ctl_as_sched_now(ctl_as *a, ctl_as_pa *p, as_input *in)
{
    as_bounds b;
    int64_t ms = a->cbs.wall_ms ? a->cbs.wall_ms(a->ud) : ctl_ctrl_wall_ms();
    int64_t now_s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    if (p->spec.n_schedules == 0 || !p->tz) {
        as_bounds_base(&p->spec, &b);
    } else {
        bx_tz_tm tm;
        bx_tz_local(p->tz, now_s, &tm);
        as_bounds_at(&p->spec, tm.wday, tm.hour * 60 + tm.min, &b);
        if (in) {
            in->local_valid = true;
            in->local_wday = tm.wday;
            in->local_minute = tm.hour * 60 + tm.min;
        }
    }
    uint32_t mask =
        p->spec.n_bounds ? as_sched_bounds_mask(&p->spec, (const bx_tz *const *)p->btz, now_s) : 0;
    as_bounds_apply_mask(&p->spec, mask, &b);
    if (in) in->bounds_active = mask;
    if (b.active != p->bounds.active) {
        if (b.active >= 0)
            bx_info("autoscaler %s: schedule %s active: replicas in [%d, %d]", p->name,
                    as_bounds_name(&p->spec, b.active), (int)b.min, (int)b.max);
        else if (p->bounds.active >= 0)
            bx_info("autoscaler %s: no schedule active: replicas in [%d, %d]", p->name, (int)b.min,
                    (int)b.max);
    }
    p->bounds = b;
}

/* status.scheduledBounds (AIBrix's ScheduledBoundsStatus). */
static json_t *ctl_as_bounds_json(const ctl_as_pa *p)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    if (as_bounds_name(&p->spec, p->bounds.active))
        bad |= ctl_as_jset(o, "activeSchedule",
                           json_string(as_bounds_name(&p->spec, p->bounds.active))) != 0;
    bad |= ctl_as_jset(o, "effectiveMinReplicas", json_integer(p->bounds.min)) != 0;
    bad |= ctl_as_jset(o, "effectiveMaxReplicas", json_integer(p->bounds.max)) != 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void ctl_as_status_conditions_only(ctl_as *a, ctl_as_pa *p, const char *reason)
{
    json_t *st = json_object();
    if (st) {
        int bad = ctl_as_jset(st, "reason", json_string(reason)) != 0;
        bad |= ctl_as_jset(st, "conditions", ctl_as_conds_json(p)) != 0;
        if (p->valid) {
            bad |=
                ctl_as_jset(st, "strategy", json_string(as_strategy_name(p->spec.strategy))) != 0;
            ctl_as_sched_now(a, p, NULL);
            bad |= ctl_as_jset(st, "scheduledBounds", ctl_as_bounds_json(p)) != 0;
        }
        if (bad) {
            json_decref(st);
            st = NULL;
        }
    }
    ctl_as_status_write(a, p, st);
}

int ctl_as_pod_answered(const ctl_as_pa *p, size_t i)
{
    for (size_t m = 0; m < p->spec.n_metrics; m++)
        if (p->spec.metrics[m].source == AS_SOURCE_POD && !p->rp[i].ok[m]) return 0;
    return 1;
}

json_t *ctl_as_decision_status(ctl_as_pa *p, const as_decision *d, int32_t current, int32_t ready)
{
    json_t *st = json_object(), *metrics = json_object(), *details = json_array();
    json_t *scrape = json_object(), *failed = json_array();
    int bad = !st || !metrics || !details || !scrape || !failed;
    for (size_t i = 0; !bad && i < p->nrp; i++)
        if (!ctl_as_pod_answered(p, i) && json_array_size(failed) < CTL_AS_MAX_FAILED_LISTED)
            bad |= json_array_append_new(failed, json_string(p->rp[i].name)) != 0;
    for (size_t m = 0; !bad && m < p->spec.n_metrics; m++) {
        const as_metric_spec *ms = &p->spec.metrics[m];
        const as_metric_result *r = &d->metrics[m];
        char key[AS_STR_LEN + 8];
        if (json_object_get(metrics, ms->target_metric))
            ctl_as_fmt(key, sizeof(key), "%s#%zu", ms->target_metric, m);
        else
            ctl_as_fmt(key, sizeof(key), "%s", ms->target_metric);
        json_t *det = json_pack("{s:s, s:s, s:f, s:I, s:I}", "name", ms->target_metric, "source",
                                as_source_type_name(ms->source), "target", ms->target_value, "pods",
                                (json_int_t)(ms->source == AS_SOURCE_POD ? p->last_pods[m] : 0),
                                "recommended", (json_int_t)(r->valid ? r->recommended : 0));
        bad |= !det;
        if (det && r->valid) {
            bad |= json_object_set_new(metrics, key, json_real(r->stable_total)) != 0;
            bad |= ctl_as_jset(det, "value", json_real(r->stable_total)) != 0;
            bad |= ctl_as_jset(det, "panicValue", json_real(r->panic_total)) != 0;
        } else if (det) {
            bad |= ctl_as_jset(det, "value", json_null()) != 0;
        }
        if (det) bad |= json_array_append_new(details, det) != 0;
    }
    if (!bad) {
        bad |= ctl_as_jset(scrape, "pods", json_integer((json_int_t)p->nrp)) != 0;
        bad |= ctl_as_jset(scrape, "answered", json_integer(p->info.answered)) != 0;
        bad |= json_object_set(scrape, "failed", failed) != 0;
        bad |= ctl_as_jset(st, "desiredScale", json_integer(d->desired)) != 0;
        bad |= ctl_as_jset(st, "actualScale", json_integer(current)) != 0;
        bad |= ctl_as_jset(st, "readyReplicas", json_integer(ready)) != 0;
        if (p->last_scale_wall_ms) {
            char ts[32];
            bx_time_rfc3339(p->last_scale_wall_ms, ts, sizeof(ts));
            bad |= ctl_as_jset(st, "lastScaleTime", json_string(ts)) != 0;
        }
        bad |= ctl_as_jset(st, "strategy", json_string(as_strategy_name(p->spec.strategy))) != 0;
        if (p->spec.strategy == AS_STRATEGY_KPA)
            bad |= ctl_as_jset(st, "panic", json_boolean(d->panic)) != 0;
        bad |= ctl_as_jset(st, "reason", json_string(d->reason)) != 0;
        bad |= json_object_set(st, "metrics", metrics) != 0;
        bad |= json_object_set(st, "metricDetails", details) != 0;
        bad |= json_object_set(st, "scrape", scrape) != 0;
        bad |= ctl_as_jset(st, "scheduledBounds", ctl_as_bounds_json(p)) != 0;
        bad |= ctl_as_jset(st, "conditions", ctl_as_conds_json(p)) != 0;
    }
    json_decref(metrics);
    json_decref(details);
    json_decref(scrape);
    json_decref(failed);
    if (bad) {
        json_decref(st);
        return NULL;
    }
    return st;
}
