/* ctl_orch_k8s_tgt: the scale targets of the "kubernetes" orchestrator
 * (ctl_orch_k8s.h) other than Deployments: any namespaced kind with a
 * scale subresource (apps/v1 StatefulSets, AIBrix's RayClusterFleets and
 * StormServices, ...), named by the autoscalers through ctl_orch_track.
 *
 * For each target (apiVersion, kind, name; key as ctl_target.h):
 *   1. discovery: GET /apis/<group>/<version> (/api/v1 for the core group)
 *      once per group/version, cached for the orchestrator's life; the
 *      kind's plural and whether a "<plural>/scale" entry exists
 *      (k8s_discovery.h). A kind that is not served or has no scale
 *      subresource gets an error (reason FailedGetScale, AIBrix's
 *      AbleToScale reason) and is never scaled. A read (discovery or
 *      Scale) that fails otherwise than 404 is retried after a backoff
 *      (1 s doubling to 60 s, back to 1 s after a success); a 404 discovery
 *      (the group/version is not served) when the set of targets changes.
 *   2. a reflector per kind (group, version, plural) in the namespace,
 *      started when the first target names the kind and kept until close
 *      (it keeps metadata only). Its events about the target's object (and
 *      its first list) trigger
 *   3. a GET of the object's /scale: spec.replicas is reported through
 *      replicas (with the object's model.aibrix.ai/name label as the
 *      model); status.selector (the label selector string) decides which
 *      pods are the target's (match). At steady state nothing is read but
 *      the watch: a GET follows only a change of the object (one at a time
 *      per target; a change meanwhile makes one more). An object that is
 *      not there is an error (FailedGetScale, "... not found").
 * Writes: path gives "<item path>" for k8s_scale (the orchestrator sends
 * it). Errors are reported once when they start (reason set) and when they
 * end (reason NULL); ctl_orch_k8s_tgt_set reports the standing ones again
 * (a restarted autoscaler relearns them).
 *
 * Threads and ownership: the client's loop; the client is borrowed (close
 * this first). Targets are copied. Callbacks never run from inside
 * ctl_orch_k8s_tgt_new or _close; they may run from inside _set. Counts are
 * small (a handful of autoscalers): lookups are linear. */
#ifndef CTL_ORCH_K8S_TGT_H
#define CTL_ORCH_K8S_TGT_H

#include <jansson.h>
#include <stddef.h>

#include "ctl/ctl_target.h"
#include "k8s/k8s_client.h"

typedef struct ctl_orch_k8s_tgt ctl_orch_k8s_tgt;

typedef struct ctl_orch_k8s_tgt_cbs {
    /* The target's spec.replicas (on every Scale read). */
    void (*replicas)(void *ud, const char *key, const char *model, int replicas);
    /* It cannot be scaled (reason, message), or no longer (reason NULL). */
    void (*error)(void *ud, const char *key, const char *reason, const char *message);
    /* Which pods belong to which target may have changed (a selector). */
    void (*selectors)(void *ud);
} ctl_orch_k8s_tgt_cbs;

/* 0 and *out, or -1 (out of memory). ns copied. */
int ctl_orch_k8s_tgt_new(k8s_client *c, const char *ns, const ctl_orch_k8s_tgt_cbs *cbs, void *ud,
                         ctl_orch_k8s_tgt **out);
/* The whole set of targets (Deployments among them are skipped: the
 * orchestrator follows every Deployment already). One entry per key: while
 * a key stays in the set, the apiVersion it was first given stays. */
void ctl_orch_k8s_tgt_set(ctl_orch_k8s_tgt *t, const ctl_target *ts, size_t n);
/* The key of the first resolved target whose selector selects these pod
 * labels, or NULL. Borrowed until the next _set. */
const char *ctl_orch_k8s_tgt_match(const ctl_orch_k8s_tgt *t, const json_t *labels);
/* The target's item path (for k8s_scale) into buf: 0; 1 not a target
 * here; -1 known but not resolved or in error (a message in err). */
int ctl_orch_k8s_tgt_path(const ctl_orch_k8s_tgt *t, const char *key, char *buf, size_t cap,
                          char *err, size_t errlen);
/* GETs sent: discovery and /scale reads. */
unsigned long ctl_orch_k8s_tgt_reads(const ctl_orch_k8s_tgt *t);
/* Cancels what is in flight, closes the reflectors and the retry timer;
 * done (may be NULL) from the loop. t NULL: done at once. */
void ctl_orch_k8s_tgt_close(ctl_orch_k8s_tgt *t, void (*done)(void *ud), void *ud);

#endif
