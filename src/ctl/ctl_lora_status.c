/* ctl_lora_status: the ModelAdapter's status in AIBrix's shape (see
 * ctl_lora.h and docs/control-plane-lora.md): its phase and the conditions
 * Initialized, Scheduled and Ready, from what a pass saw (ctl_lora_view).
 * A condition keeps its lastTransitionTime until its status changes; the
 * skeleton writes the whole only when it changed. */
#include "ctl/ctl_lora_int.h"

#include <stdio.h>
#include <string.h>

#include "common/bx_time.h"

static void ctl_lora_cond_set(ctl_lora_ad *a, const char *type, const char *status,
                              const char *reason, const char *msg)
{
    json_t *old = json_object_get(a->conds, type);
    const char *ltt = json_string_value(json_object_get(old, "lastTransitionTime"));
    const char *ost = json_string_value(json_object_get(old, "status"));
    char now[40];
    if (!ltt || !ost || strcmp(ost, status) != 0) {
        bx_time_rfc3339(bx_time_unix_ms(), now, sizeof(now));
        ltt = now;
    }
    json_t *cnd = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "reason",
                            reason, "message", msg, "lastTransitionTime", ltt);
    if (cnd) json_object_set_new(a->conds, type, cnd);
}

void ctl_lora_status_write(ctl_lora *c, ctl_lora_ad *a, const ctl_lora_view *v)
{
    const char *phase;
    char msg[1024];
    const ctl_adapter *ma = &a->obj->u.ma;
    if (a->art == CTL_LORA_ART_NONE || a->art == CTL_LORA_ART_RESOLVING) {
        ctl_lora_cond_set(a, "Initialized", "Unknown", "ModelAdapterPending",
                          "Starting reconciliation");
    } else if (a->art == CTL_LORA_ART_FAILED) {
        snprintf(msg, sizeof(msg), "artifact %s: %s", ma->artifact_url, a->art_err);
        ctl_lora_cond_set(a, "Initialized", "False", "ArtifactError", msg);
    } else {
        snprintf(msg, sizeof(msg), "lora_path %.900s", a->lora_path);
        ctl_lora_cond_set(a, "Initialized", "True", "ArtifactResolved", msg);
    }
    if (v->ninst || v->inflight) {
        size_t o = 0;
        msg[0] = 0;
        for (size_t i = 0; i < a->nst && o < sizeof(msg); i++)
            if (a->st[i].st == CTL_LORA_LS_LOADING || a->st[i].st == CTL_LORA_LS_CONFIRMING ||
                a->st[i].st == CTL_LORA_LS_LOADED)
                o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s", o ? "," : "pods ",
                                      a->st[i].pod);
        ctl_lora_cond_set(a, "Scheduled", "True", "Scheduled", msg);
    } else if (json_object_get(a->conds, "Scheduled")) {
        ctl_lora_cond_set(a, "Scheduled", "False", "Rescheduling", "no pod holds the adapter");
    }

    if (a->art == CTL_LORA_ART_FAILED) {
        phase = "Failed";
        snprintf(msg, sizeof(msg), "artifact %s: %s", ma->artifact_url, a->art_err);
        ctl_lora_cond_set(a, "Ready", "False", "ArtifactError", msg);
    } else if (v->ninst) {
        phase = "Running";
        snprintf(msg, sizeof(msg), "loaded on %zu of %zu desired pods", v->ninst, v->desired);
        ctl_lora_cond_set(a, "Ready", "True", "ModelAdapterAvailable", msg);
    } else if (a->art != CTL_LORA_ART_OK) {
        phase = "Pending";
        ctl_lora_cond_set(a, "Ready", "False", "ModelAdapterPending", "resolving the artifact");
    } else if (v->inflight) {
        phase = "Scheduled";
        ctl_lora_cond_set(a, "Ready", "False", "ModelAdapterLoading", "loading");
    } else if (v->candidates == 0) {
        phase = "Pending";
        ctl_lora_cond_set(a, "Ready", "False", "NoCandidates",
                          "no Ready pod matches spec.podSelector and serves the base model");
    } else if (v->failed) {
        phase = "Failed";
        snprintf(msg, sizeof(msg), "Loading failed on all pods: %s", v->lasterr);
        ctl_lora_cond_set(a, "Ready", "False", "ModelAdapterLoadingError", msg);
    } else if (v->probed == 0) {
        phase = "Unknown";
        ctl_lora_cond_set(a, "Ready", "False", "EnginesUnreachable",
                          "no candidate pod answered GET /v1/models");
    } else {
        phase = "Pending";
        if (v->full)
            snprintf(msg, sizeof(msg), "%zu candidate pods are at max_loras", v->full);
        else
            snprintf(msg, sizeof(msg), "waiting for a schedulable pod");
        ctl_lora_cond_set(a, "Ready", "False", "NoSchedulablePods", msg);
    }

    json_t *inst = json_array();
    for (size_t i = 0; i < v->ninst; i++)
        json_array_append_new(inst, json_string(v->inst[i]));
    json_t *conds = json_array();
    static const char *const order[] = {"Initialized", "Scheduled", "Ready"};
    for (size_t i = 0; i < 3; i++) {
        json_t *cnd = json_object_get(a->conds, order[i]);
        if (cnd) json_array_append(conds, cnd);
    }
    json_t *st = json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:I}", "phase", phase, "candidates",
                           (json_int_t)v->candidates, "desiredReplicas", (json_int_t)v->desired,
                           "readyReplicas", (json_int_t)v->ninst, "instances", inst, "conditions",
                           conds, "observedGeneration", (json_int_t)a->obj->generation);
    ctl_ctrl_status(c->ctrl, a->name, st); /* written when it changed */
}

void ctl_lora_conds_seed(ctl_lora *c, ctl_lora_ad *a)
{
    ctl_record r;
    if (ctl_objstore_get(ctl_ctrl_store(c->ctrl), CTL_LORA_KIND, a->name, &r, NULL, 0) != 0) return;
    size_t i;
    json_t *cnd;
    json_array_foreach(json_object_get(r.status, "conditions"), i, cnd)
    {
        const char *type = json_string_value(json_object_get(cnd, "type"));
        if (type && json_is_string(json_object_get(cnd, "status")) &&
            json_is_string(json_object_get(cnd, "lastTransitionTime")))
            json_object_set(a->conds, type, cnd);
    }
    ctl_record_clear(&r);
}
