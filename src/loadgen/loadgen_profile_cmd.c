/* loadgen_profile_cmd: `brix bench profile`, the command around the pure
 * part in loadgen_profile.c. For every (input, output) cell of the grid and
 * every rate, ascending, it sends --num-prompts streamed completions of that
 * shape at that Poisson rate with the open-loop runner (loadgen_run), turns
 * the results into AIBrix's benchmark rows (appended to --results and
 * flushed after each measurement, so an interrupted sweep resumes where it
 * stopped), then applies AIBrix's rule to write the GPU profile.
 *
 * Arrivals: a Poisson process of the rate, its times rescaled so that the
 * n-th of the n requests arrives at exactly n / rate (see lp_measure).
 * Prompts: --input-lens words of one token each, fresh text for every
 * measurement (no prefix-cache hit shortens a prefill; AIBrix's benchmark
 * sends "hi " x n every time).
 *
 * Deviation from AIBrix's benchmark.sh, which runs every rate: once a rate
 * of a cell misses the SLO or falls behind (TPUT < 0.9 x rate), the higher
 * rates of that cell are skipped (--full-sweep runs them). The rule only
 * ever picks a rate that meets the SLO and keeps up, or the smallest one
 * meeting the SLO, so this changes the profile only where a higher rate
 * would meet the SLO again after a lower one missed it (noise).
 *
 * --time-scale S, for `brix engine --time-scale S`: arrivals at rate x S per
 * wall second, latencies x S and throughputs / S, so rows and profile are in
 * simulated time.
 *
 * A measurement in which no request succeeded is not recorded: the sweep
 * stops with an error (an unreachable server must not leave zeros that a
 * resumed run would trust). */
#include "loadgen/loadgen_profile.h"

#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bx_buf.h"
#include "common/bx_flags.h"
#include "common/bx_log.h"
#include "loadgen/loadgen.h"
#include "loadgen/loadgen_config.h"
#include "loadgen/loadgen_run.h"

#define PROG "brix bench profile"
#define LP_MAX_RATES 32
#define LP_RESULTS_MAX_BYTES (256L * 1024 * 1024)

typedef struct lp_config {
    loadgen_config run; /* url, model, api key, headers, timeout, seed, progress */
    int ins[OPT_PROFILE_GRID_MAX], nin;
    int outs[OPT_PROFILE_GRID_MAX], nout;
    double rates[LP_MAX_RATES];
    int nrates;
    long num_prompts;
    const char *results, *from_results, *profile_out, *gpu;
    double cost, time_scale;
    opt_slo slo;
    int full_sweep;
} lp_config;

enum { F_INS = BX_FLAG_CUSTOM, F_OUTS, F_RATES, F_PERCENTILE, F_HEADER, F_SCALE };

#define OFF(f) offsetof(lp_config, f)
#define ROFF(f) (offsetof(lp_config, run) + offsetof(loadgen_config, f))
#define SOFF(f) (offsetof(lp_config, slo) + offsetof(opt_slo, f))

static const bx_flag lp_flags[] = {
    {"--url URL", BX_FLAG_STR_NONEMPTY, ROFF(url),
     "engine or gateway base URL (default http://127.0.0.1:8000)"},
    {"--model NAME", BX_FLAG_STR_NONEMPTY, ROFF(model),
     "model sent in each request (default: the first of GET /v1/models; with --from-results: "
     "the rows')"},
    {"--api-key KEY", BX_FLAG_STR_NONEMPTY, ROFF(api_key), "send Authorization: Bearer KEY"},
    {"--header K:V", F_HEADER, ROFF(headers), "extra request header (repeatable)"},
    {"--timeout S", BX_FLAG_DBL_NONNEG, ROFF(timeout_s),
     "per-request timeout in wall seconds, 0 = none (default 600)"},
    {"--input-lens N,N,...", F_INS, OFF(ins), "prompt tokens of the grid (default 128,512,2048)"},
    {"--output-lens N,N,...", F_OUTS, OFF(outs),
     "output tokens (max_tokens) of the grid (default 32,128,512)"},
    {"--rates R,R,...", F_RATES, OFF(rates),
     "request rates per second, swept in ascending order (default 1,2,4,8,16,32,64)"},
    {"--num-prompts N", BX_FLAG_LONG, OFF(num_prompts),
     "requests per (input, output, rate) (default 100)"},
    {"--seed N", BX_FLAG_U64, ROFF(wl.seed), "seed of arrivals and prompt text (default 0)"},
    {"--full-sweep", BX_FLAG_ON, OFF(full_sweep),
     "measure every rate (default: skip a cell's higher rates once one misses the SLO or "
     "falls behind)"},
    {"--time-scale S", F_SCALE, OFF(time_scale),
     "the engine's --time-scale: send at rate x S per wall second, report latencies x S "
     "(default 1)"},
    {"--results FILE.jsonl", BX_FLAG_STR_NONEMPTY, OFF(results),
     "benchmark rows, AIBrix's JSONL; rows already there are not measured again"},
    {"--from-results FILE.jsonl", BX_FLAG_STR_NONEMPTY, OFF(from_results),
     "measure nothing: generate the profile from these rows"},
    {"--gpu NAME", BX_FLAG_STR_NONEMPTY, OFF(gpu),
     "the profile's \"gpu\": the Deployment serving this GPU type (required)"},
    {"--cost C", BX_FLAG_DBL_NONNEG, OFF(cost), "$ per replica-hour (default 1)"},
    {"--slo-e2e S", BX_FLAG_DBL_NONNEG, SOFF(e2e), "E2E latency SLO, seconds (0 = none)"},
    {"--slo-ttft S", BX_FLAG_DBL_NONNEG, SOFF(ttft), "time to first token SLO, seconds"},
    {"--slo-tpot S", BX_FLAG_DBL_NONNEG, SOFF(tpot), "time per output token SLO, seconds"},
    {"--slo-tpat S", BX_FLAG_DBL_NONNEG, SOFF(tpat),
     "time per token SLO, E2E / (input + output), seconds"},
    {"--slo-tput R", BX_FLAG_DBL_NONNEG, SOFF(tput), "lower bound on requests per second"},
    {"--slo-tt T", BX_FLAG_DBL_NONNEG, SOFF(tt), "lower bound on output tokens per second"},
    {"--percentile 0|50|90|99", F_PERCENTILE, SOFF(percentile),
     "statistic the latency SLOs apply to; 0 = mean (default 0)"},
    {"--profile-out FILE", BX_FLAG_STR_NONEMPTY, OFF(profile_out),
     "write the profile JSON there (default: stdout)"},
    {"--no-progress", BX_FLAG_OFF, ROFF(progress),
     "no progress bar (it is shown only when stderr is a terminal)"},
};
#define LP_NFLAGS (sizeof(lp_flags) / sizeof(lp_flags[0]))

static void lp_default(lp_config *c)
{
    memset(c, 0, sizeof(*c));
    loadgen_config_default(&c->run);
    c->run.chat = 0; /* /v1/completions: the prompt is exactly input-len tokens */
    c->run.stream = 1;
    static const int ins[] = {128, 512, 2048}, outs[] = {32, 128, 512};
    c->nin = c->nout = 3;
    memcpy(c->ins, ins, sizeof(ins));
    memcpy(c->outs, outs, sizeof(outs));
    for (c->nrates = 0; c->nrates < 7; c->nrates++)
        c->rates[c->nrates] = (double)(1 << c->nrates);
    c->num_prompts = 100;
    c->cost = 1;
    c->time_scale = 1;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A comma list of positive numbers (whole ones when whole), sorted, no
 * duplicates, at most max of them, into d. Returns the count or -1. */
static int parse_list(const char *v, double *d, int max, int whole)
{
    int n = 0;
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (errno || end == p || !isfinite(x) || !(x > 0) || n == max) return -1;
        if (whole && (x != floor(x) || x > 1000000)) return -1;
        d[n++] = x;
        if (*end == '\0') break;
        if (*end != ',') return -1;
        p = end + 1;
    }
    qsort(d, (size_t)n, sizeof(*d), cmp_dbl);
    for (int i = 1; i < n; i++)
        if (d[i] == d[i - 1]) return -1;
    return n;
}

static int lp_set(void *cfg, const bx_flag *fl, const char *v, FILE *err)
{
    lp_config *c = cfg;
    double d[LP_MAX_RATES];
    int n;
    switch (fl->kind) {
    case F_INS:
    case F_OUTS:
        if ((n = parse_list(v, d, OPT_PROFILE_GRID_MAX, 1)) < 0) return BX_FLAG_BAD;
        for (int i = 0; i < n; i++)
            (fl->kind == F_INS ? c->ins : c->outs)[i] = (int)d[i];
        *(fl->kind == F_INS ? &c->nin : &c->nout) = n;
        return 0;
    case F_RATES:
        if ((n = parse_list(v, c->rates, LP_MAX_RATES, 0)) < 0) return BX_FLAG_BAD;
        c->nrates = n;
        return 0;
    case F_PERCENTILE:
        if (!strcmp(v, "0") || !strcmp(v, "50") || !strcmp(v, "90") || !strcmp(v, "99")) {
            c->slo.percentile = atoi(v);
            return 0;
        }
        return BX_FLAG_BAD;
    case F_HEADER:
        return loadgen_config_add_header(&c->run, v, PROG, err);
    case F_SCALE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x) || !(x > 0)) return BX_FLAG_BAD;
        c->time_scale = x;
        return 0;
    }
    }
    return BX_FLAG_BAD;
}

static void lp_help_tail(FILE *f)
{
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
    fprintf(f, "\nRows: {input_tokens, output_tokens, request_rate, seed, model, samples, metric,\n"
               "mean, P50, P90, P99}, metric TPUT (req/s), TT (tokens/s), E2E, TTFT, TPOT (s).\n"
               "Profile: AIBrix's rule; for each cell, among the rates meeting every SLO, the\n"
               "largest whose TPUT >= 0.9 x rate (else the smallest); tputs = its TPUT, 0 when\n"
               "no rate meets the SLO. See docs/bench.md and docs/hetero.md.\n");
}

static const bx_flags_spec lp_spec = {
    .flags = lp_flags,
    .nflags = LP_NFLAGS,
    .prog = PROG,
    .help_hint = PROG " --help",
    .int_max = 1000000000L,
    .usage = "usage: brix bench profile --gpu NAME [options]\n\n"
             "AIBrix's GPU profiling in one command: for every input x output length and\n"
             "every rate, send --num-prompts streamed completions at that Poisson rate,\n"
             "record AIBrix's benchmark rows (--results, resumable), then write the GPU\n"
             "profile (AIBrix's GPUProfile JSON) of the highest rate meeting the SLO.\n\n"
             "options:\n",
    .name_width = 28,
    .wrap = 49,
    .help_tail = lp_help_tail,
    .set = lp_set,
};

static int lp_given(const unsigned char *seen, size_t off)
{
    for (size_t i = 0; i < LP_NFLAGS; i++)
        if (seen[i] && lp_flags[i].off == off) return 1;
    return 0;
}

static int lp_parse(lp_config *c, int argc, char **argv)
{
    unsigned char seen[LP_NFLAGS] = {0};
    int rc = bx_flags_parse(&lp_spec, c, argc, argv, seen, stdout, stderr);
    if (rc != 0) return rc < 0 ? 2 : 1;
    if (!c->gpu) {
        fprintf(stderr, PROG ": --gpu NAME is required (the Deployment of this GPU type)\n");
        return 2;
    }
    if (c->num_prompts < 1) {
        fprintf(stderr, PROG ": --num-prompts must be positive\n");
        return 2;
    }
    if (c->from_results) {
        static const size_t measuring[] = {ROFF(url),    OFF(ins),         OFF(outs),
                                           OFF(rates),   OFF(num_prompts), OFF(full_sweep),
                                           OFF(results), OFF(time_scale)};
        for (size_t i = 0; i < sizeof(measuring) / sizeof(measuring[0]); i++)
            if (lp_given(seen, measuring[i])) {
                fprintf(stderr,
                        PROG ": --from-results measures nothing; drop --url, --input-lens, "
                             "--output-lens, --rates, --num-prompts, --full-sweep, --results "
                             "and --time-scale\n");
                return 2;
            }
    } else if (strncmp(c->run.url, "http://", 7) != 0 && strncmp(c->run.url, "https://", 8) != 0) {
        fprintf(stderr, PROG ": --url must start with http:// or https://\n");
        return 2;
    }
    return 0;
}

/* ---------------- measuring ---------------- */

typedef struct lp_sweep {
    lp_config *cfg;
    loadgen_prof_set set;
    FILE *results;
    int total, index; /* runs of the grid, the current one (1-based) */
    int reused, measured, skipped;
    char model[512];
    int have_model;
    uint64_t nonce; /* of this process: prompt text never repeats across runs */
} lp_sweep;

/* Measures one (in, out, rate) into *p. Returns 0, -1 on a failure that
 * stops the sweep (nothing recorded). */
static int lp_measure(lp_sweep *s, int in, int out, double rate, loadgen_prof_point *p)
{
    lp_config *c = s->cfg;
    loadgen_config rc = c->run;
    rc.model = s->model;
    rc.wl.kind = LOADGEN_WL_RANDOM;
    rc.wl.len_dist = LOADGEN_LEN_FIXED;
    rc.wl.rate = rate * c->time_scale;
    rc.wl.num_requests = c->num_prompts;
    rc.wl.duration = 0;
    rc.wl.input_len = in;
    rc.wl.output_len = out;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "[%d/%d] in %d out %d rate %g/s ", s->index, s->total, in, out,
             rate);
    rc.progress_prefix = prefix;
    loadgen_plan plan;
    char err[512];
    if (loadgen_plan_build(&plan, &rc.wl, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return -1;
    }
    /* The n-th arrival at exactly n / rate (the Poisson times rescaled):
     * otherwise the seed's draw of the arrival span alone moves TPUT by
     * +-10 % at 100 prompts, the width of AIBrix's 0.9 tolerance, and the
     * same seed biases every cell the same way. */
    double last = plan.n ? plan.items[plan.n - 1].at : 0;
    for (size_t i = 0; last > 0 && i < plan.n; i++)
        plan.items[i].at *= (double)plan.n / rc.wl.rate / last;
    /* Fresh prompt text for every measurement (the seed's text mixed with a
     * nonce of this process and the point): the same seed would send the
     * same prompts at every rate, and the server's prefix cache would
     * answer the prefills of every run after the first. */
    uint64_t rbits;
    memcpy(&rbits, &rate, sizeof(rbits));
    uint64_t key = loadgen_mix(loadgen_mix(s->nonce, (uint64_t)in << 32 | (uint32_t)out), rbits);
    for (size_t i = 0; i < plan.n; i++)
        plan.items[i].seed = loadgen_mix(plan.items[i].seed, key);
    loadgen_result *res = NULL;
    size_t nres = 0;
    double dur = 0;
    int ret = -1;
    if (loadgen_run_exec(&rc, &plan, NULL, &res, &nres, &dur) != 0 || !res) {
        fprintf(stderr, PROG ": the run could not be set up\n");
        goto out;
    }
    size_t ok = 0, interrupted = 0;
    const char *why = NULL;
    for (size_t i = 0; i < nres; i++) {
        ok += res[i].ok;
        if (!res[i].ok && res[i].error && !strcmp(res[i].error, "interrupted")) interrupted++;
        if (!res[i].ok && !why) why = res[i].error;
    }
    if (interrupted || nres < plan.n) {
        fprintf(stderr, PROG ": interrupted; this measurement is not recorded\n");
        goto out;
    }
    if (!ok) {
        fprintf(stderr, PROG ": in %d out %d rate %g: every request failed (%s); stopping\n", in,
                out, rate, why ? why : "?");
        goto out;
    }
    if (ok < nres)
        fprintf(stderr, PROG ": in %d out %d rate %g: %zu of %zu requests failed (%s)\n", in, out,
                rate, nres - ok, nres, why ? why : "?");
    memset(p, 0, sizeof(*p));
    p->in = in;
    p->out = out;
    p->rate = rate;
    p->samples = (long)nres;
    p->seed = c->run.wl.seed;
    if (loadgen_prof_measure(p, res, nres, dur, c->time_scale) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    ret = 0;
out:
    for (size_t i = 0; i < nres; i++)
        loadgen_result_free(&res[i]);
    free(res);
    loadgen_plan_free(&plan);
    return ret;
}

static void lp_report(const lp_sweep *s, const loadgen_prof_point *p, const char *how,
                      const char *verdict)
{
    const loadgen_prof_stat *m = p->m;
    fprintf(stderr,
            "[%d/%d] in %d out %d rate %g/s%s: TPUT %.3g req/s, E2E %.3g s (p99 %.3g), TTFT %.3g "
            "s, TPOT %.3g s: %s\n",
            s->index, s->total, p->in, p->out, p->rate, how, m[LOADGEN_PM_TPUT].mean,
            m[LOADGEN_PM_E2E].mean, m[LOADGEN_PM_E2E].p99, m[LOADGEN_PM_TTFT].mean,
            m[LOADGEN_PM_TPOT].mean, verdict);
}

static int lp_ensure_model(lp_sweep *s)
{
    if (s->have_model) return 0;
    if (s->cfg->run.model) {
        snprintf(s->model, sizeof(s->model), "%s", s->cfg->run.model);
    } else if (loadgen_discover_model(&s->cfg->run, PROG, s->model, sizeof(s->model)) != 0) {
        return -1;
    }
    s->have_model = 1;
    return 0;
}

/* Sweeps one cell's rates in ascending order. Returns 0 or -1 (stop). */
static int lp_cell(lp_sweep *s, int in, int out)
{
    lp_config *c = s->cfg;
    for (int k = 0; k < c->nrates; k++) {
        s->index++;
        loadgen_prof_point *have = loadgen_prof_set_find(&s->set, in, out, c->rates[k]);
        loadgen_prof_point p;
        const char *how = "";
        if (have && loadgen_prof_point_done(have)) {
            p = *have;
            how = " (in the results already, not measured again)";
            s->reused++;
        } else {
            if (lp_ensure_model(s) != 0 || lp_measure(s, in, out, c->rates[k], &p) != 0) return -1;
            if (s->results && loadgen_prof_write_rows(s->results, &p, s->model) != 0) {
                fprintf(stderr, PROG ": cannot write %s: %s\n", c->results, strerror(errno));
                return -1;
            }
            if (loadgen_prof_set_put(&s->set, &p) != 0) {
                fprintf(stderr, PROG ": out of memory\n");
                return -1;
            }
            s->measured++;
        }
        int meets = loadgen_prof_meets(&p, &c->slo), up = loadgen_prof_keeps_up(&p);
        int last = k + 1 == c->nrates;
        const char *verdict = meets && up ? "meets the SLO, keeps up"
                              : !meets    ? "misses the SLO"
                                          : "falls behind (TPUT < 0.9 x rate)";
        if (!(meets && up) && !c->full_sweep && !last) {
            char v[160];
            snprintf(v, sizeof(v), "%s; the %d higher rates are skipped", verdict,
                     c->nrates - k - 1);
            lp_report(s, &p, how, v);
            s->skipped += c->nrates - k - 1;
            s->index += c->nrates - k - 1;
            return 0;
        }
        lp_report(s, &p, how, verdict);
    }
    return 0;
}

/* ---------------- the profile ---------------- */

static void lp_print_table(const opt_profile *p)
{
    fprintf(stderr, "tputs (req/s within the SLO; rows: output tokens, columns: input tokens)\n");
    fprintf(stderr, "%8s", "out\\in");
    for (int j = 0; j < p->nin; j++)
        fprintf(stderr, " %9g", p->in_tokens[j]);
    fputc('\n', stderr);
    for (int i = 0; i < p->nout; i++) {
        fprintf(stderr, "%8g", p->out_tokens[i]);
        for (int j = 0; j < p->nin; j++)
            fprintf(stderr, " %9.3f", p->tputs[i][j]);
        fputc('\n', stderr);
    }
}

static int lp_write_profile(const lp_config *c, const loadgen_prof_set *set, const char *model)
{
    static opt_profile prof;
    memset(&prof, 0, sizeof(prof));
    snprintf(prof.gpu, sizeof(prof.gpu), "%s", c->gpu);
    snprintf(prof.model, sizeof(prof.model), "%s", model ? model : "");
    prof.cost = c->cost;
    prof.created = (int64_t)time(NULL);
    char err[256];
    int nempty = 0;
    if (loadgen_prof_generate(set, &c->slo, &prof, &nempty, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": cannot generate the profile: %s\n", err);
        return 1;
    }
    if (nempty)
        fprintf(stderr, PROG ": %d cells of the grid have no measurement: tput 0 there\n", nempty);
    char *json = opt_profile_to_json(&prof);
    if (!json) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int rc = 0;
    if (c->profile_out) {
        FILE *f = fopen(c->profile_out, "w");
        if (!f || fprintf(f, "%s\n", json) < 0) rc = 1;
        if (f && fclose(f) != 0) rc = 1;
        if (rc)
            fprintf(stderr, PROG ": cannot write %s: %s\n", c->profile_out, strerror(errno));
        else
            fprintf(stderr, PROG ": profile of %s written to %s\n", c->gpu, c->profile_out);
    } else if (printf("%s\n", json) < 0 || fflush(stdout) != 0) {
        rc = 1;
    }
    free(json);
    if (!rc) lp_print_table(&prof);
    return rc;
}

/* Reads a rows file into set; a missing file is empty when may_miss. */
static int lp_read_rows(const char *path, int may_miss, loadgen_prof_set *set)
{
    bx_buf text;
    bx_buf_init(&text);
    char err[512];
    if (may_miss && access(path, F_OK) != 0 && errno == ENOENT) return 0;
    if (loadgen_read_file(path, LP_RESULTS_MAX_BYTES, &text, err, sizeof(err)) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        bx_buf_free(&text);
        return -1;
    }
    size_t nbad = 0;
    int rc = loadgen_prof_set_read(set, text.data ? text.data : "", text.len, stderr, path, &nbad);
    bx_buf_free(&text);
    if (rc != 0) fprintf(stderr, PROG ": out of memory\n");
    return rc;
}

static int lp_from_results(lp_config *c)
{
    loadgen_prof_set set;
    loadgen_prof_set_init(&set);
    int rc = 1;
    if (lp_read_rows(c->from_results, 0, &set) == 0)
        rc = lp_write_profile(c, &set, c->run.model ? c->run.model : set.model);
    loadgen_prof_set_free(&set);
    return rc;
}

/* The measurements of the grid asked for (a results file may hold more). */
static int lp_grid_subset(const lp_config *c, const loadgen_prof_set *all, loadgen_prof_set *sub)
{
    for (size_t i = 0; i < all->n; i++) {
        const loadgen_prof_point *p = &all->pts[i];
        int in = 0, out = 0, rate = 0;
        for (int k = 0; k < c->nin; k++)
            in |= c->ins[k] == p->in;
        for (int k = 0; k < c->nout; k++)
            out |= c->outs[k] == p->out;
        for (int k = 0; k < c->nrates; k++)
            rate |= c->rates[k] == p->rate;
        if (in && out && rate && loadgen_prof_set_put(sub, p) != 0) return -1;
    }
    return 0;
}

static int lp_sweep_run(lp_config *c)
{
    lp_sweep s;
    memset(&s, 0, sizeof(s));
    s.cfg = c;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s.nonce =
        loadgen_mix((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, (uint64_t)getpid());
    loadgen_prof_set_init(&s.set);
    loadgen_prof_set sub;
    loadgen_prof_set_init(&sub);
    int rc = 1;
    if (c->results) {
        if (lp_read_rows(c->results, 1, &s.set) != 0) goto out;
        size_t done = 0;
        for (size_t i = 0; i < s.set.n; i++)
            done += loadgen_prof_point_done(&s.set.pts[i]);
        if (done)
            fprintf(stderr, PROG ": %s holds %zu measurements; those are not measured again\n",
                    c->results, done);
        if (!(s.results = fopen(c->results, "a"))) {
            fprintf(stderr, PROG ": cannot write %s: %s\n", c->results, strerror(errno));
            goto out;
        }
    }
    s.total = c->nin * c->nout * c->nrates;
    for (int i = 0; i < c->nin; i++)
        for (int o = 0; o < c->nout; o++)
            if (lp_cell(&s, c->ins[i], c->outs[o]) != 0) goto out;
    fprintf(stderr,
            PROG ": %d measured, %d already in the results (not measured again), %d skipped "
                 "(past a rate that missed the SLO or fell behind)\n",
            s.measured, s.reused, s.skipped);
    if (lp_grid_subset(c, &s.set, &sub) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    const char *model = s.have_model ? s.model : c->run.model ? c->run.model : s.set.model;
    rc = lp_write_profile(c, &sub, model);
out:
    if (s.results && fclose(s.results) != 0) {
        fprintf(stderr, PROG ": cannot write %s\n", c->results);
        rc = 1;
    }
    loadgen_prof_set_free(&sub);
    loadgen_prof_set_free(&s.set);
    return rc;
}

int loadgen_profile_main(int argc, char **argv)
{
    static lp_config cfg;
    lp_default(&cfg);
    int prc = lp_parse(&cfg, argc, argv);
    if (prc != 0) {
        loadgen_config_free(&cfg.run);
        return prc == 1 ? 0 : 2;
    }
    bx_log_init("bench", BX_LOG_INFO);
    signal(SIGPIPE, SIG_IGN);
    int rc;
    if (cfg.from_results) {
        rc = lp_from_results(&cfg);
    } else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROG ": curl_global_init failed\n");
        rc = 1;
    } else {
        rc = lp_sweep_run(&cfg);
        curl_global_cleanup();
    }
    loadgen_config_free(&cfg.run);
    return rc;
}
