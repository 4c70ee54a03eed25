/* ctl_orch: the orchestrator table's dispatch (see ctl_orch.h), the pod
 * phase names, and the callback side every implementation shares: change
 * notices, the drain question and the event words and log lines. */
#include "ctl/ctl_orch.h"

#include "common/bx_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ctl_pod_phase_name(ctl_pod_phase p)
{
    switch (p) {
    case CTL_POD_STARTING:
        return "Starting";
    case CTL_POD_READY:
        return "Ready";
    case CTL_POD_DRAINING:
        return "Draining";
    case CTL_POD_STOPPING:
        return "Stopping";
    case CTL_POD_BACKOFF:
        return "Backoff";
    case CTL_POD_GONE:
        return "Gone";
    }
    return "Unknown";
}

const char *ctl_orch_name(const ctl_orch *o)
{
    return o->ops->name;
}

int ctl_orch_apply(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err, size_t errlen)
{
    return o->ops->apply(o, deployment, replicas, err, errlen);
}

int ctl_orch_adopt(ctl_orch *o, const ctl_obj *deployment, int replicas, char *err, size_t errlen)
{
    return o->ops->adopt(o, deployment, replicas, err, errlen);
}

int ctl_orch_remove(ctl_orch *o, const char *deployment, char *err, size_t errlen)
{
    return o->ops->remove(o, deployment, err, errlen);
}

size_t ctl_orch_pods(ctl_orch *o, const char *deployment, ctl_podview *out, size_t max)
{
    return o->ops->pods(o, deployment, out, max);
}

void ctl_orch_get_stats(const ctl_orch *o, ctl_orch_stats *out)
{
    o->ops->get_stats(o, out);
}

void ctl_orch_track(ctl_orch *o, const ctl_target *targets, size_t n)
{
    if (o->ops->track) o->ops->track(o, targets, n);
}

int ctl_orch_scale(ctl_orch *o, const char *key, int replicas, char *err, size_t errlen)
{
    if (!o->ops->scale) {
        snprintf(err, errlen, "orchestrator %s: scaling by target is not supported", o->ops->name);
        return -1;
    }
    return o->ops->scale(o, key, replicas, err, errlen);
}

void ctl_orch_close(ctl_orch *o, int stop_pods, void (*done)(void *ud), void *ud)
{
    if (o) o->ops->close(o, stop_pods, done, ud);
}

void ctl_orch_base_init(ctl_orch *o, const ctl_orch_ops *ops, const ctl_orch_cbs *cbs, void *ud)
{
    memset(o, 0, sizeof(*o));
    o->ops = ops;
    if (cbs) o->cbs = *cbs;
    o->ud = ud;
}

void ctl_orch_changed(ctl_orch *o, const ctl_podview *pod)
{
    if (o->cbs.on_change) o->cbs.on_change(o->ud, pod);
}

int ctl_orch_inflight(ctl_orch *o, const ctl_podview *pod)
{
    return o->cbs.inflight ? o->cbs.inflight(o->ud, pod) : 0;
}

void ctl_orch_event(ctl_orch *o, const char *deployment, const char *pod, ctl_event_type type,
                    const char *reason, const char *fmt, ...)
{
    char msg[768], full[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "pod %s: %s", pod, msg);
    if (type == CTL_EVENT_WARNING)
        bx_warn("%s %s: %s", reason, deployment, full);
    else
        bx_info("%s %s: %s", reason, deployment, full);
    if (o->cbs.on_event)
        o->cbs.on_event(o->ud, CTL_ORCH_EVENT_KIND, deployment, type, reason, full);
}
