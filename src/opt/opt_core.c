/* opt_core: see opt_core.h. One run is four steps, each a function here:
 *   core_load     the windows in [now - window_s, now) -> rps per profile cell
 *   core_solve    Melange's ILP (opt_ilp.h) over the cells with load
 *   core_hyst     per Deployment: up at once, down only after a streak of
 *                 runs that asked for less lasted scale_down_delay_s
 *   core_assign   every grid cell -> shares per Deployment, as JSON
 *
 * Why not AIBrix's clustering: AIBrix clusters the request points (DBSCAN in
 * log2 space) and snaps each centroid to the grid, dropping the noise; brix
 * snaps every request to the grid at once, which is bounded (one pass over
 * at most OPT_CORE_MAX_WINDOWS x OPT_TRACE_MAX_CELLS cells) and loses no
 * request (bench/micro/opt_cluster_compare.c compares the two; docs/hetero.md
 * "Optimizer core").
 *
 * The span of the windows is from the oldest one's start to the newest one's
 * end (AIBrix takes newest start - oldest start, at least 1 s, which makes
 * a single window's rate ten times too high).
 *
 * Memory: the model is one allocation plus one array of cells per window
 * kept (at most OPT_CORE_MAX_WINDOWS), and the last assignment's JSON. */
#include "opt/opt_core.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt/opt_bucket.h"

#define CORE_HIST_MAX 64 /* runs remembered in a scale-down streak */
#define CORE_CELLS (OPT_PROFILE_GRID_MAX * OPT_PROFILE_GRID_MAX)

typedef struct core_win {
    int64_t ts;
    int32_t interval_s;
    int64_t total_reqs; /* -1: absent */
    int64_t dropped;
    int32_t ncells;
    opt_trace_cell *cells; /* owned */
} core_win;

typedef struct core_hist {
    int64_t ts, units;
} core_hist;

/* Per Deployment, kept across opt_model_set_deployments by namespace/name. */
typedef struct core_state {
    int applied;       /* units below hold a value */
    int64_t units;     /* after floor and hysteresis, before the override */
    int64_t ilp_units; /* the last optimal solve's */
    int nhist;         /* runs of the current scale-down streak, oldest first */
    core_hist hist[CORE_HIST_MAX];
} core_state;

struct opt_model {
    char *model;
    opt_core_opts o; /* defaults resolved */
    int nd;
    opt_deploy d[OPT_CORE_MAX_DEPLOYS];
    core_state st[OPT_CORE_MAX_DEPLOYS];
    int nwin;
    core_win win[OPT_CORE_MAX_WINDOWS]; /* by ts, oldest first */
    /* The last ILP shares of each cell that had load: [cell][deployment] */
    unsigned char prev_loaded[CORE_CELLS];
    double prev_share[CORE_CELLS][OPT_CORE_MAX_DEPLOYS];
    opt_result res;
    char *body;   /* "deployments" and "cells" of the last result, to see changes */
    char *assign; /* the last assignment JSON */
};

/* What a run computes before it is kept. */
typedef struct core_run {
    const opt_profile *grid; /* the first profiled Deployment's */
    int nt;                  /* profiled Deployments */
    int tix[OPT_CORE_MAX_DEPLOYS];
    double rps;                  /* observed */
    double cell_rps[CORE_CELLS]; /* with headroom */
    int nloaded;
    int64_t placed, clamped;
    int solved; /* 1: the ILP was optimal this run */
    int keep;   /* 1: keep the previous units (not optimal, or no shapes) */
    double share[CORE_CELLS][OPT_CORE_MAX_DEPLOYS];
    int64_t target[OPT_CORE_MAX_DEPLOYS];
    opt_ilp_out ilp;
    char why[200]; /* the load part of the reason */
} core_run;

static int64_t core_reps(int64_t units, int upg)
{
    return units <= 0 ? 0 : (units + upg - 1) / upg;
}

opt_model *opt_model_new(const char *model, const opt_core_opts *opts)
{
    opt_model *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->model = strdup(model ? model : "");
    if (!m->model) {
        free(m);
        return NULL;
    }
    if (opts) m->o = *opts;
    if (m->o.window_s <= 0) m->o.window_s = 240;
    if (m->o.slices < 0) m->o.slices = 0;
    if (m->o.units_per_gpu <= 0) m->o.units_per_gpu = 100;
    if (m->o.time_limit_ms <= 0) m->o.time_limit_ms = 1000;
    if (m->o.scale_down_delay_s == 0) m->o.scale_down_delay_s = 60;
    if (!(m->o.headroom > 0)) m->o.headroom = 0;
    return m;
}

void opt_model_free(opt_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nwin; i++)
        free(m->win[i].cells);
    free(m->body);
    free(m->assign);
    free(m->model);
    free(m);
}

static int core_same(const opt_deploy *a, const opt_deploy *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->ns, b->ns);
}

int opt_model_set_deployments(opt_model *m, const opt_deploy *d, int n, char *err, size_t errlen)
{
    if (n < 0 || n > OPT_CORE_MAX_DEPLOYS || (n > 0 && !d)) {
        snprintf(err, errlen, "%d deployments: at most %d", n, OPT_CORE_MAX_DEPLOYS);
        return -1;
    }
    const opt_profile *grid = NULL;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++)
            if (core_same(&d[i], &d[j])) {
                snprintf(err, errlen, "deployment %s/%s given twice", d[i].ns, d[i].name);
                return -1;
            }
        if (!d[i].has_profile) continue;
        const opt_profile *p = &d[i].profile;
        if (p->nin < 1 || p->nin > OPT_PROFILE_GRID_MAX || p->nout < 1 ||
            p->nout > OPT_PROFILE_GRID_MAX) {
            snprintf(err, errlen, "deployment %s: profile grid %dx%d out of range", d[i].name,
                     p->nout, p->nin);
            return -1;
        }
        if (!grid) {
            grid = p;
        } else if (!opt_profile_same_grid(grid, p)) {
            snprintf(err, errlen, "deployment %s: its profile's indexes differ from %s's",
                     d[i].name, grid->gpu);
            return -1;
        }
    }
    /* the grid changed: the kept shares mean nothing any more */
    const opt_profile *old = NULL;
    for (int i = 0; i < m->nd && !old; i++)
        if (m->d[i].has_profile) old = &m->d[i].profile;
    int regrid = !grid || !old || !opt_profile_same_grid(grid, old);

    static const core_state fresh;
    core_state st[OPT_CORE_MAX_DEPLOYS];
    int from[OPT_CORE_MAX_DEPLOYS];
    for (int i = 0; i < n; i++) {
        from[i] = -1;
        for (int j = 0; j < m->nd; j++)
            if (core_same(&d[i], &m->d[j])) from[i] = j;
        st[i] = from[i] >= 0 ? m->st[from[i]] : fresh;
    }
    for (int c = 0; c < CORE_CELLS; c++) {
        double s[OPT_CORE_MAX_DEPLOYS];
        for (int i = 0; i < n; i++)
            s[i] = from[i] >= 0 ? m->prev_share[c][from[i]] : 0;
        for (int i = 0; i < OPT_CORE_MAX_DEPLOYS; i++)
            m->prev_share[c][i] = i < n ? s[i] : 0;
        if (regrid) m->prev_loaded[c] = 0;
    }
    for (int i = 0; i < n; i++) {
        m->d[i] = d[i];
        m->d[i].name[sizeof(m->d[i].name) - 1] = 0;
        m->d[i].ns[sizeof(m->d[i].ns) - 1] = 0;
        m->st[i] = st[i];
    }
    m->nd = n;
    return 0;
}

static void core_win_drop(opt_model *m, int i)
{
    free(m->win[i].cells);
    memmove(&m->win[i], &m->win[i + 1], (size_t)(m->nwin - i - 1) * sizeof(m->win[0]));
    m->nwin--;
}

void opt_model_add_window(opt_model *m, const opt_trace *t)
{
    if (!t || t->ncells < 0 || t->ncells > OPT_TRACE_MAX_CELLS) return;
    core_win w = {t->ts,         t->interval_s > 0 ? t->interval_s : OPT_TRACE_INTERVAL_S,
                  t->total_reqs, t->dropped,
                  t->ncells,     NULL};
    if (t->ncells > 0) {
        w.cells = malloc((size_t)t->ncells * sizeof(*w.cells));
        if (!w.cells) return; /* the window is lost; the next re-read brings it back */
        memcpy(w.cells, t->cells, (size_t)t->ncells * sizeof(*w.cells));
    }
    int i = 0;
    while (i < m->nwin && m->win[i].ts < w.ts)
        i++;
    if (i < m->nwin && m->win[i].ts == w.ts) {
        free(m->win[i].cells);
        m->win[i] = w;
    } else {
        if (m->nwin == OPT_CORE_MAX_WINDOWS) {
            if (i == 0) { /* older than all kept, and no room */
                free(w.cells);
                return;
            }
            core_win_drop(m, 0);
            i--;
        }
        memmove(&m->win[i + 1], &m->win[i], (size_t)(m->nwin - i) * sizeof(m->win[0]));
        m->win[i] = w;
        m->nwin++;
    }
    int64_t horizon = m->win[m->nwin - 1].ts - (int64_t)OPT_CORE_MAX_WINDOWS * OPT_TRACE_INTERVAL_S;
    while (m->nwin > 0 && m->win[0].ts < horizon)
        core_win_drop(m, 0);
}

/* Windows -> rps per cell (r->cell_rps, r->rps, r->nloaded). */
static void core_load(const opt_model *m, int64_t now, core_run *r)
{
    const opt_profile *g = r->grid;
    double count[CORE_CELLS] = {0};
    int64_t done = 0, oldest = 0, end = 0, newest = INT64_MIN;
    double newest_rate = 0;
    for (int i = 0; i < m->nwin; i++) {
        const core_win *w = &m->win[i];
        if (w->ts < now - m->o.window_s || w->ts >= now) continue;
        int64_t n = w->dropped;
        for (int c = 0; c < w->ncells; c++) {
            const opt_trace_cell *tc = &w->cells[c];
            if (tc->count <= 0) continue;
            int ii, oi, cl;
            opt_profile_cell(g, opt_bucket_tokens(tc->in_tick), opt_bucket_tokens(tc->out_tick),
                             &ii, &oi, &cl);
            count[oi * g->nin + ii] += (double)tc->count;
            r->placed += tc->count;
            if (cl) r->clamped += tc->count;
            n += tc->count;
        }
        done += n;
        if (newest == INT64_MIN) oldest = w->ts;
        newest = w->ts; /* windows are sorted */
        end = w->ts + w->interval_s;
        newest_rate = (double)(w->total_reqs >= 0 ? w->total_reqs : n) / w->interval_s;
    }
    if (newest == INT64_MIN) return;
    double span_rate = (double)done / (double)(end - oldest);
    r->rps = span_rate > newest_rate ? span_rate : newest_rate;
    if (r->placed == 0) return;
    for (int c = 0; c < g->nout * g->nin; c++) {
        r->cell_rps[c] = r->rps * (1 + m->o.headroom) * count[c] / (double)r->placed;
        if (r->cell_rps[c] > 0) r->nloaded++;
    }
}

/* The ILP over the loaded cells; fills r->target and r->share on success. */
static int core_solve(const opt_model *m, core_run *r)
{
    const opt_profile *g = r->grid;
    int nt = r->nt, nb = r->nloaded, upg = m->o.units_per_gpu;
    /* whole replicas unless fractional: KPA rounds units up to replicas, so a
     * sliver of an expensive type would cost a whole one (docs/hetero.md) */
    int sol = m->o.fractional ? upg : 1;
    int bcell[CORE_CELLS];
    double cost[OPT_CORE_MAX_DEPLOYS];
    int64_t maxu[OPT_CORE_MAX_DEPLOYS], minu[OPT_CORE_MAX_DEPLOYS], units[OPT_CORE_MAX_DEPLOYS];
    double *tput = malloc((size_t)nt * nb * sizeof(double));
    double *load = malloc((size_t)nb * sizeof(double));
    double *share = malloc((size_t)nt * nb * sizeof(double));
    if (!tput || !load || !share) {
        free(tput);
        free(load);
        free(share);
        r->ilp.status = OPT_ILP_ERROR;
        snprintf(r->ilp.msg, sizeof(r->ilp.msg), "out of memory");
        return -1;
    }
    int b = 0;
    for (int c = 0; c < g->nout * g->nin; c++)
        if (r->cell_rps[c] > 0) {
            bcell[b] = c;
            load[b++] = r->cell_rps[c];
        }
    int bounded = 0;
    for (int t = 0; t < nt; t++) {
        const opt_deploy *d = &m->d[r->tix[t]];
        cost[t] = d->profile.cost;
        double need = 0; /* units serving every cell alone: a bound that never binds */
        for (b = 0; b < nb; b++) {
            int c = bcell[b];
            double tp = d->profile.tputs[c / g->nin][c % g->nin];
            tput[t * nb + b] = tp;
            if (tp > 0) need += load[b] / tp * sol;
        }
        /* the floor's replicas are paid for: the solve fills them first */
        minu[t] = d->min_replicas > 0 ? d->min_replicas * sol : 0;
        maxu[t] = (int64_t)ceil(need) + 1 + minu[t];
        if (d->max_replicas > 0) {
            maxu[t] = d->max_replicas * sol;
            if (minu[t] > maxu[t]) minu[t] = maxu[t];
            bounded = 1;
        }
    }
    opt_ilp_in in = {.ntypes = nt,
                     .nbuckets = nb,
                     .cost = cost,
                     .tput = tput,
                     .load = load,
                     .max_units = bounded ? maxu : NULL,
                     .min_units = minu,
                     .slices = m->o.slices,
                     .continuous = m->o.slices == 0,
                     .units_per_gpu = sol,
                     .time_limit_ms = m->o.time_limit_ms};
    r->ilp.units = units;
    r->ilp.share = share;
    opt_ilp_solve(&in, &r->ilp);
    r->ilp.units = NULL;
    r->ilp.share = NULL;
    int ok = r->ilp.status == OPT_ILP_OPTIMAL;
    if (ok) {
        for (int t = 0; t < nt; t++)
            r->target[r->tix[t]] = units[t] * (upg / sol);
        for (b = 0; b < nb; b++)
            for (int t = 0; t < nt; t++)
                r->share[bcell[b]][r->tix[t]] = share[b * nt + t];
    }
    free(tput);
    free(load);
    free(share);
    return ok ? 0 : -1;
}

/* Hysteresis on replicas: returns 1 when a lower count is being held. */
static int core_hyst(const opt_model *m, core_state *s, int64_t want, int64_t now)
{
    int upg = m->o.units_per_gpu;
    double delay = m->o.scale_down_delay_s;
    if (delay < 0 || !s->applied || core_reps(want, upg) >= core_reps(s->units, upg)) {
        s->applied = 1;
        s->units = want;
        s->nhist = 0;
        return 0;
    }
    if (s->nhist == CORE_HIST_MAX) { /* fold the two oldest: the later ts, the higher ask */
        if (s->hist[0].units > s->hist[1].units) s->hist[1].units = s->hist[0].units;
        memmove(&s->hist[0], &s->hist[1], (CORE_HIST_MAX - 1) * sizeof(s->hist[0]));
        s->nhist--;
    }
    s->hist[s->nhist++] = (core_hist){now, want};
    if ((double)(now - s->hist[0].ts) < delay) return 1;
    int64_t best = 0;
    for (int i = 0; i < s->nhist; i++)
        if ((double)s->hist[i].ts >= (double)now - delay && s->hist[i].units > best)
            best = s->hist[i].units;
    s->units = best;
    /* the streak goes on from the first run after the last one that asked as much */
    int k = -1;
    for (int i = 0; i < s->nhist; i++)
        if (core_reps(s->hist[i].units, upg) >= core_reps(best, upg)) k = i;
    memmove(&s->hist[0], &s->hist[k + 1], (size_t)(s->nhist - k - 1) * sizeof(s->hist[0]));
    s->nhist -= k + 1;
    return 0;
}

static void core_cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

/* Shares of cell c over the Deployments (sum 1, or all 0 when no type can
 * serve it): the ILP's for a cell with load, else the cheapest per request. */
static void core_cell_share(const opt_model *m, const core_run *r, const opt_result *res, int c,
                            double *out)
{
    const opt_profile *g = r->grid;
    double sum = 0;
    for (int i = 0; i < m->nd; i++)
        out[i] = 0;
    if (r->cell_rps[c] > 0 && (r->solved || m->prev_loaded[c])) {
        const double *s = r->solved ? r->share[c] : m->prev_share[c];
        for (int i = 0; i < m->nd; i++)
            if (res->deploys[i].replicas > 0 && m->d[i].has_profile &&
                m->d[i].profile.tputs[c / g->nin][c % g->nin] > 0) {
                out[i] = s[i];
                sum += s[i];
            }
        if (sum > 0) {
            for (int i = 0; i < m->nd; i++)
                out[i] /= sum;
            return;
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        int best = -1;
        double bc = 0;
        for (int i = 0; i < m->nd; i++) {
            if (!m->d[i].has_profile || (pass == 0 && res->deploys[i].replicas <= 0)) continue;
            double tp = m->d[i].profile.tputs[c / g->nin][c % g->nin];
            if (!(tp > 0)) continue;
            double cpr = m->d[i].profile.cost / tp;
            if (best < 0 || cpr < bc) {
                best = i;
                bc = cpr;
            }
        }
        if (best >= 0) {
            out[best] = 1;
            return;
        }
    }
}

/* A token count: an integer when it is one (128, not 128.0). */
static json_t *core_num(double x)
{
    if (x == floor(x) && fabs(x) < 1e15) return json_integer((json_int_t)x);
    return json_real(x);
}

/* The assignment's "deployments" and "cells" (docs/hetero.md). */
static json_t *core_body(const opt_model *m, const core_run *r, const opt_result *res)
{
    const opt_profile *g = r->grid;
    json_t *o = json_object(), *ds = json_array(), *cs = json_array();
    int bad = !o || !ds || !cs;
    for (int i = 0; i < res->ndeploys && !bad; i++) {
        json_t *e = json_pack("{s:s, s:s, s:I, s:I}", "name", res->deploys[i].name, "namespace",
                              res->deploys[i].ns, "units", (json_int_t)res->deploys[i].units,
                              "replicas", (json_int_t)res->deploys[i].replicas);
        bad |= json_array_append_new(ds, e);
    }
    for (int oi = 0; oi < g->nout && !bad; oi++)
        for (int ii = 0; ii < g->nin && !bad; ii++) {
            double s[OPT_CORE_MAX_DEPLOYS];
            core_cell_share(m, r, res, oi * g->nin + ii, s);
            json_t *sh = json_object();
            bad |= !sh;
            for (int i = 0; i < m->nd && !bad; i++)
                if (s[i] > 0) bad |= json_object_set_new(sh, m->d[i].name, json_real(s[i]));
            json_t *e = json_pack("{s:o, s:o, s:o}", "in", core_num(g->in_tokens[ii]), "out",
                                  core_num(g->out_tokens[oi]), "share", sh);
            bad |= json_array_append_new(cs, e);
        }
    bad |= json_object_set(o, "deployments", ds) | json_object_set(o, "cells", cs);
    json_decref(ds);
    json_decref(cs);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

#define CORE_DUMP (JSON_COMPACT | JSON_REAL_PRECISION(6))

/* Keeps res and its assignment; bumps the generation on a change. */
static void core_keep(opt_model *m, const core_run *r, opt_result *res)
{
    res->generation = m->res.generation;
    json_t *body = core_body(m, r, res);
    char *bs = body ? json_dumps(body, CORE_DUMP) : NULL;
    if (!bs || !m->body || strcmp(bs, m->body)) res->generation++;
    json_t *full = body ? json_pack("{s:s, s:I, s:I}", "model", m->model, "generation",
                                    (json_int_t)res->generation, "ts", (json_int_t)res->ts)
                        : NULL;
    char *as = NULL;
    if (full && !json_object_update(full, body)) as = json_dumps(full, CORE_DUMP);
    json_decref(full);
    json_decref(body);
    free(m->body);
    m->body = bs;
    free(m->assign);
    m->assign = as;
    m->res = *res;
}

int opt_model_run(opt_model *m, int64_t now, opt_result *out)
{
    core_run *r = calloc(1, sizeof(*r));
    memset(out, 0, sizeof(*out));
    out->ts = now;
    if (!r) {
        snprintf(out->reason, sizeof(out->reason), "out of memory");
        return -1;
    }
    for (int i = 0; i < m->nd; i++)
        if (m->d[i].has_profile) {
            if (!r->grid) r->grid = &m->d[i].profile;
            r->tix[r->nt++] = i;
        }
    if (!r->nt) {
        snprintf(out->reason, sizeof(out->reason), "model %s: no Deployment with a profile (%d)",
                 m->model, m->nd);
        free(r);
        return -1;
    }
    int upg = m->o.units_per_gpu;
    core_load(m, now, r);
    out->rps = r->rps;
    out->ncells_loaded = r->nloaded;
    out->status = OPT_ILP_OPTIMAL;
    char *why = r->why;
    if (r->rps <= 0) {
        snprintf(why, sizeof(r->why), "no load in the last %d s: floors", m->o.window_s);
        r->solved = 1; /* every target 0, raised to the floor below */
    } else if (r->placed == 0) {
        snprintf(why, sizeof(r->why),
                 "%.2f rps arriving, none completed in the last %d s: previous units kept", r->rps,
                 m->o.window_s);
        r->keep = 1;
    } else {
        snprintf(why, sizeof(r->why), "%.2f rps in %d cells (%d s)", r->rps, r->nloaded,
                 m->o.window_s);
        if (r->clamped > 0)
            core_cat(why, sizeof(r->why), ", %.0f%% outside the grid",
                     100.0 * (double)r->clamped / (double)r->placed);
        r->solved = core_solve(m, r) == 0;
        r->keep = !r->solved;
        out->status = r->ilp.status;
        out->solve_ms = r->ilp.solve_ms;
        out->unserved_rps = r->ilp.unserved_rps;
        if (r->ilp.unserved_rps > 0)
            core_cat(why, sizeof(r->why), ", %.2f rps no type serves", r->ilp.unserved_rps);
        if (r->keep)
            core_cat(why, sizeof(r->why), "; solve %s (%s): previous units kept",
                     opt_ilp_status_name(r->ilp.status), r->ilp.msg);
    }

    char held[OPT_CORE_REASON_MAX] = "", over[OPT_CORE_REASON_MAX] = "";
    char nopro[OPT_CORE_REASON_MAX] = "";
    out->ndeploys = m->nd;
    for (int i = 0; i < m->nd; i++) {
        const opt_deploy *d = &m->d[i];
        core_state *s = &m->st[i];
        opt_deploy_result *e = &out->deploys[i];
        snprintf(e->name, sizeof(e->name), "%s", d->name);
        snprintf(e->ns, sizeof(e->ns), "%s", d->ns);
        int64_t fl = d->min_replicas > 0 ? d->min_replicas * upg : 0;
        if (r->solved && d->has_profile) s->ilp_units = r->target[i];
        if (!d->has_profile) {
            s->ilp_units = 0;
            core_cat(nopro, sizeof(nopro), "%s%s", nopro[0] ? ", " : "", d->name);
        }
        int64_t want = r->keep && s->applied ? s->units : (r->solved ? r->target[i] : 0);
        if (!d->has_profile) want = 0;
        if (want < fl) want = fl;
        int64_t before = s->units;
        if (core_hyst(m, s, want, now))
            core_cat(held, sizeof(held), "%s%s %lld (asks %lld for %.0f of %.0f s)",
                     held[0] ? ", " : "", d->name, (long long)core_reps(before, upg),
                     (long long)core_reps(want, upg), (double)(now - s->hist[0].ts),
                     m->o.scale_down_delay_s);
        e->ilp_units = s->ilp_units;
        e->units = s->units;
        if (d->override >= 0) {
            e->units = d->override * upg > fl ? d->override * upg : fl;
            core_cat(over, sizeof(over), "%s%s %lld", over[0] ? ", " : "", d->name,
                     (long long)d->override);
        }
        e->replicas = core_reps(e->units, upg);
        e->cost = d->has_profile ? d->profile.cost * (double)e->replicas : 0;
        out->cost += e->cost;
    }

    char *rs = out->reason;
    size_t rl = sizeof(out->reason);
    snprintf(rs, rl, "%s; mix", why);
    int any = 0;
    for (int i = 0; i < m->nd; i++)
        if (out->deploys[i].units > 0) {
            core_cat(rs, rl, "%s %s %lld (%lld)", any ? "," : "", out->deploys[i].name,
                     (long long)out->deploys[i].replicas, (long long)out->deploys[i].units);
            any = 1;
        }
    core_cat(rs, rl, "%s = $%.2f/h", any ? "" : " none", out->cost);
    if (held[0]) core_cat(rs, rl, "; held: %s", held);
    if (over[0]) core_cat(rs, rl, "; override: %s", over);
    if (nopro[0]) core_cat(rs, rl, "; no profile (floor): %s", nopro);
    out->ok = 1;

    core_keep(m, r, out);
    if (r->solved && r->rps > 0)
        for (int c = 0; c < r->grid->nout * r->grid->nin; c++) {
            m->prev_loaded[c] = r->cell_rps[c] > 0;
            memcpy(m->prev_share[c], r->share[c], sizeof(m->prev_share[c]));
        }
    out->generation = m->res.generation;
    free(r);
    return 0;
}

void opt_model_result(const opt_model *m, opt_result *out)
{
    *out = m->res;
}

char *opt_model_assignment_json(const opt_model *m)
{
    return m->assign ? strdup(m->assign) : NULL;
}
