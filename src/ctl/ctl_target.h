/* ctl_target: a PodAutoscaler's scale target (spec.scaleTargetRef:
 * apiVersion, kind, name) and its key, the one string by which the
 * controllers (ctl_autoscale), the orchestrators (ctl_orch.h: the
 * `deployment` of a ctl_podview, on_replicas, scale) and the controller
 * name a target:
 *   - a Deployment (apiVersion apps/..., extensions/... or empty): its
 *     name, as before
 *     (local mode's only kind; pods and events keep their names);
 *   - any other kind: "<Kind>.<group>/<name>", or "<Kind>/<name>" for the
 *     core group (kubectl's kind.group/name form), e.g.
 *     "StatefulSet.apps/llama", "StormService.orchestration.aibrix.ai/s".
 * Pure; no allocation. */
#ifndef CTL_TARGET_H
#define CTL_TARGET_H

#include <stddef.h>

#include "ctl/ctl_obj.h" /* CTL_NAME_MAX */

#define CTL_TARGET_API_MAX 128
#define CTL_TARGET_KIND_MAX 64
#define CTL_TARGET_KEY_MAX (CTL_TARGET_KIND_MAX + CTL_TARGET_API_MAX + CTL_NAME_MAX + 4)

typedef struct ctl_target {
    char api_version[CTL_TARGET_API_MAX]; /* as written; "" when absent */
    char kind[CTL_TARGET_KIND_MAX];
    char name[CTL_NAME_MAX + 1];
    char key[CTL_TARGET_KEY_MAX];
} ctl_target;

/* Fills t and its key. 0, or -1 (kind or name empty or too long, apiVersion
 * too long or not "group/version" nor "version"). */
int ctl_target_set(ctl_target *t, const char *api_version, const char *kind, const char *name);
/* 1 for a built-in Deployment (the key is the name). */
int ctl_target_is_deployment(const ctl_target *t);

#endif
