/* opt_ilp: Melange's ILP on GLPK (contract in opt_ilp.h; docs/hetero.md,
 * "Optimizer ILP").
 *
 * The model as written in the header has a binary x[s][g] per slice and
 * type. A bucket's S slices are identical (same load r = load / S, same
 * tput), so any assignment of them is one of its counts per type and the
 * cost depends only on the counts. This file solves the equivalent model
 * without that symmetry, which is what keeps branch and bound small:
 *   n[b][g] integer in 0..S, sum_g n[b][g] = S          (every slice served)
 *   sum_b n[b][g] * (load_b / S) / tput[g][b] * upg <= y[g]
 *   y[g] integer in 0..max_units[g]; minimise sum_g cost[g] / upg * y[g]
 * n[b][g] exists only where tput[g][b] > 0 (AIBrix weighs the others 1e6,
 * which no optimum picks) and only for buckets with load. Buckets with load
 * that no type serves are left out and reported (unserved). The share of
 * type g in bucket b is n[b][g] / S. tests/unit/test_opt_ilp.c checks the
 * optimum against brute force over the binary-slice model.
 *
 * After GLPK's answer the units are recomputed from the integer counts as
 * the least integers covering the load (GLPK accepts a row within its
 * feasibility tolerance, and a type of cost 0 may come back with spare
 * units); the cost is that of the recomputed units. */
#define _POSIX_C_SOURCE 200809L
#include "opt/opt_ilp.h"

#include <glpk.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OPT_ILP_DEF_SLICES 4
#define OPT_ILP_MAX_SLICES 1024
#define OPT_ILP_DEF_UPG 100
#define OPT_ILP_MAX_UPG 1000000
#define OPT_ILP_DEF_LIMIT_MS 1000.0
/* a bound above this is no bound (and keeps the double exact) */
#define OPT_ILP_NO_BOUND ((int64_t)1 << 52)

const char *opt_ilp_status_name(opt_ilp_status s)
{
    switch (s) {
    case OPT_ILP_OPTIMAL:
        return "optimal";
    case OPT_ILP_INFEASIBLE:
        return "infeasible";
    case OPT_ILP_TIMEOUT:
        return "timeout";
    case OPT_ILP_ERROR:
        return "error";
    }
    return "error";
}

static double opt_ilp_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static opt_ilp_status opt_ilp_fail(opt_ilp_out *out, opt_ilp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
    out->status = st;
    return st;
}

/* The least integer units covering v unit-loads: ceil, forgiving the last
 * bits of rounding error in the sum (v = 2.0000000000000004 is 2 units). */
static int64_t opt_ilp_units(double v)
{
    if (v <= 0) return 0;
    double c = ceil(v - 1e-9 * (v > 1 ? v : 1));
    return c < 0 ? 0 : (int64_t)c;
}

static int opt_ilp_bad(double v)
{
    return !isfinite(v) || v < 0;
}

static opt_ilp_status opt_ilp_check(const opt_ilp_in *in, opt_ilp_out *out)
{
    if (!in) return opt_ilp_fail(out, OPT_ILP_ERROR, "in is NULL");
    if (!out->units) return opt_ilp_fail(out, OPT_ILP_ERROR, "units is NULL");
    if (in->ntypes < 1 || in->ntypes > OPT_ILP_MAX_TYPES)
        return opt_ilp_fail(out, OPT_ILP_ERROR, "ntypes %d not in 1..%d", in->ntypes,
                            OPT_ILP_MAX_TYPES);
    if (in->nbuckets < 1 || in->nbuckets > OPT_ILP_MAX_BUCKETS)
        return opt_ilp_fail(out, OPT_ILP_ERROR, "nbuckets %d not in 1..%d", in->nbuckets,
                            OPT_ILP_MAX_BUCKETS);
    if (in->slices < 0 || in->slices > OPT_ILP_MAX_SLICES)
        return opt_ilp_fail(out, OPT_ILP_ERROR, "slices %d not in 0..%d", in->slices,
                            OPT_ILP_MAX_SLICES);
    if (in->units_per_gpu < 0 || in->units_per_gpu > OPT_ILP_MAX_UPG)
        return opt_ilp_fail(out, OPT_ILP_ERROR, "units_per_gpu %d not in 0..%d", in->units_per_gpu,
                            OPT_ILP_MAX_UPG);
    if (!isfinite(in->time_limit_ms) || in->time_limit_ms < 0 || in->time_limit_ms > 3.6e6)
        return opt_ilp_fail(out, OPT_ILP_ERROR, "time_limit_ms %g not in 0..3600000",
                            in->time_limit_ms);
    if (!in->cost) return opt_ilp_fail(out, OPT_ILP_ERROR, "cost is NULL");
    if (!in->tput) return opt_ilp_fail(out, OPT_ILP_ERROR, "tput is NULL");
    if (!in->load) return opt_ilp_fail(out, OPT_ILP_ERROR, "load is NULL");
    for (int g = 0; g < in->ntypes; g++) {
        if (opt_ilp_bad(in->cost[g]))
            return opt_ilp_fail(out, OPT_ILP_ERROR, "cost[%d] is %g", g, in->cost[g]);
        if (in->max_units && in->max_units[g] < 0)
            return opt_ilp_fail(out, OPT_ILP_ERROR, "max_units[%d] is %lld", g,
                                (long long)in->max_units[g]);
        if (in->min_units && (in->min_units[g] < 0 || in->min_units[g] >= OPT_ILP_NO_BOUND ||
                              (in->max_units && in->min_units[g] > in->max_units[g])))
            return opt_ilp_fail(out, OPT_ILP_ERROR, "min_units[%d] is %lld", g,
                                (long long)in->min_units[g]);
    }
    for (int b = 0; b < in->nbuckets; b++)
        if (opt_ilp_bad(in->load[b]))
            return opt_ilp_fail(out, OPT_ILP_ERROR, "load[%d] is %g", b, in->load[b]);
    for (int g = 0; g < in->ntypes; g++)
        for (int b = 0; b < in->nbuckets; b++) {
            double t = in->tput[(size_t)g * (size_t)in->nbuckets + (size_t)b];
            if (opt_ilp_bad(t))
                return opt_ilp_fail(out, OPT_ILP_ERROR, "tput[%d][%d] is %g", g, b, t);
        }
    return OPT_ILP_OPTIMAL;
}

/* The model's columns: y[g] are columns 1..G; the n[b][g] follow, listed
 * in col_b/col_g (index j - G - 1). */
typedef struct opt_ilp_model {
    glp_prob *lp;
    int nn;     /* n columns */
    int *col_b; /* [nn] */
    int *col_g; /* [nn] */
    double *a;  /* [nn] units per slice: load_b / S / tput[g][b] * upg */
    double *ub; /* [nn] most slices worth moving there (<= S) */
    int cont;   /* continuous shares: n columns are real, not integer */
} opt_ilp_model;

static double opt_ilp_tput(const opt_ilp_in *in, int g, int b)
{
    return in->tput[(size_t)g * (size_t)in->nbuckets + (size_t)b];
}

/* The cheapest cost ($/h) of one slice of bucket b, and the type giving it
 * (the first of equals). */
static double opt_ilp_best(const opt_ilp_in *in, int b, int S, int upg, int *type)
{
    double best = INFINITY;
    for (int g = 0; g < in->ntypes; g++) {
        double t = opt_ilp_tput(in, g, b);
        if (t <= 0) continue;
        double c = in->cost[g] * (in->load[b] / S / t * upg) / upg;
        if (c < best) {
            best = c;
            if (type) *type = g;
        }
    }
    return best;
}

/* Units paid for: what the load needs, at least the floor (min_units). */
static int64_t opt_ilp_paid(const opt_ilp_in *in, int g, double need)
{
    int64_t u = opt_ilp_units(need);
    return in->min_units && u < in->min_units[g] ? in->min_units[g] : u;
}

/* The cost ($/h) of need[] units rounded up, floors included. */
static double opt_ilp_cost(const opt_ilp_in *in, const double *need, int upg)
{
    double u = 0;
    for (int g = 0; g < in->ntypes; g++)
        u += in->cost[g] * (double)opt_ilp_paid(in, g, need[g]) / upg;
    return u;
}

/* A good assignment, for a bound (below): every slice on its cheapest type,
 * then, while one helps (at most 64 times), the single move of k slices of
 * a bucket from one type to another that lowers the rounded-up cost most. n[b * G + g] and
 * need[g] (units) in and out; returns the cost, or INFINITY when a
 * max_units bound is broken (moves keep to the bounds once met). */
static double opt_ilp_greedy(const opt_ilp_in *in, const unsigned char *served, int S, int upg,
                             int *n, double *need)
{
    int G = in->ntypes, B = in->nbuckets;
    for (int b = 0; b < B; b++) {
        if (!served[b]) continue;
        int g = 0;
        opt_ilp_best(in, b, S, upg, &g);
        n[(size_t)b * G + g] = S;
        need[g] += S * (in->load[b] / S / opt_ilp_tput(in, g, b) * upg);
    }
    for (int g = 0; g < G; g++)
        if (in->max_units && opt_ilp_units(need[g]) > in->max_units[g]) return INFINITY;
    double cur = opt_ilp_cost(in, need, upg);
    for (int iter = 0; iter < 64; iter++) {
        double best = 0;
        int bb = -1, bf = 0, bt = 0, bk = 0;
        for (int b = 0; b < B; b++) {
            if (!served[b]) continue;
            for (int f = 0; f < G; f++) {
                int have = n[(size_t)b * G + f];
                if (!have) continue;
                double af = in->load[b] / S / opt_ilp_tput(in, f, b) * upg;
                for (int t = 0; t < G; t++) {
                    double tt = opt_ilp_tput(in, t, b);
                    if (t == f || tt <= 0) continue;
                    double at = in->load[b] / S / tt * upg;
                    for (int k = 1; k <= have; k++) {
                        double nf = need[f] - k * af, nt = need[t] + k * at;
                        int64_t yt = opt_ilp_units(nt);
                        if (in->max_units && yt > in->max_units[t]) break;
                        yt = opt_ilp_paid(in, t, nt);
                        double d = (in->cost[f] * (double)(opt_ilp_paid(in, f, nf) -
                                                           opt_ilp_paid(in, f, need[f])) +
                                    in->cost[t] * (double)(yt - opt_ilp_paid(in, t, need[t]))) /
                                   upg;
                        if (d < best - 1e-12) best = d, bb = b, bf = f, bt = t, bk = k;
                    }
                }
            }
        }
        if (bb < 0) break;
        n[(size_t)bb * G + bf] -= bk;
        n[(size_t)bb * G + bt] += bk;
        need[bf] -= bk * (in->load[bb] / S / opt_ilp_tput(in, bf, bb) * upg);
        need[bt] += bk * (in->load[bb] / S / opt_ilp_tput(in, bt, bb) * upg);
        cur = opt_ilp_cost(in, need, upg);
    }
    return cur;
}

/* Why the model stays small. Without integer units the problem splits by
 * bucket: every slice on its cheapest type, costing V (a lower bound).
 * With them, a solution's cost is V + (what its moves off the cheapest
 * types cost) + (what rounding each type's units up costs), the last two
 * >= 0. A known assignment costs U, so a solution as good moves slices for
 * at most U - V in all: k slices of a bucket whose move costs more than
 * that gap are never moved (exact reduced-cost fixing, done before GLPK
 * sees the model). Returns the gap, or INFINITY when no assignment within
 * the max_units bounds is known (nothing is fixed). */
static double opt_ilp_gap(const opt_ilp_in *in, const unsigned char *served, int S, int upg)
{
    int G = in->ntypes, B = in->nbuckets;
    double need[OPT_ILP_MAX_TYPES] = {0}, v = 0;
    int *n = calloc((size_t)B * (size_t)G, sizeof(int));
    if (!n) return INFINITY;
    for (int b = 0; b < B; b++)
        if (served[b]) v += S * opt_ilp_best(in, b, S, upg, NULL);
    double u = opt_ilp_greedy(in, served, S, upg, n, need);
    free(n);
    if (!isfinite(u)) return INFINITY;
    return u - v > 0 ? u - v : 0;
}

/* Builds the model over the served buckets; returns 0, or -1 out of
 * memory. */
static int opt_ilp_build(const opt_ilp_in *in, const unsigned char *served, int S, int upg,
                         opt_ilp_model *m)
{
    int G = in->ntypes, B = in->nbuckets, nserved = 0;
    for (int b = 0; b < B; b++)
        nserved += served[b];
    size_t maxn = (size_t)nserved * (size_t)G;
    m->col_b = malloc((maxn + 1) * sizeof(int));
    m->col_g = malloc((maxn + 1) * sizeof(int));
    m->a = malloc((maxn + 1) * sizeof(double));
    m->ub = malloc((maxn + 1) * sizeof(double));
    /* 2 entries per n column (its bucket row and its type row) and one per y */
    size_t nz = 2 * maxn + (size_t)G + 1;
    int *ia = malloc(nz * sizeof(int)), *ja = malloc(nz * sizeof(int));
    double *ar = malloc(nz * sizeof(double));
    if (!m->col_b || !m->col_g || !m->a || !m->ub || !ia || !ja || !ar) {
        free(ia);
        free(ja);
        free(ar);
        return -1;
    }
    m->nn = 0;
    double gap = opt_ilp_gap(in, served, S, upg);
    for (int b = 0; b < B; b++) {
        if (!served[b]) continue;
        double best = opt_ilp_best(in, b, S, upg, NULL);
        for (int g = 0; g < G; g++) {
            double t = opt_ilp_tput(in, g, b);
            if (t <= 0) continue;
            double a = in->load[b] / S / t * upg;
            /* k slices moved here from the bucket's cheapest type cost k * p
             * more than the greedy bound: more than the gap, never optimal */
            double p = in->cost[g] * a / upg - best, ub = S;
            if (p > 0 && isfinite(gap)) {
                ub = gap / p * (1 + 1e-9) + 1e-9;
                if (!m->cont) ub = floor(ub);
                if (ub > S) ub = S;
                if (ub < (m->cont ? 1e-9 : 1)) continue;
            }
            m->col_b[m->nn] = b;
            m->col_g[m->nn] = g;
            m->a[m->nn] = a;
            m->ub[m->nn] = ub;
            m->nn++;
        }
    }

    glp_prob *lp = glp_create_prob();
    m->lp = lp;
    glp_set_obj_dir(lp, GLP_MIN);
    /* rows 1..G: type g's units cover its slices; then one row per served
     * bucket: its S slices all served */
    glp_add_rows(lp, G + nserved);
    for (int g = 0; g < G; g++)
        glp_set_row_bnds(lp, g + 1, GLP_UP, 0.0, 0.0);
    int *brow = malloc((size_t)B * sizeof(int));
    if (!brow) {
        free(ia);
        free(ja);
        free(ar);
        return -1;
    }
    for (int b = 0, r = G + 1; b < B; b++) {
        brow[b] = served[b] ? r : 0;
        if (served[b]) glp_set_row_bnds(lp, r++, GLP_FX, (double)S, (double)S);
    }
    glp_add_cols(lp, G + m->nn);
    size_t k = 1;
    for (int g = 0; g < G; g++) {
        int j = g + 1;
        glp_set_col_kind(lp, j, GLP_IV);
        double lo = in->min_units ? (double)in->min_units[g] : 0.0;
        if (in->max_units && in->max_units[g] < OPT_ILP_NO_BOUND)
            glp_set_col_bnds(lp, j, in->max_units[g] == (int64_t)lo ? GLP_FX : GLP_DB, lo,
                             (double)in->max_units[g]);
        else
            glp_set_col_bnds(lp, j, GLP_LO, lo, 0.0);
        glp_set_obj_coef(lp, j, in->cost[g] / upg);
        ia[k] = g + 1, ja[k] = j, ar[k] = -1.0, k++;
    }
    for (int i = 0; i < m->nn; i++) {
        int j = G + 1 + i;
        glp_set_col_kind(lp, j, m->cont ? GLP_CV : GLP_IV);
        glp_set_col_bnds(lp, j, GLP_DB, 0.0, m->ub[i]);
        ia[k] = m->col_g[i] + 1, ja[k] = j, ar[k] = m->a[i], k++;
        ia[k] = brow[m->col_b[i]], ja[k] = j, ar[k] = 1.0, k++;
    }
    glp_load_matrix(lp, (int)(k - 1), ia, ja, ar);
    free(brow);
    free(ia);
    free(ja);
    free(ar);
    return 0;
}

static void opt_ilp_model_free(opt_ilp_model *m)
{
    if (m->lp) glp_delete_prob(m->lp);
    free(m->col_b);
    free(m->col_g);
    free(m->a);
    free(m->ub);
}

/* Reads GLPK's integer solution into out: counts, shares, units, cost. */
static void opt_ilp_read(const opt_ilp_in *in, const opt_ilp_model *m, int S, int upg, int prim,
                         opt_ilp_out *out)
{
    int G = in->ntypes;
    double need[OPT_ILP_MAX_TYPES] = {0};
    if (out->share) memset(out->share, 0, (size_t)in->nbuckets * (size_t)G * sizeof(*out->share));
    for (int i = 0; i < m->nn; i++) {
        int j = in->ntypes + 1 + i;
        double n = prim ? glp_get_col_prim(m->lp, j) : glp_mip_col_val(m->lp, j);
        n = m->cont ? (n < 1e-9 ? 0 : n) : round(n);
        if (n <= 0) continue;
        need[m->col_g[i]] += n * m->a[i];
        if (out->share) out->share[(size_t)m->col_b[i] * (size_t)G + (size_t)m->col_g[i]] = n / S;
    }
    out->cost = 0;
    for (int g = 0; g < G; g++) {
        int64_t u = opt_ilp_paid(in, g, need[g]);
        /* GLPK accepted the row within its tolerance: keep to the bound */
        if (in->max_units && u > in->max_units[g]) u = in->max_units[g];
        out->units[g] = u;
        out->cost += in->cost[g] * (double)u / upg;
    }
}

/* Continuous shares leave ties: with the units fixed many splits cost the
 * same (a type bought for the long requests may take the short ones too,
 * leaving a floor replica of a cheaper type idle). Among them this prefers
 * every request on the type cheapest per request (cost x units per share),
 * which keeps the dear types' capacity for what only they serve: an LP over
 * the shares with the units fixed at the optimum. Returns 1 when it solved
 * (read its primal values), 0 to keep the MIP's. */
static int opt_ilp_tiebreak(const opt_ilp_in *in, opt_ilp_model *m, int upg, double left_ms)
{
    int G = in->ntypes;
    for (int g = 0; g < G; g++) {
        double y = round(glp_mip_col_val(m->lp, g + 1));
        glp_set_col_kind(m->lp, g + 1, GLP_CV);
        glp_set_col_bnds(m->lp, g + 1, GLP_FX, y, y);
        glp_set_obj_coef(m->lp, g + 1, 0.0);
    }
    for (int i = 0; i < m->nn; i++)
        glp_set_obj_coef(m->lp, G + 1 + i, in->cost[m->col_g[i]] * m->a[i] / upg);
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    sp.presolve = GLP_ON;
    sp.tm_lim = left_ms < 1 ? 1 : (int)ceil(left_ms);
    return glp_simplex(m->lp, &sp) == 0 && glp_get_status(m->lp) == GLP_OPT;
}

static opt_ilp_status opt_ilp_run(const opt_ilp_in *in, opt_ilp_out *out, double t0)
{
    int G = in->ntypes, B = in->nbuckets;
    int S = in->continuous ? 1 : in->slices ? in->slices : OPT_ILP_DEF_SLICES;
    int upg = in->units_per_gpu ? in->units_per_gpu : OPT_ILP_DEF_UPG;
    double lim = in->time_limit_ms > 0 ? in->time_limit_ms : OPT_ILP_DEF_LIMIT_MS;

    unsigned char *served = calloc((size_t)B, 1);
    if (!served) return opt_ilp_fail(out, OPT_ILP_ERROR, "out of memory");
    int nserved = 0;
    for (int b = 0; b < B; b++) {
        if (in->load[b] <= 0) continue;
        int any = 0;
        for (int g = 0; g < G && !any; g++)
            any = opt_ilp_tput(in, g, b) > 0;
        if (any) {
            served[b] = 1;
            nserved++;
        } else {
            out->nunserved++;
            out->unserved_rps += in->load[b];
        }
    }
    if (nserved == 0) { /* nothing to serve: the floors (else 0) are optimal */
        free(served);
        double none[OPT_ILP_MAX_TYPES] = {0};
        for (int g = 0; g < G; g++)
            out->units[g] = opt_ilp_paid(in, g, 0);
        out->cost = opt_ilp_cost(in, none, upg);
        out->status = OPT_ILP_OPTIMAL;
        return OPT_ILP_OPTIMAL;
    }

    opt_ilp_model m = {.cont = in->continuous != 0};
    int term = glp_term_out(GLP_OFF);
    if (opt_ilp_build(in, served, S, upg, &m) != 0) {
        opt_ilp_model_free(&m);
        glp_term_out(term);
        free(served);
        return opt_ilp_fail(out, OPT_ILP_ERROR, "out of memory");
    }
    free(served);

    glp_iocp p;
    glp_init_iocp(&p);
    p.msg_lev = GLP_MSG_OFF;
    p.presolve = GLP_ON;
    double left = lim - (opt_ilp_now_ms() - t0);
    p.tm_lim = left < 1 ? 1 : (int)ceil(left);
    int rc = glp_intopt(m.lp, &p);
    int st = glp_mip_status(m.lp);
    opt_ilp_status res;
    if (rc == 0 && st == GLP_OPT) {
        opt_ilp_read(in, &m, S, upg, 0, out);
        double cost = out->cost;
        if (m.cont && opt_ilp_tiebreak(in, &m, upg, lim - (opt_ilp_now_ms() - t0))) {
            opt_ilp_read(in, &m, S, upg, 1, out);
            /* the same units (fixed): a cost off means the LP drifted */
            if (out->cost > cost + 1e-9 * (1 + cost)) opt_ilp_read(in, &m, S, upg, 0, out);
        }
        out->status = res = OPT_ILP_OPTIMAL;
    } else if (st == GLP_NOFEAS || rc == GLP_ENOPFS) {
        res = opt_ilp_fail(out, OPT_ILP_INFEASIBLE,
                           "no integer solution: max_units cannot cover the load");
    } else if (rc == GLP_ETMLIM) {
        res = opt_ilp_fail(out, OPT_ILP_TIMEOUT, "no proven optimum within %g ms (%s)", lim,
                           st == GLP_FEAS ? "a feasible mix was found" : "no feasible mix yet");
    } else {
        res = opt_ilp_fail(out, OPT_ILP_ERROR, "glp_intopt returned %d (mip status %d)", rc, st);
    }
    opt_ilp_model_free(&m);
    glp_term_out(term);
    return res;
}

opt_ilp_status opt_ilp_solve(const opt_ilp_in *in, opt_ilp_out *out)
{
    if (!out) return OPT_ILP_ERROR;
    double t0 = opt_ilp_now_ms();
    out->status = OPT_ILP_OPTIMAL;
    out->cost = 0;
    out->nunserved = 0;
    out->unserved_rps = 0;
    out->msg[0] = '\0';
    out->solve_ms = 0;
    opt_ilp_status st = opt_ilp_check(in, out);
    if (st == OPT_ILP_OPTIMAL) {
        for (int g = 0; g < in->ntypes; g++)
            out->units[g] = 0;
        if (out->share)
            memset(out->share, 0, (size_t)in->nbuckets * (size_t)in->ntypes * sizeof(*out->share));
        st = opt_ilp_run(in, out, t0);
        if (st != OPT_ILP_OPTIMAL) {
            for (int g = 0; g < in->ntypes; g++)
                out->units[g] = 0;
            out->cost = 0;
            if (out->share)
                memset(out->share, 0,
                       (size_t)in->nbuckets * (size_t)in->ntypes * sizeof(*out->share));
        }
    }
    out->solve_ms = opt_ilp_now_ms() - t0;
    return st;
}
