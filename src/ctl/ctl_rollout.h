/* ctl_rollout: the arithmetic of a RayClusterFleet's rollout and of its
 * RayClusterReplicaSets, as pure functions. No I/O, no clock (the caller
 * passes now_ms), no store, no loop: the fleet controller (ctl_fleet.c) and
 * the RayClusterReplicaSet controller (ctl_rcrs.c) gather the facts, call
 * these, and apply what comes back. Everything here reproduces Kubernetes'
 * Deployment/ReplicaSet controller as AIBrix ported it
 * (pkg/controller/rayclusterfleet, rayclusterreplicaset); each function
 * names the function it reproduces; the table below is the map.
 *
 * Int-or-percent (k8s.io/apimachinery intstr):
 *   ctl_rollout_ios_parse/_from_json  intstr.IntOrString + the API's
 *                                     validation (ValidatePositiveIntOrPercent)
 *   ctl_rollout_ios_scaled            GetScaledValueFromIntOrPercent
 *   ctl_rollout_strategy_parse        ValidateRollingUpdateDeployment
 *   ctl_rollout_fenceposts            ResolveFenceposts
 *   ctl_rollout_max_surge             util.MaxSurge
 *   ctl_rollout_max_unavailable       util.MaxUnavailable
 * Fleet controller (rolling.go, recreate.go, sync.go, util/fleet.go):
 *   ctl_rollout_new_rs_new_replicas   util.NewRSNewReplicas
 *   ctl_rollout_rolling               rolloutRolling's scaling: reconcileNewReplicaSet,
 *                                     reconcileOldReplicaSets (cleanupUnhealthyReplicas,
 *                                     scaleDownOldReplicaSetsForRollingUpdate)
 *   ctl_rollout_recreate              rolloutRecreate's steps (oldPodsRunning included)
 *   ctl_rollout_is_scaling_event      isScalingEvent
 *   ctl_rollout_scale                 scale (FindActiveOrLatest, IsSaturated,
 *                                     GetProportion, getReplicaSetFraction)
 *   ctl_rollout_status_calc           calculateStatus (+ Available condition's status)
 *   ctl_rollout_complete              util.DeploymentComplete
 *   ctl_rollout_progress              syncRolloutStatus's Progressing condition
 *                                     (DeploymentProgressing, DeploymentTimedOut)
 *   ctl_rollout_progress_requeue_ms   requeueStuckDeployment
 *   ctl_rollout_history_cleanup       cleanupDeployment
 *   ctl_rollout_find_new              util.FindNewReplicaSet
 *   ctl_rollout_template_equal        util.EqualIgnoreLabels
 *   ctl_rollout_template_hash         util.ComputeHash + rand.SafeEncodeString
 *   ctl_rollout_max_revision          util.MaxRevision
 *   ctl_rollout_last_revision         util.LastRevision (rollback to revision 0)
 *   ctl_rollout_new_revision          getNewReplicaSet's newRevision
 *   ctl_rollout_revision_history      SetNewReplicaSetAnnotations' revision-history
 *   ctl_rollout_rollback_target       rollback (which RS; revision 0: the last one)
 *   ctl_rollout_rollback_template     rollbackToTemplate / SetFromReplicaSetTemplate
 * RayClusterReplicaSet controller (pkg/controller/rayclusterreplicaset, pkg/utils/raycluster.go):
 *   ctl_rollout_cluster_ready         utils.IsRayClusterReady
 *   ctl_rollout_cluster_active        isClusterActive
 *   ctl_rollout_cluster_available     the availableReplicas count (minReadySeconds)
 *   ctl_rollout_cluster_cmp_delete    the scale-down order (ActiveClusters sort)
 *   ctl_rollout_name_suffix           generateName's 5 random characters
 *
 * The ReplicaSet view (ctl_rollout_rs) is what the fleet controller reads off
 * each owned RayClusterReplicaSet. Sets of them are passed as an array plus
 * the index of the *new* RS (the one whose template equals the fleet's;
 * -1 when there is none yet); every other entry is an *old* RS. Order does
 * not matter: the functions sort a private copy of indexes where Kubernetes
 * sorts (by creationTimestamp then name; by revision; by size).
 *
 * Plans are written to a caller-owned `int *target` array of n entries:
 * target[i] is rs[i]'s spec.replicas after the step (equal to the current
 * value: leave it alone). Whenever the caller changes an RS's spec.replicas
 * (and where `touch` says so), it also sets that RS's annotations
 * deployment.kubernetes.io/desired-replicas = R and max-replicas =
 * R + ctl_rollout_max_surge (scaleReplicaSet does both in one update).
 *
 * Memory: everything passed in is borrowed for the call; nothing is kept.
 * The set functions allocate an index array and the template ones jansson
 * copies, all freed before returning. Thread-safe (no state). */
#ifndef CTL_ROLLOUT_H
#define CTL_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Annotations and labels the controllers read and write. */
#define CTL_ROLLOUT_ANN_REVISION "deployment.kubernetes.io/revision"
#define CTL_ROLLOUT_ANN_REVISION_HISTORY "deployment.kubernetes.io/revision-history"
#define CTL_ROLLOUT_ANN_DESIRED "deployment.kubernetes.io/desired-replicas"
#define CTL_ROLLOUT_ANN_MAX "deployment.kubernetes.io/max-replicas"
#define CTL_ROLLOUT_ANN_ROLLBACK_TO "deprecated.deployment.rollback.to"
#define CTL_ROLLOUT_ANN_DELETION_COST "controller.kubernetes.io/pod-deletion-cost"
#define CTL_ROLLOUT_LABEL_HASH "pod-template-hash"
#define CTL_ROLLOUT_LABEL_FLEET "orchestration.aibrix.ai/raycluster-fleet-name"

/* ---- int-or-percent ---------------------------------------------------- */

typedef struct ctl_rollout_ios {
    int value;   /* >= 0 */
    int percent; /* 1: value is a percentage ("25%"); 0: an absolute count */
} ctl_rollout_ios;

/* "25%" (percent) or "3" (a count, the form ctl_fleet keeps a JSON integer
 * in). Digits only (no sign, no spaces), at most 9 of them. 0 and *out, or
 * -1 with a message. Percentages above 100 parse (maxSurge allows them). */
int ctl_rollout_ios_parse(const char *s, ctl_rollout_ios *out, char *err, size_t errlen);

/* As the API server accepts an IntOrString: a JSON integer >= 0, or a string
 * "N%" (a string without '%' is refused, as Kubernetes does). 0 or -1. */
int ctl_rollout_ios_from_json(const json_t *v, ctl_rollout_ios *out, char *err, size_t errlen);

/* The form ctl_rollout_ios_parse reads ("25%", "3"): 0, or -1 when buf is
 * too small. */
int ctl_rollout_ios_format(const ctl_rollout_ios *v, char *buf, size_t len);

/* GetScaledValueFromIntOrPercent: a count as is; a percentage of total,
 * rounded up (round_up != 0) or down. */
int ctl_rollout_ios_scaled(const ctl_rollout_ios *v, int total, int round_up);

/* ---- strategy ------------------------------------------------------------ */

typedef struct ctl_rollout_strategy {
    int recreate;                               /* strategy.type Recreate (else RollingUpdate) */
    ctl_rollout_ios max_surge, max_unavailable; /* RollingUpdate only */
} ctl_rollout_strategy;

/* From the fleet's strings (ctl_fleet.max_surge / max_unavailable; NULL or
 * "" means the default "25%"), validated as the API server validates a
 * Deployment's rollingUpdate: non-negative; maxUnavailable at most 100%;
 * not both 0 ("may not be 0 when maxSurge is 0"). Recreate ignores them.
 * 0 and *out, or -1 with a message. */
int ctl_rollout_strategy_parse(int recreate, const char *max_surge, const char *max_unavailable,
                               ctl_rollout_strategy *out, char *err, size_t errlen);

/* ResolveFenceposts: surge = maxSurge of replicas rounded up, unavailable =
 * maxUnavailable rounded down; both 0 -> unavailable 1. Not capped. */
void ctl_rollout_fenceposts(const ctl_rollout_strategy *st, int replicas, int *surge,
                            int *unavailable);

/* MaxSurge: the surge of ResolveFenceposts; 0 for Recreate. */
int ctl_rollout_max_surge(const ctl_rollout_strategy *st, int replicas);

/* MaxUnavailable: the fencepost's unavailable capped at replicas; 0 for
 * Recreate and when replicas is 0. */
int ctl_rollout_max_unavailable(const ctl_rollout_strategy *st, int replicas);

/* ---- the fleet and its replica sets ------------------------------------- */

typedef struct ctl_rollout_fleet {
    int replicas; /* spec.replicas: R */
    ctl_rollout_strategy strategy;
    int status_replicas;         /* status.replicas (GetProportion's fallback) */
    int revision_history_limit;  /* spec.revisionHistoryLimit; < 0: unlimited */
    int64_t generation;          /* metadata.generation */
    int64_t observed_generation; /* status.observedGeneration */
    /* status as last written (DeploymentComplete and the progress check read these) */
    int status_updated, status_available;
    int status_ready;        /* status.readyReplicas */
    int progress_deadline_s; /* spec.progressDeadlineSeconds; <= 0 or INT32_MAX: none */
} ctl_rollout_fleet;

typedef struct ctl_rollout_rs {
    const char *name;            /* borrowed; the creation order's tie-break */
    int64_t created_ms;          /* metadata.creationTimestamp */
    int64_t revision;            /* CTL_ROLLOUT_ANN_REVISION: 0 absent, -1 not a number */
    int spec_replicas;           /* spec.replicas */
    int status_replicas;         /* status.replicas */
    int ready;                   /* status.readyReplicas */
    int available;               /* status.availableReplicas */
    int desired_ann;             /* CTL_ROLLOUT_ANN_DESIRED; -1 absent or not a number */
    int max_ann;                 /* CTL_ROLLOUT_ANN_MAX; -1 absent or not a number */
    int clusters;                /* RayClusters it owns as listed, except those in state failed or
                                    unhealthy (Recreate's oldPodsRunning waits on them) */
    int deleting;                /* metadata.deletionTimestamp set */
    int64_t generation;          /* metadata.generation */
    int64_t observed_generation; /* status.observedGeneration */
} ctl_rollout_rs;

/* An annotation's integer (strconv.Atoi): the value, or -1 when s is NULL
 * or not a decimal int32 (a leading '+' or '-' is accepted; negatives
 * come back as -1 too, which no caller can tell from absent). */
int ctl_rollout_ann_int(const char *s);
/* The revision annotation (strconv.ParseInt): 0 when s is NULL, -1 when
 * not a number, else the value. */
int64_t ctl_rollout_ann_revision(const char *s);

/* NewRSNewReplicas: the new RS's spec.replicas for this step. total is sum
 * spec.replicas of every RS (new_spec included); Recreate: R. RollingUpdate:
 * total >= R + surge: new_spec; else new_spec + min(R + surge - total,
 * R - new_spec) (which also brings a new RS above R down to R). */
int ctl_rollout_new_rs_new_replicas(const ctl_rollout_fleet *f, int total, int new_spec);

typedef struct ctl_rollout_step {
    int create_new;   /* new_idx was -1: create the new RS with new_replicas */
    int new_replicas; /* the new RS's spec.replicas after the step */
    int scaled_new;   /* the new RS changed size (k8s returns after this: old ones untouched) */
    int cleaned_up;   /* replicas removed from old RSs as unhealthy (spec - available) */
    int scaled_down;  /* replicas removed from old RSs while sum(available) > minAvailable */
    int invalid;      /* an old RS reports more available than spec replicas: Kubernetes
                         fails the pass there ("invalid request to scale down"); targets
                         hold what was decided before it; requeue (also: no memory) */
} ctl_rollout_step;

/* One pass of rolloutRolling's scaling, in Kubernetes' order:
 *   1. new RS absent: create it with NewRSNewReplicas (counted from 0) and
 *      go on as if it had been there.
 *   2. reconcileNewReplicaSet: new > R: down to R; < R: NewRSNewReplicas.
 *      If that changes it, stop (scaled_new).
 *   3. reconcileOldReplicaSets over the active old RSs (spec > 0):
 *      maxScaledDown = sum(spec) - (R - maxUnavailable) - (new.spec -
 *      new.available); <= 0: stop. Clean up unhealthy replicas (oldest RS
 *      first, min(budget left, spec - available) each), then, if the sum of
 *      available (active old + new) exceeds minAvailable, remove the excess
 *      from the old RSs, oldest first.
 * The scale-down works on the sizes the cleanup left, in the same pass, as
 * Kubernetes does; AIBrix's port hands it the objects as they were before
 * the cleanup (its scaleReplicaSet returns the old object), so there that
 * second update conflicts and waits for the next pass.
 * target (n entries) gets each RS's spec.replicas after the pass (the new
 * RS's too when it exists). Then, if ctl_rollout_complete, the caller runs
 * ctl_rollout_history_cleanup, and writes the status. */
void ctl_rollout_rolling(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n,
                         int new_idx, int *target, ctl_rollout_step *out);

typedef enum ctl_rollout_recreate_action {
    CTL_RECREATE_SCALE_DOWN_OLD = 0, /* targets set every active old RS to 0: apply, sync status */
    CTL_RECREATE_WAIT_OLD,           /* old RSs still have clusters (status.replicas or
                                        listed RayClusters): sync status and wait */
    CTL_RECREATE_SCALE_UP_NEW,       /* create the new RS if absent (step.create_new) with, or
                                        scale it to, step.new_replicas = R */
    CTL_RECREATE_DONE,               /* new RS already at R: nothing to scale */
} ctl_rollout_recreate_action;

/* rolloutRecreate: which step comes next, with target and *out as for
 * ctl_rollout_rolling. After SCALE_UP_NEW or DONE the caller checks
 * ctl_rollout_complete and cleans up history, as for rolling. */
ctl_rollout_recreate_action ctl_rollout_recreate(const ctl_rollout_fleet *f,
                                                 const ctl_rollout_rs *rs, size_t n, int new_idx,
                                                 int *target, ctl_rollout_step *out);

/* isScalingEvent: some active RS (spec > 0) carries a desired-replicas
 * annotation (>= 0) other than R. */
int ctl_rollout_is_scaling_event(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n);

/* scale (proportional scaling; sync's scaling, while paused or on a
 * scaling event). new_idx -1: no new RS (sync never creates one).
 *   - at most one active RS (spec > 0): it (or, with none active, the new
 *     RS, else the newest old) goes to R;
 *   - else the new RS saturated (spec == R, desired annotation == R,
 *     available == R): every active old RS goes to 0;
 *   - else (RollingUpdate) add = (R > 0 ? R + surge : 0) - sum of active spec is
 *     spread over the active RSs, largest first (ties: newer first when
 *     adding, older first when removing): each gets round(spec * (R +
 *     surge) / max annotation) - spec (fallback for the annotation:
 *     f->status_replicas; both 0: nothing; R 0: -spec), bounded by what is
 *     left to add; the largest absorbs the leftover (not below 0).
 * touch (n entries, may be NULL) gets 1 for each RS scaleReplicaSet would
 * update (its replicas annotations are rewritten even when its size stays),
 * 0 for the others. Returns 1 when some target differs from spec. */
int ctl_rollout_scale(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n, int new_idx,
                      int *target, unsigned char *touch);

typedef struct ctl_rollout_status {
    int replicas;       /* sum(status.replicas) */
    int updated;        /* the new RS's status.replicas (0 without one) */
    int ready;          /* sum(readyReplicas) */
    int available;      /* sum(availableReplicas) */
    int unavailable;    /* max(0, sum(spec.replicas) - available) */
    int available_cond; /* Available condition: 1 True (MinimumReplicasAvailable),
                           0 False (MinimumReplicasUnavailable):
                           available >= R - maxUnavailable */
} ctl_rollout_status;

/* calculateStatus over every RS (new_idx may be -1). */
void ctl_rollout_status_calc(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n,
                             int new_idx, ctl_rollout_status *out);

/* DeploymentComplete, on the fleet's status as last written: updated ==
 * replicas(status) == available == R and observedGeneration >= generation.
 * status_replicas, status_updated and status_available come from f. */
int ctl_rollout_complete(const ctl_rollout_fleet *f);

/* Progressing condition reasons (and Available's) as Kubernetes writes them. */
#define CTL_ROLLOUT_REASON_RS_UPDATED "ReplicaSetUpdated"
#define CTL_ROLLOUT_REASON_RS_CREATE_ERROR "ReplicaSetCreateError"
#define CTL_ROLLOUT_REASON_NEW_RS "NewReplicaSetCreated"
#define CTL_ROLLOUT_REASON_FOUND_RS "FoundNewReplicaSet"
#define CTL_ROLLOUT_REASON_NEW_RS_AVAILABLE "NewReplicaSetAvailable"
#define CTL_ROLLOUT_REASON_TIMED_OUT "ProgressDeadlineExceeded"
#define CTL_ROLLOUT_REASON_PAUSED "DeploymentPaused"
#define CTL_ROLLOUT_REASON_RESUMED "DeploymentResumed"
#define CTL_ROLLOUT_REASON_MIN_AVAILABLE "MinimumReplicasAvailable"
#define CTL_ROLLOUT_REASON_MIN_UNAVAILABLE "MinimumReplicasUnavailable"

typedef enum ctl_rollout_progress_action {
    CTL_PROGRESS_KEEP = 0,  /* leave the Progressing condition as it is */
    CTL_PROGRESS_REMOVE,    /* no progress deadline: remove it */
    CTL_PROGRESS_COMPLETE,  /* True, NewReplicaSetAvailable ("ReplicaSet %q has successfully
                               progressed."); nothing if it already says so */
    CTL_PROGRESS_UPDATED,   /* True, ReplicaSetUpdated ("ReplicaSet %q is progressing."),
                               lastUpdateTime now; lastTransitionTime kept if it was True */
    CTL_PROGRESS_TIMED_OUT, /* False, ProgressDeadlineExceeded ("ReplicaSet %q has timed out
                               progressing."); nothing if it already says so */
} ctl_rollout_progress_action;

/* syncRolloutStatus's Progressing condition: s is the status just computed
 * (ctl_rollout_status_calc), f's status_* fields the one last written,
 * reason/last_update_ms the current Progressing condition (reason NULL:
 * none). In order: no deadline: REMOVE; the condition already says
 * NewReplicaSetAvailable and s.replicas == s.updated: KEEP; updated ==
 * replicas == available == R: COMPLETE; more updated, fewer old, more
 * ready or more available than last written: UPDATED; the condition is
 * ProgressDeadlineExceeded, or (unless absent or NewReplicaSetAvailable)
 * last_update_ms + deadline is before now_ms: TIMED_OUT; else KEEP. */
ctl_rollout_progress_action ctl_rollout_progress(const ctl_rollout_fleet *f,
                                                 const ctl_rollout_status *s, const char *reason,
                                                 int64_t last_update_ms, int64_t now_ms);

/* requeueStuckDeployment: when to look again for a timeout, in ms from
 * now_ms: -1 never (no deadline, no condition, complete, or already timed
 * out), 0 now (under a second left), else last_update_ms + deadline -
 * now_ms (Kubernetes adds a second when it enqueues). */
int64_t ctl_rollout_progress_requeue_ms(const ctl_rollout_fleet *f, const ctl_rollout_status *s,
                                        const char *reason, int64_t last_update_ms, int64_t now_ms);

/* cleanupDeployment: the old RSs (every one but new_idx) to delete under
 * revisionHistoryLimit. Of the old RSs not being deleted, the
 * (count - limit) with the lowest revision (ties, or a revision that is
 * not a number: creation order) are candidates; a candidate is deleted
 * only if spec and status replicas are 0 and observedGeneration >=
 * generation. Writes up to max indexes into del (revision order); returns
 * how many. Limit < 0: none. */
size_t ctl_rollout_history_cleanup(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n,
                                   int new_idx, size_t *del, size_t max);

/* MaxRevision: the highest revision of the RSs given (-1 = not a number:
 * skipped); 0 for none. The new RS's revision is ctl_rollout_new_revision. */
int64_t ctl_rollout_max_revision(const ctl_rollout_rs *rs, size_t n);
/* LastRevision: the second highest (rollback to revision 0 goes there). */
int64_t ctl_rollout_last_revision(const ctl_rollout_rs *rs, size_t n);

/* getNewReplicaSet's newRevision: MaxRevision of the old RSs (every index
 * but new_idx) + 1. A new RS is created with it; an existing new RS whose
 * revision is lower (or absent) takes it (SetNewReplicaSetAnnotations):
 * when it had a revision, that one moves to the revision-history
 * annotation (ctl_rollout_revision_history). */
int64_t ctl_rollout_new_revision(const ctl_rollout_rs *rs, size_t n, int new_idx);

/* rollback: the RS to roll back to for the annotation's revision `to` (0:
 * LastRevision of all RSs), the first with that revision, or -1
 * (RollbackRevisionNotFound: drop the annotation and give up). */
int ctl_rollout_rollback_target(const ctl_rollout_rs *rs, size_t n, int64_t to);

/* rollbackToTemplate + SetFromReplicaSetTemplate: the fleet template to
 * write back, a deep copy of the RS's template with the pod-template-hash
 * label removed from metadata.labels (new reference, or NULL when not an
 * object or no memory). The caller skips the write when it already
 * equals the fleet's (ctl_rollout_template_equal: "template unchanged"). */
json_t *ctl_rollout_rollback_template(const json_t *rs_template);

#define CTL_ROLLOUT_REV_HISTORY_MAX 2000 /* maxRevHistoryLengthInChars */

/* SetNewReplicaSetAnnotations' revision-history: history (the annotation,
 * NULL or "" when absent) with old_revision appended after a comma,
 * dropping the oldest entries while it would exceed
 * CTL_ROLLOUT_REV_HISTORY_MAX characters. 0 and out; 1 when nothing fits
 * (leave the annotation as it is); -1 when out is too small. */
int ctl_rollout_revision_history(const char *history, const char *old_revision, char *out,
                                 size_t len);

/* ---- templates ------------------------------------------------------------ */

/* EqualIgnoreLabels on two RayClusterTemplateSpecs ({metadata, spec} with
 * spec a RayClusterSpec): equal once the pod-template-hash and fleet-name
 * labels are removed from metadata.labels, spec.headGroupSpec.template.
 * metadata.labels and every spec.workerGroupSpecs[i].template.metadata.
 * labels, and (as Go's semantic equality does) null members and empty
 * objects/arrays are treated as absent. NULL equals only NULL. */
int ctl_rollout_template_equal(const json_t *a, const json_t *b);

/* FindNewReplicaSet: the index of the oldest RS (creation order) whose
 * template (templates[i]) equals the fleet's, or -1. */
int ctl_rollout_find_new(const json_t *fleet_template, const json_t *const *templates,
                         const ctl_rollout_rs *rs, size_t n);

#define CTL_ROLLOUT_HASH_LEN 11 /* up to 10 characters and a NUL */

/* ComputeHash: FNV-32a over the template made canonical as for
 * ctl_rollout_template_equal (the two labels removed, nulls and empties
 * dropped), serialised with JSON_COMPACT | JSON_SORT_KEYS, then, when
 * collision_count is not NULL, its value as 4 little-endian bytes and 4
 * zero bytes; the 32-bit sum's decimal digits encoded as
 * rand.SafeEncodeString does (each byte -> "bcdfghjklmnpqrstvwxz2456789"
 * [byte % 27]). 0 and out, or -1 with a message (not an object, or no
 * memory). */
int ctl_rollout_template_hash(const json_t *tmpl, const int32_t *collision_count,
                              char out[CTL_ROLLOUT_HASH_LEN], char *err, size_t errlen);

/* ---- RayClusters (the RayClusterReplicaSet controller) ------------------- */

typedef struct ctl_rollout_cluster {
    const char *name;       /* borrowed; namespace/name when namespaces differ */
    int provisioned;        /* condition RayClusterProvisioned True */
    int head_ready;         /* condition HeadPodReady True */
    int ready_workers;      /* status.readyWorkerReplicas */
    int desired_workers;    /* status.desiredWorkerReplicas */
    int deleting;           /* metadata.deletionTimestamp set */
    int replica_failure;    /* condition ReplicaFailure True (a pod create/delete failed) */
    int64_t ready_since_ms; /* the later of the two conditions' lastTransitionTime; 0 unknown */
    int64_t deletion_cost;  /* CTL_ROLLOUT_ANN_DELETION_COST (0 when absent or invalid) */
    int64_t created_ms;     /* metadata.creationTimestamp */
} ctl_rollout_cluster;

/* IsRayClusterReady: provisioned, head ready, ready_workers == desired_workers. */
int ctl_rollout_cluster_ready(const ctl_rollout_cluster *c);
/* isClusterActive: not deleting, no ReplicaFailure, and not yet provisioned
 * or ready. */
int ctl_rollout_cluster_active(const ctl_rollout_cluster *c);
/* Available: ready, and min_ready_s == 0 or ready_since_ms + min_ready_s s
 * is before now_ms (strictly, as IsPodAvailable); ready_since_ms 0 with
 * min_ready_s > 0: not available. */
int ctl_rollout_cluster_available(const ctl_rollout_cluster *c, int min_ready_s, int64_t now_ms);
/* The scale-down order, a qsort comparator over ctl_rollout_cluster: not
 * ready before ready; lower deletion cost first; older creation first;
 * then name (strcmp). The first `diff` after sorting are deleted. */
int ctl_rollout_cluster_cmp_delete(const void *a, const void *b);
/* Sorts c in that order. */
void ctl_rollout_cluster_sort_delete(ctl_rollout_cluster *c, size_t n);

/* The annotation's value (strconv.ParseInt into int32 as the pod
 * deletion-cost is): the value, or 0 when s is NULL or invalid. */
int64_t ctl_rollout_ann_deletion_cost(const char *s);

#define CTL_ROLLOUT_ALPHANUMS "bcdfghjklmnpqrstvwxz2456789"
#define CTL_ROLLOUT_SUFFIX_LEN 5

/* generateName's suffix: 5 characters drawn from CTL_ROLLOUT_ALPHANUMS with
 * the caller's bx_rand state (advanced), NUL-terminated into out. */
void ctl_rollout_name_suffix(uint64_t *rng, char out[CTL_ROLLOUT_SUFFIX_LEN + 1]);

#endif
