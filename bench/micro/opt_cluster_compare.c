/* Load clustering for the heterogeneous-GPU optimizer: AIBrix's DBSCAN
 * centroids against brix's per-request snapping (driver:
 * bench/micro/opt_cluster_compare.sh; figures in docs/hetero.md, "Optimizer
 * core").
 *
 * Both methods see the same 240 s of 10-second windows (AIBrix's trace
 * values: request counts per bucket "I:O", tenths of log2 tokens) and the
 * same three GPU profiles on AIBrix's kind of grid, then solve the same ILP
 * (opt_ilp_solve); they differ in how the windows become the load per
 * profile cell (W x R):
 *   aibrix  every request a point (log2 in, log2 out); DBSCAN with eps 0.5,
 *           min_pts 10 (weighted over the bucket points, which is what
 *           incdbscan computes for repeated points); noise dropped; each
 *           cluster's centroid (mean of its points) snapped to the grid with
 *           rate size / span; W = rates normalised; R = max(points / span,
 *           newest window's arrivals / 10 s), span = newest - oldest window
 *           start. The whole 240 s is clustered (AIBrix reads its oldest live
 *           DBSCAN instance, 180 to 240 s of points).
 *   brix    opt_core's rule: every bucket snapped to the grid; R = max(
 *           completed / (newest end - oldest start), newest arrivals / 10 s).
 *           The units are checked against opt_core itself (opt_model_run).
 * The truth that both are measured against is not the grid: each GPU type's
 * throughput comes from an analytic model (prefill rate, time per output
 * token, KV capacity, batch bound) evaluated at each bucket's own token
 * counts; the profiles are that model sampled at the grid points, as `brix
 * bench profile` would measure them. Coverage is the largest fraction of the
 * window's actual load (per bucket, at its true throughput per type) that
 * the chosen mix serves, an LP (GLPK simplex): with the ILP's units (1/100
 * replica) and with the replicas KPA runs (ceil(units / 100)); "last 60 s"
 * is the replicas' coverage of the newest 60 s only (what a shifting load
 * needs now).
 *
 * A third row, brix/1, solves brix's load with units_per_gpu 1 (whole
 * replicas in the ILP): with 1/100 units (AIBrix's gpu_fraction) the ILP
 * may give a type a sliver that KPA's ceil turns into a whole replica.
 *
 * Usage: opt_cluster_compare [seeds] (default 5). Prints one row per
 * scenario and method (means over the seeds; the worst seed's coverage in
 * brackets) and each method's W for seed 1. Exit 1 when brix's units differ
 * from opt_core's (both solves optimal). */
#define _POSIX_C_SOURCE 200809L
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_rand.h"
#include "opt/opt_bucket.h"
#include "opt/opt_core.h"
#include "opt/opt_ilp.h"
#include "opt/opt_profile.h"

#define NT 3
#define NWIN 24
#define T0 1000
#define NOW (T0 + NWIN * 10)
#define MAXPTS 4096

typedef struct gpu_model {
    const char *name;
    double cost;     /* $ per replica-hour (illustrative) */
    double prefill;  /* input tokens per second */
    double tpot;     /* seconds per output token at full batch */
    double kv;       /* tokens of KV cache */
    double maxbatch; /* requests in flight at most */
} gpu_model;

/* A cheap type good at short requests, a middle one, a fast expensive one. */
static const gpu_model GPUS[NT] = {
    {"l4", 0.80, 4000, 0.025, 40000, 64},
    {"a100", 3.70, 20000, 0.025, 200000, 128},
    {"h100", 7.00, 45000, 0.015, 400000, 256},
};

/* Requests per second one replica serves at this shape (0: does not fit). */
static double true_tput(const gpu_model *g, double in, double out)
{
    double conc = g->kv / (in + out);
    if (conc < 1) return 0;
    if (conc > g->maxbatch) conc = g->maxbatch;
    return conc / (in / g->prefill + out * g->tpot);
}

static opt_profile prof[NT];

static void make_profiles(void)
{
    for (int g = 0; g < NT; g++) {
        opt_profile *p = &prof[g];
        memset(p, 0, sizeof(*p));
        snprintf(p->gpu, sizeof(p->gpu), "%s", GPUS[g].name);
        p->cost = GPUS[g].cost;
        p->nin = 8;  /* 64 .. 8192 */
        p->nout = 8; /* 16 .. 2048 */
        for (int i = 0; i < p->nin; i++)
            p->in_tokens[i] = 64 << i;
        for (int o = 0; o < p->nout; o++)
            p->out_tokens[o] = 16 << o;
        for (int o = 0; o < p->nout; o++)
            for (int i = 0; i < p->nin; i++)
                p->tputs[o][i] = true_tput(&GPUS[g], p->in_tokens[i], p->out_tokens[o]);
    }
}

/* ---- synthetic traces ---- */

typedef struct scenario {
    const char *name;
    double chat0, chat1; /* chats per second at the start and at the end */
    double doc0, doc1;   /* long documents per second */
    double noise;        /* scattered requests per second */
} scenario;

static const scenario SCN[] = {
    {"short chats", 20, 20, 0, 0, 0},
    {"long documents", 0, 0, 3, 3, 0},
    {"mixed", 20, 20, 3, 3, 0},
    {"shifting (chats -> documents)", 20, 0, 0, 3, 0},
    {"mixed + 20% scattered noise", 20, 20, 3, 3, 5.75},
    {"mixed, low rate", 1, 1, 0.2, 0.2, 0},
};
#define NSCN (sizeof(SCN) / sizeof(SCN[0]))

static uint64_t rs;

static double unif(void)
{
    return ((double)(bx_splitmix64(&rs) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}

static int64_t tokens(double log2x)
{
    double x = round(exp2(log2x));
    return x < 1 ? 1 : x > 65536 ? 65536 : (int64_t)x;
}

static void add_req(opt_trace *t, int64_t in, int64_t out)
{
    opt_trace_add(t, (int32_t)opt_bucket_tick(in), (int32_t)opt_bucket_tick(out), 1);
    t->total_reqs++;
}

/* chats: log2 in ~ N(8, 1), log2 out ~ N(7, 1) (256 and 128 tokens);
 * documents: N(12, 0.6), N(8, 0.8) (4096 and 256); noise: uniform over
 * log2 in 5..13.5 and log2 out 3..11.5 */
static void gen(const scenario *s, uint64_t seed, opt_trace *win)
{
    rs = seed;
    double carry[3] = {0, 0, 0};
    for (int w = 0; w < NWIN; w++) {
        opt_trace_init(&win[w], T0 + 10 * w);
        double f = (w + 0.5) / NWIN;
        double rate[3] = {s->chat0 + (s->chat1 - s->chat0) * f, s->doc0 + (s->doc1 - s->doc0) * f,
                          s->noise};
        for (int k = 0; k < 3; k++) {
            carry[k] += rate[k] * 10;
            int n = (int)carry[k];
            carry[k] -= n;
            for (int j = 0; j < n; j++) {
                if (k == 0)
                    add_req(&win[w], tokens(8 + gauss()), tokens(7 + gauss()));
                else if (k == 1)
                    add_req(&win[w], tokens(12 + 0.6 * gauss()), tokens(8 + 0.8 * gauss()));
                else
                    add_req(&win[w], tokens(5 + 8.5 * unif()), tokens(3 + 8.5 * unif()));
            }
        }
    }
}

/* ---- the two load methods: W (load share per grid cell) and R ---- */

#define NCELL 64

typedef struct load {
    double w[NCELL];   /* share of R per cell, out-major */
    double cnt[NCELL]; /* brix: requests per cell, n in all (the load as opt_core computes it) */
    double n;
    double r;       /* rps */
    double dropped; /* fraction of requests left out (aibrix's noise) */
    int nclusters;
} load;

static int cell_of(double in_tokens, double out_tokens)
{
    int ii, oi, cl;
    opt_profile_cell(&prof[0], in_tokens, out_tokens, &ii, &oi, &cl);
    return oi * prof[0].nin + ii;
}

static double newest_rate(const opt_trace *win)
{
    return (double)win[NWIN - 1].total_reqs / 10.0;
}

static void brix_load(const opt_trace *win, load *L)
{
    memset(L, 0, sizeof(*L));
    double n = 0;
    for (int w = 0; w < NWIN; w++)
        for (int c = 0; c < win[w].ncells; c++) {
            const opt_trace_cell *tc = &win[w].cells[c];
            L->cnt[cell_of(opt_bucket_tokens(tc->in_tick), opt_bucket_tokens(tc->out_tick))] +=
                (double)tc->count;
            n += (double)tc->count;
        }
    for (int c = 0; c < NCELL; c++)
        L->w[c] = L->cnt[c] / n;
    L->n = n;
    L->r = fmax(n / (NWIN * 10.0), newest_rate(win));
}

typedef struct pt {
    double x, y, wt; /* log2 in, log2 out, requests */
    int label;       /* -2 unvisited, -1 noise */
    int core;
} pt;

static pt P[MAXPTS];

static int near(const pt *a, const pt *b)
{
    double dx = a->x - b->x, dy = a->y - b->y;
    return dx * dx + dy * dy <= 0.25 + 1e-12; /* eps 0.5 */
}

static void aibrix_load(const opt_trace *win, load *L)
{
    memset(L, 0, sizeof(*L));
    int n = 0;
    double total = 0;
    for (int w = 0; w < NWIN; w++)
        for (int c = 0; c < win[w].ncells; c++) {
            const opt_trace_cell *tc = &win[w].cells[c];
            double x = tc->in_tick / 10.0, y = tc->out_tick / 10.0;
            int k = 0;
            while (k < n && !(P[k].x == x && P[k].y == y))
                k++;
            if (k == n) {
                if (n == MAXPTS) abort();
                P[n++] = (pt){x, y, 0, -2, 0};
            }
            P[k].wt += (double)tc->count;
            total += (double)tc->count;
        }
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++)
            if (near(&P[i], &P[j])) s += P[j].wt;
        P[i].core = s >= 10; /* min_pts 10, the point itself included */
    }
    static int queue[MAXPTS];
    for (int i = 0; i < n; i++) {
        if (P[i].label != -2) continue;
        if (!P[i].core) {
            P[i].label = -1;
            continue;
        }
        int c = L->nclusters++, qh = 0, qt = 0;
        P[i].label = c;
        queue[qt++] = i;
        while (qh < qt) {
            int p = queue[qh++];
            for (int j = 0; j < n; j++)
                if ((P[j].label == -2 || P[j].label == -1) && near(&P[p], &P[j])) {
                    P[j].label = c;
                    if (P[j].core) queue[qt++] = j;
                }
        }
    }
    double span = (double)(win[NWIN - 1].ts - win[0].ts); /* newest - oldest age */
    if (span < 1) span = 1;
    double clustered = 0, rsum = 0;
    for (int c = 0; c < L->nclusters; c++) {
        double sx = 0, sy = 0, sw = 0;
        for (int i = 0; i < n; i++)
            if (P[i].label == c) {
                sx += P[i].x * P[i].wt;
                sy += P[i].y * P[i].wt;
                sw += P[i].wt;
            }
        double rate = sw / span;
        L->w[cell_of(exp2(sx / sw), exp2(sy / sw))] += rate;
        rsum += rate;
        clustered += sw;
    }
    for (int c = 0; c < NCELL && rsum > 0; c++)
        L->w[c] /= rsum;
    L->dropped = 1 - clustered / total;
    L->r = rsum > 0 ? fmax(total / span, newest_rate(win)) : 0; /* no centroid: no solve */
}

/* ---- the ILP on a load, and the coverage of the true load ---- */

typedef struct mix {
    int ok, upg;
    int64_t units[NT];
    double ilp_cost, rep_cost, solve_ms;
} mix;

static void solve(const load *L, mix *M, int upg)
{
    memset(M, 0, sizeof(*M));
    M->upg = upg;
    if (L->r <= 0) return;
    int bc[NCELL], nb = 0;
    double ld[NCELL], tp[NT * NCELL], cost[NT];
    for (int c = 0; c < NCELL; c++)
        if (L->w[c] > 0) {
            bc[nb] = c;
            ld[nb++] = L->n > 0 ? L->r * 1.0 * L->cnt[c] / L->n : L->w[c] * L->r;
        }
    for (int g = 0; g < NT; g++) {
        cost[g] = prof[g].cost;
        for (int b = 0; b < nb; b++)
            tp[g * nb + b] = prof[g].tputs[bc[b] / prof[g].nin][bc[b] % prof[g].nin];
    }
    opt_ilp_in in = {.ntypes = NT,
                     .nbuckets = nb,
                     .cost = cost,
                     .tput = tp,
                     .load = ld,
                     .slices = 4,
                     .units_per_gpu = upg,
                     .time_limit_ms = 1000};
    opt_ilp_out out = {.units = M->units};
    M->ok = opt_ilp_solve(&in, &out) == OPT_ILP_OPTIMAL;
    M->ilp_cost = out.cost;
    M->solve_ms = out.solve_ms;
    for (int g = 0; g < NT; g++)
        M->rep_cost += prof[g].cost * (double)((M->units[g] + upg - 1) / upg);
}

/* The largest fraction of the true load (windows [w0, NWIN)) that capacity
 * cap[g] (replicas, fractional allowed) serves: an LP. */
static double coverage(const opt_trace *win, int w0, const double *cap)
{
    int n = 0;
    static double lin[MAXPTS], lout[MAXPTS], l[MAXPTS];
    double span = (NWIN - w0) * 10.0, total = 0;
    for (int w = w0; w < NWIN; w++)
        for (int c = 0; c < win[w].ncells; c++) {
            const opt_trace_cell *tc = &win[w].cells[c];
            double in = opt_bucket_tokens(tc->in_tick), out = opt_bucket_tokens(tc->out_tick);
            int k = 0;
            while (k < n && !(lin[k] == in && lout[k] == out))
                k++;
            if (k == n) {
                lin[n] = in;
                lout[n] = out;
                l[n++] = 0;
            }
            l[k] += (double)tc->count / span;
            total += (double)tc->count / span;
        }
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MAX);
    glp_add_rows(lp, n + NT);
    for (int k = 0; k < n; k++)
        glp_set_row_bnds(lp, k + 1, GLP_UP, 0, l[k]);
    for (int g = 0; g < NT; g++)
        glp_set_row_bnds(lp, n + g + 1, GLP_UP, 0, cap[g]);
    glp_add_cols(lp, n * NT);
    int *ia = malloc(sizeof(int) * (2 * n * NT + 1)), *ja = malloc(sizeof(int) * (2 * n * NT + 1));
    double *ar = malloc(sizeof(double) * (2 * n * NT + 1));
    int ne = 0;
    for (int k = 0; k < n; k++)
        for (int g = 0; g < NT; g++) {
            int col = k * NT + g + 1;
            double t = true_tput(&GPUS[g], lin[k], lout[k]);
            glp_set_col_bnds(lp, col, t > 0 ? GLP_LO : GLP_FX, 0, 0);
            glp_set_obj_coef(lp, col, 1);
            if (t <= 0) continue;
            ia[++ne] = k + 1, ja[ne] = col, ar[ne] = 1;
            ia[++ne] = n + g + 1, ja[ne] = col, ar[ne] = 1 / t;
        }
    glp_load_matrix(lp, ne, ia, ja, ar);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    double cov = glp_simplex(lp, &parm) == 0 ? glp_get_obj_val(lp) / total : -1;
    glp_delete_prob(lp);
    free(ia);
    free(ja);
    free(ar);
    return cov;
}

/* brix's units from opt_core itself, for the cross-check */
static int core_units(const opt_trace *win, int64_t *units)
{
    static opt_deploy d[NT];
    for (int g = 0; g < NT; g++) {
        memset(&d[g], 0, sizeof(d[g]));
        snprintf(d[g].name, sizeof(d[g].name), "%s", GPUS[g].name);
        snprintf(d[g].ns, sizeof(d[g].ns), "default");
        d[g].has_profile = 1;
        d[g].profile = prof[g];
        d[g].override = -1;
    }
    opt_core_opts o = {.window_s = 240, .scale_down_delay_s = -1};
    opt_model *m = opt_model_new("bench", &o);
    char err[160];
    static opt_result res;
    int rc = -1;
    if (m && !opt_model_set_deployments(m, d, NT, err, sizeof(err))) {
        for (int w = 0; w < NWIN; w++)
            opt_model_add_window(m, &win[w]);
        if (!opt_model_run(m, NOW, &res) && res.status == OPT_ILP_OPTIMAL) {
            for (int g = 0; g < NT; g++)
                units[g] = res.deploys[g].ilp_units;
            rc = 0;
        }
    }
    opt_model_free(m);
    return rc;
}

static void print_w(const char *method, const load *L)
{
    printf("    W %-6s R %.2f rps:", method, L->r);
    for (int c = 0; c < NCELL; c++)
        if (L->w[c] >= 0.005)
            printf(" %gx%g %.2f", prof[0].in_tokens[c % prof[0].nin],
                   prof[0].out_tokens[c / prof[0].nin], L->w[c]);
    printf("\n");
}

typedef struct acc {
    double ilp_cost, rep_cost, cov_u, cov_r, cov_60, dropped, ms, cells;
    double worst_u, worst_r, worst_60;
    double reps[NT];
    int fails;
} acc;

static void fold(acc *a, const load *L, const mix *M, const opt_trace *win)
{
    if (!M->ok) {
        a->fails++;
        return;
    }
    double cu[NT], cr[NT];
    int cells = 0;
    for (int c = 0; c < NCELL; c++)
        cells += L->w[c] > 0;
    for (int g = 0; g < NT; g++) {
        cu[g] = (double)M->units[g] / M->upg;
        cr[g] = (double)((M->units[g] + M->upg - 1) / M->upg);
        a->reps[g] += cr[g];
    }
    double u = coverage(win, 0, cu), r = coverage(win, 0, cr), r60 = coverage(win, NWIN - 6, cr);
    a->ilp_cost += M->ilp_cost;
    a->rep_cost += M->rep_cost;
    a->cov_u += u;
    a->cov_r += r;
    a->cov_60 += r60;
    a->dropped += L->dropped;
    a->ms += M->solve_ms;
    a->cells += cells;
    if (a->worst_u == 0 || u < a->worst_u) a->worst_u = u;
    if (a->worst_r == 0 || r < a->worst_r) a->worst_r = r;
    if (a->worst_60 == 0 || r60 < a->worst_60) a->worst_60 = r60;
}

static void row(const char *method, const acc *a, int seeds)
{
    int n = seeds - a->fails;
    if (n <= 0) {
        printf("  %-6s  no result (%d of %d seeds: no cluster or no optimum)\n", method, a->fails,
               seeds);
        return;
    }
    printf("  %-6s %5.1f %6.1f%% %8.2f %8.2f  %4.1f/%4.1f/%4.1f  %5.1f%% (%5.1f) %5.1f%% (%5.1f) "
           "%5.1f%% (%5.1f) %6.2f",
           method, a->cells / n, 100 * a->dropped / n, a->ilp_cost / n, a->rep_cost / n,
           a->reps[0] / n, a->reps[1] / n, a->reps[2] / n, 100 * a->cov_u / n, 100 * a->worst_u,
           100 * a->cov_r / n, 100 * a->worst_r, 100 * a->cov_60 / n, 100 * a->worst_60, a->ms / n);
    if (a->fails) printf("  [%d seeds without a result]", a->fails);
    printf("\n");
}

int main(int argc, char **argv)
{
    int seeds = argc > 1 ? atoi(argv[1]) : 5;
    if (seeds < 1) seeds = 1;
    make_profiles();
    static opt_trace win[NWIN];
    int bad = 0;
    printf("GPU types (illustrative): ");
    for (int g = 0; g < NT; g++)
        printf("%s $%.2f/h%s", GPUS[g].name, GPUS[g].cost, g + 1 < NT ? ", " : "\n");
    printf("grid: in 64..8192, out 16..2048 (powers of two); 240 s of 10 s windows; %d seeds\n",
           seeds);
    printf("  method cells  noise   ILP $/h  repl $/h  replicas %s/%s/%s  coverage(units)  "
           "coverage(repl)   last 60 s(repl)  ms\n",
           GPUS[0].name, GPUS[1].name, GPUS[2].name);
    for (size_t s = 0; s < NSCN; s++) {
        printf("%s\n", SCN[s].name);
        acc ab = {0}, bb = {0}, b1 = {0};
        for (int k = 0; k < seeds; k++) {
            gen(&SCN[s], 0x5eed0000u + (uint64_t)k * 7919, win);
            load La, Lb;
            mix Ma, Mb, M1;
            aibrix_load(win, &La);
            brix_load(win, &Lb);
            solve(&La, &Ma, 100);
            solve(&Lb, &Mb, 100);
            solve(&Lb, &M1, 1);
            int64_t cu[NT];
            if (Mb.ok && !core_units(win, cu) && memcmp(cu, Mb.units, sizeof(cu))) {
                fprintf(stderr, "%s seed %d: opt_core's units differ from the bench's\n",
                        SCN[s].name, k);
                bad = 1;
            }
            fold(&ab, &La, &Ma, win);
            fold(&bb, &Lb, &Mb, win);
            fold(&b1, &Lb, &M1, win);
            if (k == 0) {
                print_w("aibrix", &La);
                print_w("brix", &Lb);
            }
        }
        row("aibrix", &ab, seeds);
        row("brix", &bb, seeds);
        row("brix/1", &b1, seeds);
    }
    return bad;
}
