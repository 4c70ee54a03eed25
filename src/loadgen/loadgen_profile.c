/* loadgen_profile: see loadgen_profile.h. Benchmark rows, the set of
 * measurements they describe, and AIBrix's rule from measurements to a
 * GPU profile. No I/O besides writing rows to a caller's FILE. */
#include "loadgen/loadgen_profile.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOADGEN_PROF_ROW_MAX 65536

static const char *const pm_names[LOADGEN_PM_N] = {"TPUT", "TT", "E2E", "TTFT", "TPOT"};

const char *loadgen_prof_metric_name(int m)
{
    return m >= 0 && m < LOADGEN_PM_N ? pm_names[m] : "?";
}

/* ---------------- rows ---------------- */

static int pr_num(const json_t *o, const char *key, double *out)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        *out = (double)json_integer_value(v);
    else if (json_is_real(v))
        *out = json_real_value(v);
    else
        return v && !json_is_null(v) ? -1 : 0;
    return isfinite(*out) ? 1 : -1;
}

/* A whole positive token count. */
static int pr_tokens(const json_t *o, const char *key, int *out, char *err, size_t errlen)
{
    double d = 0;
    if (pr_num(o, key, &d) != 1 || d < 1 || d > 1e7 || d != floor(d)) {
        snprintf(err, errlen, "%s: must be a positive whole number of tokens", key);
        return -1;
    }
    *out = (int)d;
    return 0;
}

int loadgen_prof_row_parse(const char *line, size_t len, loadgen_prof_row *row, char *err,
                           size_t errlen)
{
    memset(row, 0, sizeof(*row));
    row->samples = -1;
    row->metric = -1;
    if (len > LOADGEN_PROF_ROW_MAX) {
        snprintf(err, errlen, "row longer than %d bytes", LOADGEN_PROF_ROW_MAX);
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, errlen, "invalid JSON: %s", je.text);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(o)) {
        snprintf(err, errlen, "a row must be a JSON object");
        goto done;
    }
    if (pr_tokens(o, "input_tokens", &row->in, err, errlen) ||
        pr_tokens(o, "output_tokens", &row->out, err, errlen))
        goto done;
    if (pr_num(o, "request_rate", &row->rate) != 1 || !(row->rate > 0)) {
        snprintf(err, errlen, "request_rate: must be a positive number");
        goto done;
    }
    const json_t *m = json_object_get(o, "metric");
    if (!json_is_string(m)) {
        snprintf(err, errlen, "metric: must be a string");
        goto done;
    }
    for (int i = 0; i < LOADGEN_PM_N; i++)
        if (!strcmp(json_string_value(m), pm_names[i])) row->metric = i;
    loadgen_prof_stat *st = &row->stat;
    /* Every metric is a rate or a duration: a negative one would end up in
     * a profile that opt_profile_parse refuses. */
    if (pr_num(o, "mean", &st->mean) != 1 || st->mean < 0) {
        snprintf(err, errlen, "mean: must be a non-negative number");
        goto done;
    }
    st->has = 1;
    int n50 = pr_num(o, "P50", &st->p50), n90 = pr_num(o, "P90", &st->p90),
        n99 = pr_num(o, "P99", &st->p99);
    if (n50 == 1 && st->p50 < 0) n50 = -1;
    if (n90 == 1 && st->p90 < 0) n90 = -1;
    if (n99 == 1 && st->p99 < 0) n99 = -1;
    if (n50 < 0 || n90 < 0 || n99 < 0) {
        snprintf(err, errlen, "%s: must be a non-negative number",
                 n50 < 0   ? "P50"
                 : n90 < 0 ? "P90"
                           : "P99");
        goto done;
    }
    st->has_pct = n50 == 1 && n90 == 1 && n99 == 1;
    double d;
    int k = pr_num(o, "samples", &d);
    if (k < 0 || (k == 1 && (d < 0 || d > 1e12))) {
        snprintf(err, errlen, "samples: must be a non-negative number");
        goto done;
    }
    if (k == 1) row->samples = (long)d;
    const json_t *v = json_object_get(o, "seed");
    if (json_is_integer(v)) row->seed = (uint64_t)json_integer_value(v);
    v = json_object_get(o, "model");
    if (json_is_string(v) && json_string_length(v) < sizeof(row->model))
        memcpy(row->model, json_string_value(v), json_string_length(v) + 1);
    rc = 0;
done:
    json_decref(o);
    return rc;
}

/* ---------------- the set ---------------- */

void loadgen_prof_set_init(loadgen_prof_set *s)
{
    memset(s, 0, sizeof(*s));
}

void loadgen_prof_set_free(loadgen_prof_set *s)
{
    free(s->pts);
    loadgen_prof_set_init(s);
}

loadgen_prof_point *loadgen_prof_set_find(const loadgen_prof_set *s, int in, int out, double rate)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->pts[i].in == in && s->pts[i].out == out && s->pts[i].rate == rate) return &s->pts[i];
    return NULL;
}

static loadgen_prof_point *ps_get(loadgen_prof_set *s, int in, int out, double rate)
{
    loadgen_prof_point *p = loadgen_prof_set_find(s, in, out, rate);
    if (p) return p;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        loadgen_prof_point *np = realloc(s->pts, nc * sizeof(*np));
        if (!np) return NULL;
        s->pts = np;
        s->cap = nc;
    }
    p = &s->pts[s->n++];
    memset(p, 0, sizeof(*p));
    p->in = in;
    p->out = out;
    p->rate = rate;
    p->samples = -1;
    return p;
}

int loadgen_prof_set_add_row(loadgen_prof_set *s, const loadgen_prof_row *row)
{
    if (row->metric < 0) return 0;
    loadgen_prof_point *p = ps_get(s, row->in, row->out, row->rate);
    if (!p) return -1;
    p->m[row->metric] = row->stat;
    if (row->samples >= 0) p->samples = row->samples;
    p->seed = row->seed;
    if (!s->model[0] && row->model[0]) memcpy(s->model, row->model, sizeof(s->model));
    return 0;
}

int loadgen_prof_set_put(loadgen_prof_set *s, const loadgen_prof_point *p)
{
    loadgen_prof_point *d = ps_get(s, p->in, p->out, p->rate);
    if (!d) return -1;
    *d = *p;
    return 0;
}

int loadgen_prof_set_read(loadgen_prof_set *s, const char *text, size_t len, FILE *warn,
                          const char *name, size_t *nbad)
{
    size_t lineno = 0, pos = 0;
    if (nbad) *nbad = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        const char *l = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        size_t k = 0;
        while (k < n && (l[k] == ' ' || l[k] == '\t' || l[k] == '\r'))
            k++;
        if (k == n) continue;
        loadgen_prof_row row;
        char err[256];
        if (loadgen_prof_row_parse(l, n, &row, err, sizeof(err)) != 0) {
            if (warn) fprintf(warn, "%s:%zu: %s; line skipped\n", name, lineno, err);
            if (nbad) (*nbad)++;
            continue;
        }
        if (loadgen_prof_set_add_row(s, &row) != 0) return -1;
    }
    return 0;
}

/* ---------------- the rule ---------------- */

int loadgen_prof_point_done(const loadgen_prof_point *p)
{
    return p->m[LOADGEN_PM_TPUT].has;
}

/* The statistic the SLO percentile picks; NAN when the row had none. */
static double pick(const loadgen_prof_stat *st, int percentile)
{
    switch (percentile) {
    case 50:
        return st->has_pct ? st->p50 : NAN;
    case 90:
        return st->has_pct ? st->p90 : NAN;
    case 99:
        return st->has_pct ? st->p99 : NAN;
    }
    return st->mean;
}

/* A latency SLO (0 = unset = infinity): the metric was measured and its
 * statistic is below the bound (NaN never is). */
static int latency_ok(double v, double bound)
{
    return bound > 0 ? v < bound : v < INFINITY;
}

int loadgen_prof_meets(const loadgen_prof_point *p, const opt_slo *slo)
{
    const loadgen_prof_stat *m = p->m;
    if (!m[LOADGEN_PM_TPUT].has || !(m[LOADGEN_PM_TPUT].mean >= slo->tput)) return 0;
    if (!m[LOADGEN_PM_TT].has || !(m[LOADGEN_PM_TT].mean >= slo->tt)) return 0;
    if (!m[LOADGEN_PM_E2E].has || !m[LOADGEN_PM_TTFT].has || !m[LOADGEN_PM_TPOT].has) return 0;
    double e2e = pick(&m[LOADGEN_PM_E2E], slo->percentile);
    double tpat = e2e / (double)(p->in + p->out);
    return latency_ok(e2e, slo->e2e) && latency_ok(tpat, slo->tpat) &&
           latency_ok(pick(&m[LOADGEN_PM_TTFT], slo->percentile), slo->ttft) &&
           latency_ok(pick(&m[LOADGEN_PM_TPOT], slo->percentile), slo->tpot);
}

int loadgen_prof_keeps_up(const loadgen_prof_point *p)
{
    return p->m[LOADGEN_PM_TPUT].has &&
           p->m[LOADGEN_PM_TPUT].mean >= p->rate * LOADGEN_PROF_TPUT_TOLERANCE;
}

/* Inserts x into the sorted unique list t[0..*n). -1 when full. */
static int add_tick(double *t, int *n, double x)
{
    int i = 0;
    while (i < *n && t[i] < x)
        i++;
    if (i < *n && t[i] == x) return 0;
    if (*n == OPT_PROFILE_GRID_MAX) return -1;
    memmove(t + i + 1, t + i, (size_t)(*n - i) * sizeof(*t));
    t[i] = x;
    (*n)++;
    return 0;
}

int loadgen_prof_generate(const loadgen_prof_set *s, const opt_slo *slo, opt_profile *out,
                          int *nempty, char *err, size_t errlen)
{
    *nempty = 0;
    out->nin = out->nout = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!loadgen_prof_point_done(&s->pts[i])) continue;
        if (add_tick(out->in_tokens, &out->nin, s->pts[i].in) ||
            add_tick(out->out_tokens, &out->nout, s->pts[i].out)) {
            snprintf(err, errlen, "more than %d input or output lengths", OPT_PROFILE_GRID_MAX);
            return -1;
        }
    }
    if (!out->nin) {
        snprintf(err, errlen, "no measurements");
        return -1;
    }
    memset(out->tputs, 0, sizeof(out->tputs));
    memset(out->e2e, 0, sizeof(out->e2e));
    memset(out->ttft, 0, sizeof(out->ttft));
    for (int i = 0; i < out->nout; i++)
        for (int j = 0; j < out->nin; j++) {
            const loadgen_prof_point *lowest = NULL, *best = NULL, *keep = NULL;
            for (size_t k = 0; k < s->n; k++) {
                const loadgen_prof_point *p = &s->pts[k];
                if (p->in != out->in_tokens[j] || p->out != out->out_tokens[i] ||
                    !loadgen_prof_point_done(p))
                    continue;
                if (!lowest || p->rate < lowest->rate) lowest = p;
                if (!loadgen_prof_meets(p, slo)) continue;
                if (!best || p->rate < best->rate) best = p; /* the smallest surviving */
                if (loadgen_prof_keeps_up(p) && (!keep || p->rate > keep->rate)) keep = p;
            }
            if (!lowest) {
                (*nempty)++;
                continue;
            }
            if (keep) best = keep;
            if (best) out->tputs[i][j] = best->m[LOADGEN_PM_TPUT].mean;
            const loadgen_prof_point *at = best ? best : lowest;
            out->e2e[i][j] = at->m[LOADGEN_PM_E2E].has ? at->m[LOADGEN_PM_E2E].mean : 0;
            out->ttft[i][j] = at->m[LOADGEN_PM_TTFT].has ? at->m[LOADGEN_PM_TTFT].mean : 0;
        }
    out->has_e2e = 1;
    out->has_ttft = slo->ttft > 0;
    if (!out->has_ttft) memset(out->ttft, 0, sizeof(out->ttft));
    out->has_slos = 1;
    out->slos = *slo;
    return 0;
}

/* ---------------- measuring ---------------- */

static void to_stat(loadgen_prof_stat *st, double *v, size_t n, double scale)
{
    loadgen_dist d;
    for (size_t i = 0; i < n; i++)
        v[i] *= scale;
    loadgen_dist_compute(&d, v, n);
    st->has = st->has_pct = 1;
    st->mean = d.mean;
    st->p50 = d.p50;
    st->p90 = d.p90;
    st->p99 = d.p99;
}

int loadgen_prof_measure(loadgen_prof_point *p, const loadgen_result *res, size_t n,
                         double duration_s, double time_scale)
{
    memset(p->m, 0, sizeof(p->m));
    size_t ok = 0, n_itl = 0;
    long tokens = 0;
    for (size_t i = 0; i < n; i++)
        if (res[i].ok) {
            ok++;
            n_itl += res[i].n_itl;
            if (res[i].completion_tokens > 0) tokens += res[i].completion_tokens;
        }
    double *e2e = malloc((ok ? ok : 1) * sizeof(double));
    double *ttft = malloc((ok ? ok : 1) * sizeof(double));
    double *itl = malloc((n_itl ? n_itl : 1) * sizeof(double));
    int rc = -1;
    if (!e2e || !ttft || !itl) goto out;
    size_t ne = 0, nt = 0, ni = 0;
    for (size_t i = 0; i < n; i++) {
        const loadgen_result *r = &res[i];
        if (!r->ok) continue;
        if (r->e2e_ms >= 0) e2e[ne++] = r->e2e_ms;
        if (r->ttft_ms >= 0) ttft[nt++] = r->ttft_ms;
        if (r->n_itl) memcpy(itl + ni, r->itl_ms, r->n_itl * sizeof(double));
        ni += r->n_itl;
    }
    double sim = duration_s * time_scale;
    p->m[LOADGEN_PM_TPUT].has = p->m[LOADGEN_PM_TT].has = 1;
    p->m[LOADGEN_PM_TPUT].mean = sim > 0 ? (double)ok / sim : 0;
    p->m[LOADGEN_PM_TT].mean = sim > 0 ? (double)tokens / sim : 0;
    double ms = time_scale / 1000.0; /* wall ms -> simulated s */
    if (ne) to_stat(&p->m[LOADGEN_PM_E2E], e2e, ne, ms);
    if (nt) to_stat(&p->m[LOADGEN_PM_TTFT], ttft, nt, ms);
    if (ok) {
        if (!ni) itl[ni++] = 0; /* no gaps (one token each): AIBrix's [0.0] */
        to_stat(&p->m[LOADGEN_PM_TPOT], itl, ni, ms);
    }
    rc = 0;
out:
    free(e2e);
    free(ttft);
    free(itl);
    return rc;
}

int loadgen_prof_write_rows(FILE *f, const loadgen_prof_point *p, const char *model)
{
    for (int m = 0; m < LOADGEN_PM_N; m++) {
        const loadgen_prof_stat *st = &p->m[m];
        if (!st->has) continue;
        json_t *o = json_object();
        if (!o) return -1;
        int bad = json_object_set_new(o, "input_tokens", json_integer(p->in));
        bad |= json_object_set_new(o, "output_tokens", json_integer(p->out));
        bad |= json_object_set_new(o, "request_rate", json_real(p->rate));
        bad |= json_object_set_new(o, "seed", json_integer((json_int_t)p->seed));
        bad |= json_object_set_new(o, "model", json_string(model ? model : ""));
        if (p->samples >= 0) bad |= json_object_set_new(o, "samples", json_integer(p->samples));
        bad |= json_object_set_new(o, "metric", json_string(pm_names[m]));
        bad |= json_object_set_new(o, "mean", json_real(st->mean));
        if (st->has_pct && m >= LOADGEN_PM_E2E) {
            bad |= json_object_set_new(o, "P50", json_real(st->p50));
            bad |= json_object_set_new(o, "P90", json_real(st->p90));
            bad |= json_object_set_new(o, "P99", json_real(st->p99));
        }
        char *line = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
        json_decref(o);
        if (!line) return -1;
        int w = fprintf(f, "%s\n", line);
        free(line);
        if (w < 0) return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}
