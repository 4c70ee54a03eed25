/* ctl_rollout: the rollout arithmetic (see ctl_rollout.h for the contract
 * and which Kubernetes/AIBrix function each one reproduces).
 *
 * Where Kubernetes sorts a slice of ReplicaSets, these functions sort an
 * array of indexes into the caller's (borrowed, const) views with an
 * insertion sort: the sets are small (a fleet keeps revisionHistoryLimit + a
 * few RSs), the sort is stable, and it terminates even for the revision
 * order, which is not transitive when a revision is not a number (Go's
 * ReplicaSetsByRevision has the same property).
 *
 * Integer percentages are computed exactly in 64-bit integers:
 * ceil(v * total / 100) and floor(...) equal Go's float64 math.Ceil/Floor
 * here because an integer quotient by 100 is either exact or at least 0.01
 * away from an integer. */
#include "ctl/ctl_rollout.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_rand.h"

#define ROLLOUT_DEFAULT_IOS "25%"

static void set_err(char *err, size_t errlen, const char *msg, const char *arg)
{
    if (err && errlen) snprintf(err, errlen, msg, arg ? arg : "");
}

/* ---- int-or-percent ------------------------------------------------------ */

/* Up to 9 decimal digits, nothing else, into *v. 0 or -1. */
static int parse_digits(const char *s, size_t len, int *v)
{
    if (len == 0 || len > 9) return -1;
    int x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int ctl_rollout_ios_parse(const char *s, ctl_rollout_ios *out, char *err, size_t errlen)
{
    if (!s) {
        set_err(err, errlen, "int-or-percent: missing value%s", NULL);
        return -1;
    }
    size_t len = strlen(s);
    int percent = len > 0 && s[len - 1] == '%';
    int v;
    if (parse_digits(s, percent ? len - 1 : len, &v) != 0) {
        set_err(err, errlen,
                "int-or-percent %s: want a non-negative integer or a percentage such as 25%%", s);
        return -1;
    }
    out->value = v;
    out->percent = percent;
    return 0;
}

int ctl_rollout_ios_from_json(const json_t *v, ctl_rollout_ios *out, char *err, size_t errlen)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > 999999999) {
            set_err(err, errlen, "int-or-percent: must be a non-negative integer%s", NULL);
            return -1;
        }
        out->value = (int)x;
        out->percent = 0;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        if (len == 0 || s[len - 1] != '%') {
            set_err(err, errlen,
                    "int-or-percent \"%s\": a valid percent string must be a numeric string "
                    "followed by an ending '%%'",
                    s);
            return -1;
        }
        return ctl_rollout_ios_parse(s, out, err, errlen);
    }
    set_err(err, errlen, "int-or-percent: want an integer or a string such as \"25%%\"%s", NULL);
    return -1;
}

int ctl_rollout_ios_format(const ctl_rollout_ios *v, char *buf, size_t len)
{
    int w = snprintf(buf, len, "%d%s", v->value, v->percent ? "%" : "");
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

int ctl_rollout_ios_scaled(const ctl_rollout_ios *v, int total, int round_up)
{
    if (!v->percent) return v->value;
    int64_t x = (int64_t)v->value * total;
    int64_t q = x / 100, r = x % 100;
    if (r != 0 && round_up && x > 0) q++;
    if (r != 0 && !round_up && x < 0) q--;
    return (int)q;
}

/* ---- strategy ------------------------------------------------------------ */

int ctl_rollout_strategy_parse(int recreate, const char *max_surge, const char *max_unavailable,
                               ctl_rollout_strategy *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->recreate = recreate ? 1 : 0;
    if (!max_surge || !*max_surge) max_surge = ROLLOUT_DEFAULT_IOS;
    if (!max_unavailable || !*max_unavailable) max_unavailable = ROLLOUT_DEFAULT_IOS;
    char sub[160];
    if (ctl_rollout_ios_parse(max_surge, &out->max_surge, sub, sizeof(sub)) != 0) {
        set_err(err, errlen, "spec.strategy.rollingUpdate.maxSurge: %s", sub);
        return -1;
    }
    if (ctl_rollout_ios_parse(max_unavailable, &out->max_unavailable, sub, sizeof(sub)) != 0) {
        set_err(err, errlen, "spec.strategy.rollingUpdate.maxUnavailable: %s", sub);
        return -1;
    }
    if (out->recreate) return 0;
    if (out->max_unavailable.percent && out->max_unavailable.value > 100) {
        set_err(err, errlen,
                "spec.strategy.rollingUpdate.maxUnavailable: %s: must not be greater than 100%%",
                max_unavailable);
        return -1;
    }
    if (out->max_unavailable.value == 0 && out->max_surge.value == 0) {
        set_err(err, errlen,
                "spec.strategy.rollingUpdate.maxUnavailable: may not be 0 when maxSurge is 0%s",
                NULL);
        return -1;
    }
    return 0;
}

void ctl_rollout_fenceposts(const ctl_rollout_strategy *st, int replicas, int *surge,
                            int *unavailable)
{
    int s = ctl_rollout_ios_scaled(&st->max_surge, replicas, 1);
    int u = ctl_rollout_ios_scaled(&st->max_unavailable, replicas, 0);
    if (s == 0 && u == 0) u = 1;
    if (surge) *surge = s;
    if (unavailable) *unavailable = u;
}

int ctl_rollout_max_surge(const ctl_rollout_strategy *st, int replicas)
{
    if (st->recreate) return 0;
    int s;
    ctl_rollout_fenceposts(st, replicas, &s, NULL);
    return s;
}

int ctl_rollout_max_unavailable(const ctl_rollout_strategy *st, int replicas)
{
    if (st->recreate || replicas == 0) return 0;
    int u;
    ctl_rollout_fenceposts(st, replicas, NULL, &u);
    return u > replicas ? replicas : u;
}

/* ---- annotations --------------------------------------------------------- */

/* A decimal integer with an optional sign, nothing else, into *v. 0 or -1. */
static int parse_int64(const char *s, int allow_plus, int64_t *v)
{
    if (!s || !*s) return -1;
    if (!allow_plus && *s == '+') return -1;
    if (*s != '+' && *s != '-' && (*s < '0' || *s > '9')) return -1;
    if ((*s == '+' || *s == '-') && (s[1] < '0' || s[1] > '9')) return -1;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

int ctl_rollout_ann_int(const char *s)
{
    int64_t v;
    if (parse_int64(s, 1, &v) != 0 || v < 0 || v > INT32_MAX) return -1;
    return (int)v;
}

int64_t ctl_rollout_ann_revision(const char *s)
{
    if (!s) return 0;
    int64_t v;
    if (parse_int64(s, 1, &v) != 0 || v < 0) return -1;
    return v;
}

int64_t ctl_rollout_ann_deletion_cost(const char *s)
{
    int64_t v;
    /* validFirstDigit: '-' or a digit, so no '+' */
    if (parse_int64(s, 0, &v) != 0 || v < INT32_MIN || v > INT32_MAX) return 0;
    return v;
}

/* ---- orders ------------------------------------------------------------------ */

typedef int (*idx_less)(const ctl_rollout_rs *rs, size_t a, size_t b);

/* Stable insertion sort of idx[0..k) by less. */
static void sort_idx(const ctl_rollout_rs *rs, size_t *idx, size_t k, idx_less less)
{
    for (size_t i = 1; i < k; i++) {
        size_t x = idx[i], j = i;
        while (j > 0 && less(rs, x, idx[j - 1])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

static int name_cmp(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* ReplicaSetsByCreationTimestamp: older first, then name. */
static int less_created(const ctl_rollout_rs *rs, size_t a, size_t b)
{
    if (rs[a].created_ms != rs[b].created_ms) return rs[a].created_ms < rs[b].created_ms;
    return name_cmp(rs[a].name, rs[b].name) < 0;
}

/* ReplicaSetsBySizeOlder: larger first; same size: older first. */
static int less_size_older(const ctl_rollout_rs *rs, size_t a, size_t b)
{
    if (rs[a].spec_replicas != rs[b].spec_replicas)
        return rs[a].spec_replicas > rs[b].spec_replicas;
    return less_created(rs, a, b);
}

/* ReplicaSetsBySizeNewer: larger first; same size: newer first. */
static int less_size_newer(const ctl_rollout_rs *rs, size_t a, size_t b)
{
    if (rs[a].spec_replicas != rs[b].spec_replicas)
        return rs[a].spec_replicas > rs[b].spec_replicas;
    return less_created(rs, b, a);
}

/* ReplicaSetsByRevision: lower revision first; equal or not a number:
 * creation order. */
static int less_revision(const ctl_rollout_rs *rs, size_t a, size_t b)
{
    if (rs[a].revision < 0 || rs[b].revision < 0 || rs[a].revision == rs[b].revision)
        return less_created(rs, a, b);
    return rs[a].revision < rs[b].revision;
}

/* The old RSs (every index but new_idx), optionally only active ones
 * (spec > 0), into idx; returns how many. */
static size_t old_idx(const ctl_rollout_rs *rs, size_t n, int new_idx, int active, size_t *idx)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == new_idx) continue;
        if (active && rs[i].spec_replicas <= 0) continue;
        idx[k++] = i;
    }
    return k;
}

/* ---- the rolling update -------------------------------------------------------- */

int ctl_rollout_new_rs_new_replicas(const ctl_rollout_fleet *f, int total, int new_spec)
{
    int r = f->replicas;
    if (f->strategy.recreate) return r;
    int surge = ctl_rollout_ios_scaled(&f->strategy.max_surge, r, 1);
    int max_total = r + surge;
    if (total >= max_total) return new_spec;
    int up = max_total - total;
    if (r - new_spec < up) up = r - new_spec;
    return new_spec + up;
}

static void init_targets(const ctl_rollout_rs *rs, size_t n, int *target)
{
    for (size_t i = 0; i < n; i++)
        target[i] = rs[i].spec_replicas;
}

static int sum_spec(const ctl_rollout_rs *rs, size_t n)
{
    int t = 0;
    for (size_t i = 0; i < n; i++)
        t += rs[i].spec_replicas;
    return t;
}

void ctl_rollout_rolling(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n,
                         int new_idx, int *target, ctl_rollout_step *out)
{
    memset(out, 0, sizeof(*out));
    init_targets(rs, n, target);
    int r = f->replicas;
    int total = sum_spec(rs, n);
    int new_spec, new_avail;

    if (new_idx < 0) {
        /* getNewReplicaSet(createIfNotExisted): created with
         * NewRSNewReplicas counted from 0; reconcileNewReplicaSet then finds
         * nothing more to do in this pass (total reached R + surge, or the
         * new RS is at R). */
        new_spec = ctl_rollout_new_rs_new_replicas(f, total, 0);
        new_avail = 0;
        total += new_spec;
        out->create_new = 1;
    } else {
        new_spec = rs[new_idx].spec_replicas;
        new_avail = rs[new_idx].available;
        if (new_spec != r) {
            int t = new_spec > r ? r : ctl_rollout_new_rs_new_replicas(f, total, new_spec);
            if (t != new_spec) {
                target[new_idx] = t;
                out->new_replicas = t;
                out->scaled_new = 1;
                return;
            }
        }
    }
    out->new_replicas = new_spec;

    /* reconcileOldReplicaSets over the active old RSs */
    size_t *idx = n ? malloc(n * sizeof(*idx)) : NULL;
    if (n && !idx) { /* no memory: old RSs untouched this pass */
        out->invalid = 1;
        return;
    }
    size_t k = n ? old_idx(rs, n, new_idx, 1, idx) : 0;
    if (k == 0) goto done; /* oldPodsCount == 0 */
    int max_unav = ctl_rollout_max_unavailable(&f->strategy, r);
    int min_avail = r - max_unav;
    int max_scaled_down = total - min_avail - (new_spec - new_avail);
    if (max_scaled_down <= 0) goto done;

    /* cleanupUnhealthyReplicas: oldest first */
    sort_idx(rs, idx, k, less_created);
    int cleaned = 0;
    for (size_t j = 0; j < k; j++) {
        size_t i = idx[j];
        if (cleaned >= max_scaled_down) break;
        int spec = target[i];
        if (spec == 0 || spec == rs[i].available) continue;
        int d = spec - rs[i].available;
        if (max_scaled_down - cleaned < d) d = max_scaled_down - cleaned;
        if (d < 0) { /* would scale up: Kubernetes fails the pass here */
            out->cleaned_up = cleaned;
            out->invalid = 1;
            goto done;
        }
        target[i] = spec - d;
        cleaned += d;
    }
    out->cleaned_up = cleaned;

    /* scaleDownOldReplicaSetsForRollingUpdate: the sum of available over the active
     * old RSs (as listed before the cleanup) and the new one */
    int avail = new_avail;
    for (size_t j = 0; j < k; j++)
        avail += rs[idx[j]].available;
    if (avail <= min_avail) goto done;
    int want = avail - min_avail, scaled = 0;
    for (size_t j = 0; j < k; j++) {
        size_t i = idx[j];
        if (scaled >= want) break;
        if (target[i] == 0) continue;
        int d = target[i] < want - scaled ? target[i] : want - scaled;
        target[i] -= d;
        scaled += d;
    }
    out->scaled_down = scaled;
done:
    free(idx);
}

/* ---- Recreate ------------------------------------------------------------------- */

ctl_rollout_recreate_action ctl_rollout_recreate(const ctl_rollout_fleet *f,
                                                 const ctl_rollout_rs *rs, size_t n, int new_idx,
                                                 int *target, ctl_rollout_step *out)
{
    memset(out, 0, sizeof(*out));
    init_targets(rs, n, target);
    int r = f->replicas;
    out->new_replicas = new_idx >= 0 ? rs[new_idx].spec_replicas : 0;

    /* scaleDownOldReplicaSetsForRecreate */
    int down = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == new_idx || rs[i].spec_replicas == 0) continue;
        down += rs[i].spec_replicas;
        target[i] = 0;
    }
    if (down) {
        out->scaled_down = down;
        return CTL_RECREATE_SCALE_DOWN_OLD;
    }
    /* oldPodsRunning */
    for (size_t i = 0; i < n; i++) {
        if ((int)i == new_idx) continue;
        if (rs[i].status_replicas > 0 || rs[i].clusters > 0) return CTL_RECREATE_WAIT_OLD;
    }
    /* create the new RS (with NewRSNewReplicas = R) or scale it to R */
    if (new_idx < 0) {
        out->create_new = 1;
        out->new_replicas = r;
        return CTL_RECREATE_SCALE_UP_NEW;
    }
    if (rs[new_idx].spec_replicas != r) {
        target[new_idx] = r;
        out->new_replicas = r;
        out->scaled_new = 1;
        return CTL_RECREATE_SCALE_UP_NEW;
    }
    return CTL_RECREATE_DONE;
}

/* ---- proportional scaling --------------------------------------------------------- */

int ctl_rollout_is_scaling_event(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rs[i].spec_replicas <= 0 || rs[i].desired_ann < 0) continue;
        if (rs[i].desired_ann != f->replicas) return 1;
    }
    return 0;
}

/* getReplicaSetFraction */
static int rs_fraction(const ctl_rollout_fleet *f, const ctl_rollout_rs *x)
{
    int r = f->replicas;
    if (r == 0) return -x->spec_replicas;
    int64_t max_now = (int64_t)r + ctl_rollout_max_surge(&f->strategy, r);
    int64_t before = x->max_ann;
    if (before <= 0) {
        /* annotation missing (or 0): the fleet's status.replicas; both 0:
         * nothing (Kubernetes' guard against dividing by zero; AIBrix's port
         * predates it and divides) */
        before = f->status_replicas;
        if (before <= 0) return 0;
    }
    double size = (double)((int64_t)x->spec_replicas * max_now) / (double)before;
    return (int)llround(size) - x->spec_replicas;
}

/* GetProportion */
static int rs_proportion(const ctl_rollout_fleet *f, const ctl_rollout_rs *x, int to_add, int added)
{
    if (x->spec_replicas == 0 || to_add == 0 || to_add == added) return 0;
    int frac = rs_fraction(f, x);
    int allowed = to_add - added;
    if (to_add > 0) return frac < allowed ? frac : allowed;
    return frac > allowed ? frac : allowed;
}

int ctl_rollout_scale(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n, int new_idx,
                      int *target, unsigned char *touch)
{
    init_targets(rs, n, target);
    if (touch) memset(touch, 0, n);
    if (n == 0) return 0;
    int r = f->replicas;

    /* FindActiveOrLatest */
    size_t active = 0, only = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].spec_replicas > 0) {
            active++;
            only = i;
        }
    }
    if (active <= 1) {
        if (active == 0) {
            if (new_idx >= 0) {
                only = (size_t)new_idx;
            } else { /* the newest old RS */
                only = 0;
                for (size_t i = 1; i < n; i++)
                    if (less_created(rs, only, i)) only = i;
            }
        }
        if (rs[only].spec_replicas == r) return 0;
        target[only] = r;
        if (touch) touch[only] = 1;
        return 1;
    }

    /* IsSaturated: the old RSs go to 0 */
    if (new_idx >= 0 && rs[new_idx].spec_replicas == r && rs[new_idx].desired_ann == r &&
        rs[new_idx].available == r) {
        for (size_t i = 0; i < n; i++) {
            if ((int)i == new_idx || rs[i].spec_replicas == 0) continue;
            target[i] = 0;
            if (touch) touch[i] = 1;
        }
        return 1;
    }
    if (f->strategy.recreate) return 0;

    size_t *idx = malloc(n * sizeof(*idx));
    if (!idx) return 0; /* nothing decided: the caller retries */
    size_t k = 0;
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].spec_replicas > 0) {
            idx[k++] = i;
            sum += rs[i].spec_replicas;
        }
    }
    int allowed = r > 0 ? r + ctl_rollout_max_surge(&f->strategy, r) : 0;
    int to_add = allowed - sum;
    if (to_add > 0) sort_idx(rs, idx, k, less_size_newer);
    if (to_add < 0) sort_idx(rs, idx, k, less_size_older);
    int added = 0;
    for (size_t j = 0; j < k && to_add != 0; j++) {
        size_t i = idx[j];
        int p = rs_proportion(f, &rs[i], to_add, added);
        target[i] = rs[i].spec_replicas + p;
        added += p;
    }
    if (k > 0 && to_add != 0) {
        size_t i = idx[0]; /* the largest absorbs the leftover */
        target[i] += to_add - added;
        if (target[i] < 0) target[i] = 0;
    }
    int changed = 0;
    for (size_t j = 0; j < k; j++) {
        if (touch) touch[idx[j]] = 1;
        if (target[idx[j]] != rs[idx[j]].spec_replicas) changed = 1;
    }
    free(idx);
    return changed;
}

/* ---- status and history ---------------------------------------------------------- */

void ctl_rollout_status_calc(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n,
                             int new_idx, ctl_rollout_status *out)
{
    memset(out, 0, sizeof(*out));
    int spec = 0;
    for (size_t i = 0; i < n; i++) {
        out->replicas += rs[i].status_replicas;
        out->ready += rs[i].ready;
        out->available += rs[i].available;
        spec += rs[i].spec_replicas;
    }
    if (new_idx >= 0) out->updated = rs[new_idx].status_replicas;
    out->unavailable = spec - out->available > 0 ? spec - out->available : 0;
    out->available_cond =
        out->available >= f->replicas - ctl_rollout_max_unavailable(&f->strategy, f->replicas);
}

int ctl_rollout_complete(const ctl_rollout_fleet *f)
{
    int r = f->replicas;
    return f->status_updated == r && f->status_replicas == r && f->status_available == r &&
           f->observed_generation >= f->generation;
}

static int has_deadline(const ctl_rollout_fleet *f)
{
    return f->progress_deadline_s > 0 && f->progress_deadline_s != INT32_MAX;
}

/* DeploymentComplete on the status just computed (its observedGeneration is
 * the current generation). */
static int status_complete(const ctl_rollout_fleet *f, const ctl_rollout_status *s)
{
    int r = f->replicas;
    return s->updated == r && s->replicas == r && s->available == r;
}

static int reason_is(const char *reason, const char *want)
{
    return reason && strcmp(reason, want) == 0;
}

ctl_rollout_progress_action ctl_rollout_progress(const ctl_rollout_fleet *f,
                                                 const ctl_rollout_status *s, const char *reason,
                                                 int64_t last_update_ms, int64_t now_ms)
{
    if (!has_deadline(f)) return CTL_PROGRESS_REMOVE;
    if (s->replicas == s->updated && reason_is(reason, CTL_ROLLOUT_REASON_NEW_RS_AVAILABLE))
        return CTL_PROGRESS_KEEP;
    if (status_complete(f, s)) return CTL_PROGRESS_COMPLETE;
    /* DeploymentProgressing */
    int old_old = f->status_replicas - f->status_updated;
    int new_old = s->replicas - s->updated;
    if (s->updated > f->status_updated || new_old < old_old || s->ready > f->status_ready ||
        s->available > f->status_available)
        return CTL_PROGRESS_UPDATED;
    /* DeploymentTimedOut */
    if (!reason || reason_is(reason, CTL_ROLLOUT_REASON_NEW_RS_AVAILABLE)) return CTL_PROGRESS_KEEP;
    if (reason_is(reason, CTL_ROLLOUT_REASON_TIMED_OUT)) return CTL_PROGRESS_TIMED_OUT;
    if (last_update_ms + (int64_t)f->progress_deadline_s * 1000 < now_ms)
        return CTL_PROGRESS_TIMED_OUT;
    return CTL_PROGRESS_KEEP;
}

int64_t ctl_rollout_progress_requeue_ms(const ctl_rollout_fleet *f, const ctl_rollout_status *s,
                                        const char *reason, int64_t last_update_ms, int64_t now_ms)
{
    if (!has_deadline(f) || !reason) return -1;
    if (status_complete(f, s) || reason_is(reason, CTL_ROLLOUT_REASON_TIMED_OUT)) return -1;
    int64_t after = last_update_ms + (int64_t)f->progress_deadline_s * 1000 - now_ms;
    return after < 1000 ? 0 : after;
}

size_t ctl_rollout_history_cleanup(const ctl_rollout_fleet *f, const ctl_rollout_rs *rs, size_t n,
                                   int new_idx, size_t *del, size_t max)
{
    if (f->revision_history_limit < 0 || n == 0) return 0;
    size_t *idx = malloc(n * sizeof(*idx));
    if (!idx) return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)i != new_idx && !rs[i].deleting) idx[k++] = i;
    size_t got = 0;
    if (k > (size_t)f->revision_history_limit) {
        size_t diff = k - (size_t)f->revision_history_limit;
        sort_idx(rs, idx, k, less_revision);
        for (size_t j = 0; j < diff && got < max; j++) {
            const ctl_rollout_rs *x = &rs[idx[j]];
            if (x->status_replicas != 0 || x->spec_replicas != 0 ||
                x->generation > x->observed_generation)
                continue;
            del[got++] = idx[j];
        }
    }
    free(idx);
    return got;
}

int64_t ctl_rollout_max_revision(const ctl_rollout_rs *rs, size_t n)
{
    int64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if (rs[i].revision > max) max = rs[i].revision;
    return max;
}

int64_t ctl_rollout_last_revision(const ctl_rollout_rs *rs, size_t n)
{
    int64_t max = 0, sec = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t v = rs[i].revision;
        if (v < 0) continue;
        if (v >= max) {
            sec = max;
            max = v;
        } else if (v > sec) {
            sec = v;
        }
    }
    return sec;
}

int64_t ctl_rollout_new_revision(const ctl_rollout_rs *rs, size_t n, int new_idx)
{
    int64_t max = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)i != new_idx && rs[i].revision > max) max = rs[i].revision;
    return max + 1;
}

int ctl_rollout_revision_history(const char *history, const char *old_revision, char *out,
                                 size_t len)
{
    if (!history) history = "";
    size_t hl = strlen(history), ol = strlen(old_revision);
    const char *keep = history;
    if (hl == 0 || history[0] == ',') {
        /* strings.Split's first element empty: the history is just old_revision */
        keep = "";
        hl = 0;
    } else {
        size_t total = hl + ol + 1;
        while (total > CTL_ROLLOUT_REV_HISTORY_MAX && keep) {
            const char *comma = strchr(keep, ',');
            size_t first = comma ? (size_t)(comma - keep) : strlen(keep);
            total -= first + 1;
            keep = comma ? comma + 1 : NULL;
        }
        if (total > CTL_ROLLOUT_REV_HISTORY_MAX) return 1;
        hl = keep ? strlen(keep) : 0;
        if (!keep) keep = "";
    }
    int w = hl ? snprintf(out, len, "%s,%s", keep, old_revision)
               : snprintf(out, len, "%s", old_revision);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

int ctl_rollout_rollback_target(const ctl_rollout_rs *rs, size_t n, int64_t to)
{
    if (to == 0) to = ctl_rollout_last_revision(rs, n);
    if (to <= 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (rs[i].revision == to) return (int)i;
    return -1;
}

json_t *ctl_rollout_rollback_template(const json_t *rs_template)
{
    if (!json_is_object(rs_template)) return NULL;
    json_t *t = json_deep_copy(rs_template);
    if (!t) return NULL;
    json_t *labels = json_object_get(json_object_get(t, "metadata"), "labels");
    if (json_is_object(labels)) json_object_del(labels, CTL_ROLLOUT_LABEL_HASH);
    return t;
}

/* ---- templates ----------------------------------------------------------------- */

static void drop_labels(json_t *meta_holder)
{
    json_t *labels = json_object_get(json_object_get(meta_holder, "metadata"), "labels");
    if (!json_is_object(labels)) return;
    json_object_del(labels, CTL_ROLLOUT_LABEL_HASH);
    json_object_del(labels, CTL_ROLLOUT_LABEL_FLEET);
}

/* Null members and members that are (or become) empty objects or arrays are
 * removed from objects; array elements are kept (their position counts). */
static void prune(json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) prune(e);
        return;
    }
    if (!json_is_object(v)) return;
    const char *key;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(v, tmp, key, e)
    {
        prune(e);
        if (json_is_null(e) || (json_is_object(e) && json_object_size(e) == 0) ||
            (json_is_array(e) && json_array_size(e) == 0))
            json_object_del(v, key);
    }
}

/* A canonical deep copy of a RayClusterTemplateSpec (NULL: no memory or not
 * an object). */
static json_t *canonical(const json_t *t)
{
    if (!json_is_object(t)) return NULL;
    json_t *c = json_deep_copy(t);
    if (!c) return NULL;
    drop_labels(c);
    json_t *spec = json_object_get(c, "spec");
    drop_labels(json_object_get(json_object_get(spec, "headGroupSpec"), "template"));
    json_t *workers = json_object_get(spec, "workerGroupSpecs");
    size_t i;
    json_t *w;
    if (json_is_array(workers))
        json_array_foreach(workers, i, w) drop_labels(json_object_get(w, "template"));
    prune(c);
    return c;
}

int ctl_rollout_template_equal(const json_t *a, const json_t *b)
{
    if (!a || !b) return a == b;
    if (!json_is_object(a) || !json_is_object(b)) return json_equal(a, b);
    json_t *ca = canonical(a), *cb = canonical(b);
    int eq = ca && cb && json_equal(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return eq;
}

int ctl_rollout_find_new(const json_t *fleet_template, const json_t *const *templates,
                         const ctl_rollout_rs *rs, size_t n)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!ctl_rollout_template_equal(templates[i], fleet_template)) continue;
        if (best < 0 || less_created(rs, i, (size_t)best)) best = (int)i;
    }
    return best;
}

static uint32_t fnv32a(uint32_t h, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

int ctl_rollout_template_hash(const json_t *tmpl, const int32_t *collision_count,
                              char out[CTL_ROLLOUT_HASH_LEN], char *err, size_t errlen)
{
    if (!json_is_object(tmpl)) {
        set_err(err, errlen, "template hash: the template is not an object%s", NULL);
        return -1;
    }
    json_t *c = canonical(tmpl);
    char *s = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(c);
    if (!s) {
        set_err(err, errlen, "template hash: out of memory%s", NULL);
        return -1;
    }
    uint32_t h = fnv32a(2166136261u, (const unsigned char *)s, strlen(s));
    free(s);
    if (collision_count) {
        uint32_t cc = (uint32_t)*collision_count;
        unsigned char b[8] = {(unsigned char)cc,
                              (unsigned char)(cc >> 8),
                              (unsigned char)(cc >> 16),
                              (unsigned char)(cc >> 24),
                              0,
                              0,
                              0,
                              0};
        h = fnv32a(h, b, sizeof(b));
    }
    char dec[CTL_ROLLOUT_HASH_LEN];
    snprintf(dec, sizeof(dec), "%u", (unsigned)h);
    static const char alnum[] = CTL_ROLLOUT_ALPHANUMS;
    size_t i;
    for (i = 0; dec[i]; i++)
        out[i] = alnum[(unsigned char)dec[i] % (sizeof(alnum) - 1)];
    out[i] = 0;
    return 0;
}

/* ---- RayClusters ------------------------------------------------------------------ */

int ctl_rollout_cluster_ready(const ctl_rollout_cluster *c)
{
    return c->provisioned && c->head_ready && c->ready_workers == c->desired_workers;
}

int ctl_rollout_cluster_active(const ctl_rollout_cluster *c)
{
    if (c->deleting || c->replica_failure) return 0;
    return !c->provisioned || ctl_rollout_cluster_ready(c);
}

int ctl_rollout_cluster_available(const ctl_rollout_cluster *c, int min_ready_s, int64_t now_ms)
{
    if (!ctl_rollout_cluster_ready(c)) return 0;
    if (min_ready_s <= 0) return 1;
    return c->ready_since_ms != 0 && c->ready_since_ms + (int64_t)min_ready_s * 1000 < now_ms;
}

int ctl_rollout_cluster_cmp_delete(const void *pa, const void *pb)
{
    const ctl_rollout_cluster *a = pa, *b = pb;
    int ra = ctl_rollout_cluster_ready(a), rb = ctl_rollout_cluster_ready(b);
    if (ra != rb) return ra - rb; /* not ready first */
    if (a->deletion_cost != b->deletion_cost) return a->deletion_cost < b->deletion_cost ? -1 : 1;
    if (a->created_ms != b->created_ms) return a->created_ms < b->created_ms ? -1 : 1;
    return name_cmp(a->name, b->name);
}

void ctl_rollout_cluster_sort_delete(ctl_rollout_cluster *c, size_t n)
{
    if (n > 1) qsort(c, n, sizeof(*c), ctl_rollout_cluster_cmp_delete);
}

void ctl_rollout_name_suffix(uint64_t *rng, char out[CTL_ROLLOUT_SUFFIX_LEN + 1])
{
    static const char alnum[] = CTL_ROLLOUT_ALPHANUMS;
    for (int i = 0; i < CTL_ROLLOUT_SUFFIX_LEN; i++)
        out[i] = alnum[bx_splitmix64(rng) % (sizeof(alnum) - 1)];
    out[CTL_ROLLOUT_SUFFIX_LEN] = 0;
}
