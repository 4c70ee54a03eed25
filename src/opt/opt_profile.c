/* opt_profile: see opt_profile.h.
 *
 * Parsing is strict where AIBrix's optimizer would misbehave on a bad profile
 * (a ragged or negative matrix, indexes that are not increasing, a grid that
 * does not match tputs) and lenient where a newer writer may add things
 * (unknown keys are ignored; JSON null counts as absent for the optional
 * fields). Every error names the field and, in a matrix, the element.
 *
 * Emission writes the keys in AIBrix's order (gen_profile.py's dict) with
 * jansson's 17 significant digits, so parse(emit(p)) == p bit for bit: the
 * fuzz target checks exactly that. Whole index ticks are written as JSON
 * integers ([[4,8,...],[128,...]]) as AIBrix's own profiles have them. */
#include "opt/opt_profile.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define OPT_PROFILE_MAX_BYTES (4u << 20)

/* A finite number (integer or real) or -1. */
static int op_number(const json_t *v, double *out)
{
    if (json_is_integer(v))
        *out = (double)json_integer_value(v);
    else if (json_is_real(v))
        *out = json_real_value(v);
    else
        return -1;
    return isfinite(*out) ? 0 : -1;
}

/* Reads a [rows][cols] matrix of non-negative numbers into m. */
static int op_matrix(const json_t *v, const char *name, int rows, int cols,
                     double m[OPT_PROFILE_GRID_MAX][OPT_PROFILE_GRID_MAX], char *err, size_t errlen)
{
    if (!json_is_array(v)) {
        snprintf(err, errlen, "profile: %s: must be an array of rows", name);
        return -1;
    }
    if ((int)json_array_size(v) != rows) {
        snprintf(err, errlen, "profile: %s: %zu rows, indexes[0] has %d output lengths", name,
                 json_array_size(v), rows);
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        const json_t *row = json_array_get(v, (size_t)i);
        if (!json_is_array(row) || (int)json_array_size(row) != cols) {
            snprintf(err, errlen,
                     "profile: %s[%d]: must be an array of %d numbers (one per input length)", name,
                     i, cols);
            return -1;
        }
        for (int j = 0; j < cols; j++) {
            double x;
            if (op_number(json_array_get(row, (size_t)j), &x) || x < 0) {
                snprintf(err, errlen, "profile: %s[%d][%d]: must be a non-negative number", name, i,
                         j);
                return -1;
            }
            m[i][j] = x;
        }
    }
    return 0;
}

/* Reads one increasing list of positive token counts. */
static int op_ticks(const json_t *v, int which, double *ticks, int *n, char *err, size_t errlen)
{
    const char *what = which ? "input" : "output";
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > OPT_PROFILE_GRID_MAX) {
        snprintf(err, errlen, "profile: indexes[%d]: must be an array of 1..%d %s lengths", which,
                 OPT_PROFILE_GRID_MAX, what);
        return -1;
    }
    *n = (int)json_array_size(v);
    for (int i = 0; i < *n; i++) {
        double x;
        if (op_number(json_array_get(v, (size_t)i), &x) || x <= 0) {
            snprintf(err, errlen, "profile: indexes[%d][%d]: must be a positive number", which, i);
            return -1;
        }
        if (i > 0 && x <= ticks[i - 1]) {
            snprintf(err, errlen,
                     "profile: indexes[%d][%d]: %s lengths must increase (%g after %g)", which, i,
                     what, x, ticks[i - 1]);
            return -1;
        }
        ticks[i] = x;
    }
    return 0;
}

static int op_name(const json_t *o, const char *key, int required, char *dst, char *err,
                   size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        snprintf(err, errlen, "profile: %s: missing", key);
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) >= OPT_PROFILE_NAME_MAX ||
        (required && !json_string_length(v))) {
        snprintf(err, errlen, "profile: %s: must be a%s string of at most %d bytes", key,
                 required ? " non-empty" : "", OPT_PROFILE_NAME_MAX - 1);
        return -1;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int op_slos(const json_t *v, opt_slo *s, char *err, size_t errlen)
{
    if (!json_is_object(v)) {
        snprintf(err, errlen, "profile: slos: must be an object");
        return -1;
    }
    static const char *const names[] = {"e2e", "ttft", "tpot", "tpat", "tput", "tt"};
    double *dst[] = {&s->e2e, &s->ttft, &s->tpot, &s->tpat, &s->tput, &s->tt};
    for (int i = 0; i < 6; i++) {
        const json_t *x = json_object_get(v, names[i]);
        if (!x || json_is_null(x)) continue;
        if (op_number(x, dst[i]) || *dst[i] < 0) {
            snprintf(err, errlen, "profile: slos.%s: must be a non-negative number", names[i]);
            return -1;
        }
    }
    const json_t *p = json_object_get(v, "percentile");
    if (p && !json_is_null(p)) {
        json_int_t pc = json_is_integer(p) ? json_integer_value(p) : -1;
        if (pc != 0 && pc != 50 && pc != 90 && pc != 99) {
            snprintf(err, errlen, "profile: slos.percentile: must be 0, 50, 90 or 99");
            return -1;
        }
        s->percentile = (int)pc;
    }
    return 0;
}

static int op_fields(const json_t *o, opt_profile *out, char *err, size_t errlen)
{
    if (op_name(o, "gpu", 1, out->gpu, err, errlen)) return -1;
    if (op_name(o, "model", 0, out->model, err, errlen)) return -1;
    const json_t *v = json_object_get(o, "cost");
    if (!v || json_is_null(v)) {
        snprintf(err, errlen, "profile: cost: missing");
        return -1;
    }
    if (op_number(v, &out->cost) || out->cost < 0) {
        snprintf(err, errlen, "profile: cost: must be a non-negative number ($ per hour)");
        return -1;
    }
    v = json_object_get(o, "indexes");
    if (!v || json_is_null(v)) {
        snprintf(err, errlen, "profile: indexes: missing");
        return -1;
    }
    if (!json_is_array(v) || json_array_size(v) != 2) {
        snprintf(err, errlen, "profile: indexes: must be [[output lengths], [input lengths]]");
        return -1;
    }
    if (op_ticks(json_array_get(v, 0), 0, out->out_tokens, &out->nout, err, errlen) ||
        op_ticks(json_array_get(v, 1), 1, out->in_tokens, &out->nin, err, errlen))
        return -1;
    v = json_object_get(o, "tputs");
    if (!v || json_is_null(v)) {
        snprintf(err, errlen, "profile: tputs: missing");
        return -1;
    }
    if (op_matrix(v, "tputs", out->nout, out->nin, out->tputs, err, errlen)) return -1;
    v = json_object_get(o, "e2e");
    if (v && !json_is_null(v)) {
        if (op_matrix(v, "e2e", out->nout, out->nin, out->e2e, err, errlen)) return -1;
        out->has_e2e = 1;
    }
    v = json_object_get(o, "ttft");
    if (v && !json_is_null(v)) {
        if (op_matrix(v, "ttft", out->nout, out->nin, out->ttft, err, errlen)) return -1;
        out->has_ttft = 1;
    }
    v = json_object_get(o, "created");
    if (v && !json_is_null(v)) {
        double c;
        if (op_number(v, &c) || c < 0 || c >= 9.0e15) {
            snprintf(err, errlen, "profile: created: must be a non-negative unix time");
            return -1;
        }
        out->created = (int64_t)c; /* AIBrix writes fractional seconds */
    }
    v = json_object_get(o, "slos");
    if (v && !json_is_null(v)) {
        if (op_slos(v, &out->slos, err, errlen)) return -1;
        out->has_slos = 1;
    }
    return 0;
}

int opt_profile_parse(const char *json, size_t len, opt_profile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > OPT_PROFILE_MAX_BYTES) {
        snprintf(err, errlen, "profile: larger than %u bytes", OPT_PROFILE_MAX_BYTES);
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        snprintf(err, errlen, "profile: invalid JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(o))
        snprintf(err, errlen, "profile: must be a JSON object");
    else
        rc = op_fields(o, out, err, errlen);
    json_decref(o);
    if (rc) memset(out, 0, sizeof(*out));
    return rc;
}

/* A whole tick as an integer (AIBrix's indexes are ints), else a real. */
static json_t *op_tick_json(double x)
{
    if (x == floor(x) && x < 9.0e15) return json_integer((json_int_t)x);
    return json_real(x);
}

static json_t *op_matrix_json(int rows, int cols,
                              const double m[OPT_PROFILE_GRID_MAX][OPT_PROFILE_GRID_MAX])
{
    json_t *a = json_array();
    for (int i = 0; a && i < rows; i++) {
        json_t *row = json_array();
        for (int j = 0; row && j < cols; j++)
            if (json_array_append_new(row, json_real(m[i][j]))) {
                json_decref(row);
                row = NULL;
            }
        if (json_array_append_new(a, row)) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static json_t *op_ticks_json(int n, const double *t)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, op_tick_json(t[i]))) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

static json_t *op_slos_json(const opt_slo *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "percentile", json_integer(s->percentile));
    static const char *const names[] = {"e2e", "ttft", "tpot", "tpat", "tput", "tt"};
    const double vals[] = {s->e2e, s->ttft, s->tpot, s->tpat, s->tput, s->tt};
    for (int i = 0; i < 6; i++)
        if (vals[i] != 0) bad |= json_object_set_new(o, names[i], json_real(vals[i]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *opt_profile_to_json(const opt_profile *p)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "gpu", json_string(p->gpu));
    bad |= json_object_set_new(o, "cost", json_real(p->cost));
    bad |= json_object_set_new(o, "tputs", op_matrix_json(p->nout, p->nin, p->tputs));
    json_t *idx = json_array();
    bad |= json_array_append_new(idx, op_ticks_json(p->nout, p->out_tokens));
    bad |= json_array_append_new(idx, op_ticks_json(p->nin, p->in_tokens));
    bad |= json_object_set_new(o, "indexes", idx);
    bad |= json_object_set_new(o, "created", json_integer(p->created));
    if (p->has_e2e) bad |= json_object_set_new(o, "e2e", op_matrix_json(p->nout, p->nin, p->e2e));
    if (p->has_ttft)
        bad |= json_object_set_new(o, "ttft", op_matrix_json(p->nout, p->nin, p->ttft));
    if (p->has_slos) bad |= json_object_set_new(o, "slos", op_slos_json(&p->slos));
    if (p->model[0]) bad |= json_object_set_new(o, "model", json_string(p->model));
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    return s;
}

int opt_profile_same_grid(const opt_profile *a, const opt_profile *b)
{
    if (a->nout != b->nout || a->nin != b->nin) return 0;
    for (int i = 0; i < a->nout; i++)
        if (a->out_tokens[i] != b->out_tokens[i]) return 0;
    for (int j = 0; j < a->nin; j++)
        if (a->in_tokens[j] != b->in_tokens[j]) return 0;
    return 1;
}

/* The nearest tick to x in log2 space; a midpoint between two ticks goes to
 * the larger. Beyond the edges a shape within half a doubling (0.5 in log2)
 * of the first or last tick still belongs to it; further out it is clamped
 * to the edge and *clamped set. Counts below 1 token count as 1. A shape a
 * rounding error (1e-9 in log2) short of a midpoint counts as on it, so
 * sqrt(a*b) snaps up whatever the last bit of its square root. */
#define OP_SNAP_EPS 1e-9
static int op_snap(const double *ticks, int n, double x, int *clamped)
{
    double l = log2(x >= 1 ? x : 1);
    if (!isfinite(l)) l = 1e9; /* x = +inf: past the last tick */
    if (l < log2(ticks[0]) - 0.5 - OP_SNAP_EPS) *clamped = 1;
    if (l > log2(ticks[n - 1]) + 0.5 + OP_SNAP_EPS) *clamped = 1;
    int best = 0;
    for (int i = 1; i < n; i++) {
        double mid = (log2(ticks[i - 1]) + log2(ticks[i])) / 2;
        if (l >= mid - OP_SNAP_EPS) best = i;
    }
    return best;
}

void opt_profile_cell(const opt_profile *p, double in_tokens, double out_tokens, int *in_idx,
                      int *out_idx, int *clamped)
{
    int c = 0;
    *in_idx = p->nin > 0 ? op_snap(p->in_tokens, p->nin, in_tokens, &c) : 0;
    *out_idx = p->nout > 0 ? op_snap(p->out_tokens, p->nout, out_tokens, &c) : 0;
    if (clamped) *clamped = c;
}
