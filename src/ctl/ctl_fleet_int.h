/* ctl_fleet_int: the fleet controller's private header. ctl_fleet.c has
 * the pass and the lifecycle; ctl_fleet_rs.c reads the replica sets, applies
 * the steps ctl_rollout works out (creating and resizing replica sets,
 * rollback) and writes the fleet's status. */
#ifndef CTL_FLEET_INT_H
#define CTL_FLEET_INT_H

#include <jansson.h>
#include <stdint.h>

#include "ctl/ctl_ctrl.h"
#include "ctl/ctl_fleet.h"
#include "ctl/ctl_obj.h"
#include "ctl/ctl_objstore.h"
#include "ctl/ctl_rollout.h"

#define FL_KIND "RayClusterFleet"
#define FL_RS_KIND "RayClusterReplicaSet"
#define FL_RC_KIND "RayCluster"
#define FL_API "orchestration.aibrix.ai/v1alpha1"

/* One fleet as a pass sees it. Records and the object are borrowed. */
typedef struct fl_view {
    const ctl_record *fleet;
    const ctl_obj *obj; /* the fleet parsed (typed view u.fleet) */
    int64_t now_ms;     /* Unix ms */
    int replicas;       /* wanted now (spec, or an autoscaler's) */
    int autoscaled;
    ctl_rollout_fleet f;
    /* the replica sets it owns: rs[i] read from rec[i], its template tmpl[i] */
    ctl_rollout_rs rs[CTL_FLEET_MAX_RS];
    const json_t *tmpl[CTL_FLEET_MAX_RS];
    const ctl_record *rec[CTL_FLEET_MAX_RS];
    size_t n;
} fl_view;

/* What a pass did to one fleet, for its status. */
typedef struct fl_step {
    ctl_objstore *store;
    ctl_ctrl *ctrl;
    int created;         /* a new replica set was created */
    int scaled;          /* some replica set was resized */
    int collision;       /* the new name was taken: collisionCount + 1 */
    const char *failure; /* ReplicaFailure's reason, or NULL */
    char message[256];
} fl_step;

/* Fills v->rs/tmpl/rec/n with the replica sets the fleet owns (and how many
 * RayClusters each has among rcs). */
void fl_rs_collect(fl_view *v, const ctl_record *rss, size_t nrs, const ctl_record *rcs,
                   size_t nrc);
/* The new replica set takes the newest revision (max of the old ones + 1)
 * when its own is lower, its old one going to the revision-history
 * annotation (a rollback to an old template reuses its replica set). */
void fl_rs_revision(fl_view *v, fl_step *st, int new_idx);
/* Proportional scaling (paused, or a scaling event). */
void fl_rs_scale(fl_view *v, fl_step *st, int new_idx);
/* One step of the strategy, then history cleanup once complete. */
void fl_rs_rollout(fl_view *v, fl_step *st, int new_idx);
/* Copies the template of revision `to` ("0": the previous) into the fleet
 * and drops the annotation. */
void fl_rollback(fl_view *v, fl_step *st, const char *to);
/* Writes the fleet's status. */
void fl_status(fl_view *v, fl_step *st, int new_idx);

#endif
