/* gw_hetero: see gw_hetero.h. */
#include "gateway/gw_hetero.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_buf.h"
#include "common/bx_log.h"

/* ---------- pure: parse ---------- */

static int gw_hetero_fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

/* Adds x to the sorted set v[0..*n) unless present. 0, or -1 when full. */
static int gw_hetero_add_point(double *v, int *n, double x)
{
    int i = 0;
    while (i < *n && v[i] < x)
        i++;
    if (i < *n && v[i] == x) return 0;
    if (*n == GW_HETERO_GRID_MAX) return -1;
    memmove(v + i + 1, v + i, (size_t)(*n - i) * sizeof(*v));
    v[i] = x;
    (*n)++;
    return 0;
}

static int gw_hetero_find_point(const double *v, int n, double x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x) return i;
    return -1;
}

/* The group named s, added when new. Its index, or -1 (too long, full). */
static int gw_hetero_group(gw_hetero_assign *a, const char *s)
{
    for (int i = 0; i < a->ngroups; i++)
        if (!strcmp(a->groups[i], s)) return i;
    if (!s[0] || strlen(s) >= GW_NAME_MAX || a->ngroups == GW_HETERO_GROUPS_MAX) return -1;
    snprintf(a->groups[a->ngroups], GW_NAME_MAX, "%s", s);
    a->replicas[a->ngroups] = -1;
    return a->ngroups++;
}

/* A cell's token count: a finite number > 0 and < 2^31. */
static int gw_hetero_tokens(const json_t *v, double *out)
{
    if (!json_is_number(v)) return -1;
    double x = json_number_value(v);
    if (!isfinite(x) || x <= 0 || x >= 2147483648.0) return -1;
    *out = x;
    return 0;
}

static int gw_hetero_parse_doc(const json_t *root, gw_hetero_assign *a, char *err, size_t errlen)
{
    if (!json_is_object(root)) return gw_hetero_fail(err, errlen, "not a JSON object");
    const char *model = json_string_value(json_object_get(root, "model"));
    if (!model || !model[0] || strlen(model) >= GW_NAME_MAX)
        return gw_hetero_fail(err, errlen, "model: missing, empty or too long");
    snprintf(a->model, sizeof(a->model), "%s", model);
    const json_t *gen = json_object_get(root, "generation"), *ts = json_object_get(root, "ts");
    if (gen && !json_is_integer(gen))
        return gw_hetero_fail(err, errlen, "generation: not an integer");
    if (ts && !json_is_integer(ts)) return gw_hetero_fail(err, errlen, "ts: not an integer");
    a->generation = gen ? (int64_t)json_integer_value(gen) : 0;
    a->ts = ts ? (int64_t)json_integer_value(ts) : 0;
    const json_t *deps = json_object_get(root, "deployments");
    if (deps && !json_is_array(deps))
        return gw_hetero_fail(err, errlen, "deployments: not an array");
    size_t i;
    const json_t *d;
    json_array_foreach(deps, i, d)
    {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name) return gw_hetero_fail(err, errlen, "deployments[]: no name");
        int g = gw_hetero_group(a, name);
        if (g < 0) return gw_hetero_fail(err, errlen, "deployments[]: bad name or too many");
        const json_t *r = json_object_get(d, "replicas");
        if (r &&
            (!json_is_integer(r) || json_integer_value(r) < 0 || json_integer_value(r) > 1000000))
            return gw_hetero_fail(err, errlen, "deployments[].replicas: not a count");
        if (r) a->replicas[g] = (int)json_integer_value(r);
    }
    const json_t *cells = json_object_get(root, "cells");
    if (!json_is_array(cells)) return gw_hetero_fail(err, errlen, "cells: missing or not an array");
    const json_t *c;
    json_array_foreach(cells, i, c)
    {
        double in, out;
        if (gw_hetero_tokens(json_object_get(c, "in"), &in) != 0 ||
            gw_hetero_tokens(json_object_get(c, "out"), &out) != 0)
            return gw_hetero_fail(err, errlen, "cells[]: in/out not a token count > 0");
        if (gw_hetero_add_point(a->in_tokens, &a->nin, in) != 0 ||
            gw_hetero_add_point(a->out_tokens, &a->nout, out) != 0)
            return gw_hetero_fail(err, errlen, "cells: too many distinct in/out values");
    }
    for (int k = 0; k < a->nin; k++)
        a->in_log2[k] = log2(a->in_tokens[k]);
    for (int k = 0; k < a->nout; k++)
        a->out_log2[k] = log2(a->out_tokens[k]);
    uint8_t seen[GW_HETERO_GRID_MAX][GW_HETERO_GRID_MAX];
    memset(seen, 0, sizeof(seen));
    json_array_foreach(cells, i, c)
    {
        double in = json_number_value(json_object_get(c, "in"));
        double out = json_number_value(json_object_get(c, "out"));
        int ii = gw_hetero_find_point(a->in_tokens, a->nin, in);
        int oi = gw_hetero_find_point(a->out_tokens, a->nout, out);
        if (ii < 0 || oi < 0) return gw_hetero_fail(err, errlen, "cells: internal");
        if (seen[oi][ii]) return gw_hetero_fail(err, errlen, "cells: two cells at one in/out");
        seen[oi][ii] = 1;
        const json_t *sh = json_object_get(c, "share");
        if (!json_is_object(sh)) return gw_hetero_fail(err, errlen, "cells[].share: not an object");
        double sum = 0;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)sh, key, v)
        {
            double x = json_is_number(v) ? json_number_value(v) : -1;
            if (!isfinite(x) || x < 0 || x > 1e9)
                return gw_hetero_fail(err, errlen, "cells[].share: not a number >= 0");
            int g = gw_hetero_group(a, key);
            if (g < 0) return gw_hetero_fail(err, errlen, "cells[].share: bad name or too many");
            a->share[oi][ii][g] = (float)x;
            sum += x;
        }
        if (sum <= 0) continue; /* nothing to draw from: as a cell not listed */
        a->listed[oi][ii] = 1;
        for (int g = 0; g < a->ngroups; g++)
            a->share[oi][ii][g] = (float)(a->share[oi][ii][g] / sum);
    }
    return 0;
}

int gw_hetero_parse(const char *json, size_t len, gw_hetero_assign *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > GW_HETERO_BODY_MAX) return gw_hetero_fail(err, errlen, "assignment too large");
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON: %.120s", je.text);
        return -1;
    }
    int rc = gw_hetero_parse_doc(root, out, err, errlen);
    json_decref(root);
    if (rc != 0) memset(out, 0, sizeof(*out));
    return rc;
}

/* ---------- pure: cells and order ---------- */

/* The nearest of the increasing logs lv[0..n) to lx, midpoints to the larger. */
static int gw_hetero_nearest_log(const double *lv, int n, double lx)
{
    if (n <= 0) return -1;
    int best = 0;
    double bd = INFINITY;
    for (int i = 0; i < n; i++) {
        double d = fabs(lv[i] - lx);
        if (d <= bd) { /* increasing v: an equal distance further on is the larger */
            bd = d;
            best = i;
        }
    }
    return best;
}

int gw_hetero_index(const double *v, int n, double x)
{
    double lv[GW_HETERO_GRID_MAX];
    if (n > GW_HETERO_GRID_MAX) n = GW_HETERO_GRID_MAX;
    for (int i = 0; i < n; i++)
        lv[i] = log2(v[i]);
    return gw_hetero_nearest_log(lv, n, log2(x > 1 ? x : 1));
}

int gw_hetero_cell(const gw_hetero_assign *a, double in_tokens, double out_tokens, int *in_idx,
                   int *out_idx)
{
    *in_idx = gw_hetero_nearest_log(a->in_log2, a->nin, log2(in_tokens > 1 ? in_tokens : 1));
    *out_idx = gw_hetero_nearest_log(a->out_log2, a->nout, log2(out_tokens > 1 ? out_tokens : 1));
    return *in_idx >= 0 && *out_idx >= 0 && a->listed[*out_idx][*in_idx];
}

int gw_hetero_order(const gw_hetero_assign *a, int in_idx, int out_idx, double u, int *order,
                    int cap)
{
    if (in_idx < 0 || out_idx < 0 || in_idx >= a->nin || out_idx >= a->nout ||
        !a->listed[out_idx][in_idx] || cap <= 0)
        return 0;
    const float *sh = a->share[out_idx][in_idx];
    int first = -1, last = -1;
    double cum = 0;
    for (int g = 0; g < a->ngroups; g++) {
        if (sh[g] <= 0) continue;
        last = g;
        cum += sh[g];
        if (first < 0 && u < cum) first = g;
    }
    if (last < 0) return 0;
    if (first < 0) first = last; /* u at the top edge of rounding */
    int n = 0;
    order[n++] = first;
    /* the rest by descending share: a selection over at most 16 groups */
    uint32_t used = 1u << first;
    while (n < cap) {
        int best = -1;
        for (int g = 0; g < a->ngroups; g++)
            if (sh[g] > 0 && !(used & (1u << g)) && (best < 0 || sh[g] > sh[best])) best = g;
        if (best < 0) break;
        used |= 1u << best;
        order[n++] = best;
    }
    return n;
}

/* ---------- the store ---------- */

typedef struct gw_hetero_slot {
    char model[GW_NAME_MAX];
    gw_hetero_assign *a; /* owned */
    uint32_t ctr[GW_HETERO_GRID_MAX][GW_HETERO_GRID_MAX];
} gw_hetero_slot;

struct gw_hetero {
    pthread_mutex_t mu;
    gw_hetero_slot slots[GW_HETERO_MODELS_MAX];
    int n;
};

gw_hetero *gw_hetero_new(void)
{
    gw_hetero *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h);
        return NULL;
    }
    return h;
}

void gw_hetero_free(gw_hetero *h)
{
    if (!h) return;
    for (int i = 0; i < h->n; i++)
        free(h->slots[i].a);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

static gw_hetero_slot *gw_hetero_find(gw_hetero *h, const char *model)
{
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->slots[i].model, model)) return &h->slots[i];
    return NULL;
}

/* Swaps in a (owned from here on); 0, or -1 when the table is full (a freed). */
static int gw_hetero_swap(gw_hetero *h, gw_hetero_assign *a)
{
    gw_hetero_assign *old = NULL;
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    gw_hetero_slot *s = gw_hetero_find(h, a->model);
    if (!s && h->n < GW_HETERO_MODELS_MAX) {
        s = &h->slots[h->n++];
        memset(s, 0, sizeof(*s));
        snprintf(s->model, sizeof(s->model), "%s", a->model);
    }
    if (s) {
        old = s->a;
        s->a = a;
    } else {
        old = a;
        rc = -1;
    }
    pthread_mutex_unlock(&h->mu);
    free(old);
    return rc;
}

int gw_hetero_set_json(gw_hetero *h, const char *model, const char *json, size_t len, char *err,
                       size_t errlen)
{
    gw_hetero_assign *a = malloc(sizeof(*a));
    if (!a) return gw_hetero_fail(err, errlen, "out of memory");
    if (gw_hetero_parse(json, len, a, err, errlen) != 0) {
        free(a);
        return -1;
    }
    if (model && strcmp(model, a->model) != 0) {
        free(a);
        return gw_hetero_fail(err, errlen, "model: not the model asked for");
    }
    if (gw_hetero_swap(h, a) != 0)
        return gw_hetero_fail(err, errlen, "too many models with an assignment");
    return 0;
}

int gw_hetero_set(gw_hetero *h, const gw_hetero_assign *a)
{
    gw_hetero_assign *c = malloc(sizeof(*c));
    if (!c) return -1;
    memcpy(c, a, sizeof(*c));
    c->model[GW_NAME_MAX - 1] = '\0';
    return gw_hetero_swap(h, c);
}

void gw_hetero_clear(gw_hetero *h, const char *model)
{
    gw_hetero_assign *old = NULL;
    pthread_mutex_lock(&h->mu);
    gw_hetero_slot *s = gw_hetero_find(h, model);
    if (s) {
        old = s->a;
        *s = h->slots[h->n - 1];
        h->n--;
    }
    pthread_mutex_unlock(&h->mu);
    free(old);
}

int64_t gw_hetero_generation(gw_hetero *h, const char *model)
{
    pthread_mutex_lock(&h->mu);
    gw_hetero_slot *s = gw_hetero_find(h, model);
    int64_t g = s ? s->a->generation : -1;
    pthread_mutex_unlock(&h->mu);
    return g;
}

int gw_hetero_route(gw_hetero *h, const char *model, double in_tokens, double out_tokens,
                    gw_hetero_route_out *out)
{
    out->ngroups = 0;
    out->in_idx = out->out_idx = -1;
    out->generation = -1;
    if (!h || !model) return -1;
    pthread_mutex_lock(&h->mu);
    gw_hetero_slot *s = gw_hetero_find(h, model);
    if (!s) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    const gw_hetero_assign *a = s->a;
    out->generation = a->generation;
    if (gw_hetero_cell(a, in_tokens, out_tokens, &out->in_idx, &out->out_idx)) {
        uint32_t k = s->ctr[out->out_idx][out->in_idx]++;
        double u = fmod((double)k * 0.6180339887498949, 1.0);
        int order[GW_HETERO_GROUPS_MAX];
        int n = gw_hetero_order(a, out->in_idx, out->out_idx, u, order, GW_HETERO_GROUPS_MAX);
        for (int i = 0; i < n; i++)
            memcpy(out->groups[i], a->groups[order[i]], strlen(a->groups[order[i]]) + 1);
        out->ngroups = n;
    }
    pthread_mutex_unlock(&h->mu);
    return out->ngroups;
}

/* ---------- the poller ---------- */

int gw_hetero_url_parse(const char *url, char *host, size_t hostlen, int *port, char *base,
                        size_t baselen)
{
    if (!url || strncasecmp(url, "http://", 7) != 0) return -1;
    const char *p = url + 7;
    const char *slash = strchr(p, '/');
    size_t auth = slash ? (size_t)(slash - p) : strlen(p);
    if (auth == 0) return -1;
    const char *hb = p, *he, *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', auth);
        if (!rb) return -1;
        hb = p + 1;
        he = rb;
        if (rb + 1 < p + auth) {
            if (rb[1] != ':') return -1;
            colon = rb + 1;
        }
    } else {
        colon = memchr(p, ':', auth);
        he = colon ? colon : p + auth;
    }
    if (he <= hb || (size_t)(he - hb) >= hostlen) return -1;
    for (const char *q = hb; q < he; q++)
        if (!isalnum((unsigned char)*q) && !strchr(".-_:", *q)) return -1;
    long pt = 80;
    if (colon) {
        const char *q = colon + 1, *end = p + auth;
        if (q == end || end - q > 5) return -1;
        pt = 0;
        for (; q < end; q++) {
            if (!isdigit((unsigned char)*q)) return -1;
            pt = pt * 10 + (*q - '0');
        }
        if (pt <= 0 || pt > 65535) return -1;
    }
    const char *b = slash ? slash : "";
    size_t bl = strlen(b);
    while (bl && b[bl - 1] == '/')
        bl--;
    if (bl >= baselen || memchr(b, '?', bl) || memchr(b, '#', bl)) return -1;
    for (size_t i = 0; i < bl; i++)
        if ((unsigned char)b[i] <= ' ' || (unsigned char)b[i] >= 0x7f) return -1;
    memcpy(host, hb, (size_t)(he - hb));
    host[he - hb] = '\0';
    memcpy(base, b, bl);
    base[bl] = '\0';
    *port = (int)pt;
    return 0;
}

typedef struct gw_hetero_pslot {
    gw_hetero_poller *p;
    char model[GW_NAME_MAX];
    bx_http_creq *cr;
    bx_buf body;
    int status, toobig;
    char last[192]; /* what went wrong last ("" = the last poll was good) */
} gw_hetero_pslot;

struct gw_hetero_poller {
    uv_loop_t *loop;
    bx_http_client *client;
    gw_hetero *h;
    gw_hetero_poll_opts o;
    char host[256], base[512];
    int port;
    uv_timer_t timer;
    int closing, timer_closed, inflight;
    gw_hetero_pslot *slots; /* GW_HETERO_MODELS_MAX */
    int nslots;
    gw_hetero_poll_stats stats;
};

void gw_hetero_poll_opts_default(gw_hetero_poll_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->interval_ms = 5000;
    o->timeout_ms = 2000;
    o->max_body_bytes = GW_HETERO_BODY_MAX;
}

static void gw_hetero_maybe_free(gw_hetero_poller *p)
{
    if (!p->closing || !p->timer_closed || p->inflight) return;
    for (int i = 0; i < p->nslots; i++)
        bx_buf_free(&p->slots[i].body);
    free(p->slots);
    free(p);
}

/* Logs what happened to a model's poll when it differs from last time. */
static void gw_hetero_note(gw_hetero_pslot *s, const char *why)
{
    if (!strcmp(s->last, why)) return;
    char em[BX_LOG_ESC_MAX];
    bx_log_escape(em, sizeof(em), s->model, BX_LOG_CSTR);
    if (why[0])
        bx_warn("gpu-optimizer: assignment of %s: %s (the last good one stays)", em, why);
    else
        bx_info("gpu-optimizer: assignment of %s: received", em);
    snprintf(s->last, sizeof(s->last), "%s", why);
}

static void gw_hetero_on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t n,
                                  void *ud)
{
    (void)cr;
    (void)h;
    (void)n;
    ((gw_hetero_pslot *)ud)->status = status;
}

static void gw_hetero_on_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    gw_hetero_pslot *s = ud;
    if (s->toobig) return;
    if (s->body.len + len > s->p->o.max_body_bytes || bx_buf_append(&s->body, data, len) != 0) {
        s->toobig = 1;
        bx_http_client_cancel(cr);
    }
}

static void gw_hetero_on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    gw_hetero_pslot *s = ud;
    gw_hetero_poller *p = s->p;
    s->cr = NULL;
    p->inflight--;
    if (p->closing) {
        gw_hetero_maybe_free(p);
        return;
    }
    if (err == BX_HTTP_ECANCELED && !s->toobig) return;
    p->stats.polls++;
    char why[192] = "";
    if (s->toobig)
        snprintf(why, sizeof(why), "body over %zu bytes", p->o.max_body_bytes);
    else if (err)
        snprintf(why, sizeof(why), "%s", bx_http_strerror(err));
    else if (s->status != 200)
        snprintf(why, sizeof(why), "HTTP %d", s->status);
    else {
        int64_t before = gw_hetero_generation(p->h, s->model);
        char perr[160];
        if (gw_hetero_set_json(p->h, s->model, s->body.data ? s->body.data : "", s->body.len, perr,
                               sizeof(perr)) != 0)
            snprintf(why, sizeof(why), "%s", perr);
        else if (gw_hetero_generation(p->h, s->model) != before)
            p->stats.updates++;
    }
    if (why[0]) p->stats.failures++;
    bx_buf_reset(&s->body);
    gw_hetero_note(s, why);
}

/* Appends model to b percent-encoded (RFC 3986 unreserved kept). */
static int gw_hetero_escape(bx_buf *b, const char *model)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *q = (const unsigned char *)model; *q; q++) {
        char enc[3] = {'%', hex[*q >> 4], hex[*q & 15]};
        int keep = isalnum(*q) || *q == '-' || *q == '.' || *q == '_' || *q == '~';
        if (bx_buf_append(b, keep ? (const char *)q : enc, keep ? 1 : 3) != 0) return -1;
    }
    return 0;
}

static void gw_hetero_poll_one(gw_hetero_poller *p, gw_hetero_pslot *s)
{
    bx_buf path;
    bx_buf_init(&path);
    if (bx_buf_appends(&path, p->base) != 0 || bx_buf_appends(&path, "/assignment/") != 0 ||
        gw_hetero_escape(&path, s->model) != 0 || bx_buf_append(&path, "", 1) != 0) {
        bx_buf_free(&path);
        return;
    }
    s->status = 0;
    s->toobig = 0;
    bx_buf_reset(&s->body);
    bx_http_header hd[] = {{"Accept", "application/json"}};
    bx_http_client_req r = {.method = "GET",
                            .host = p->host,
                            .port = p->port,
                            .path = path.data,
                            .headers = hd,
                            .nheaders = 1,
                            .timeout_ms = p->o.timeout_ms};
    static const bx_http_client_cbs cbs = {gw_hetero_on_response, gw_hetero_on_data,
                                           gw_hetero_on_done};
    int rc = bx_http_client_request(p->client, &r, &cbs, s, &s->cr);
    bx_buf_free(&path);
    if (rc != 0) {
        s->cr = NULL;
        char why[128];
        snprintf(why, sizeof(why), "cannot send: %s", bx_http_strerror(rc));
        gw_hetero_note(s, why);
        return;
    }
    p->inflight++;
}

static void gw_hetero_on_timer(uv_timer_t *t)
{
    gw_hetero_poller *p = t->data;
    if (!p->o.models) return;
    char names[GW_HETERO_MODELS_MAX][GW_NAME_MAX];
    int n = p->o.models(p->o.ud, names, GW_HETERO_MODELS_MAX);
    for (int i = 0; i < n && i < GW_HETERO_MODELS_MAX; i++) {
        names[i][GW_NAME_MAX - 1] = '\0';
        if (!names[i][0]) continue;
        gw_hetero_pslot *s = NULL;
        for (int k = 0; k < p->nslots && !s; k++)
            if (!strcmp(p->slots[k].model, names[i])) s = &p->slots[k];
        if (!s) {
            if (p->nslots == GW_HETERO_MODELS_MAX) continue;
            s = &p->slots[p->nslots++];
            memset(s, 0, sizeof(*s));
            s->p = p;
            bx_buf_init(&s->body);
            memcpy(s->model, names[i], sizeof(s->model)); /* NUL-terminated above */
        }
        if (!s->cr) gw_hetero_poll_one(p, s);
    }
}

int gw_hetero_poll_start(gw_hetero_poller **out, uv_loop_t *loop, bx_http_client *client,
                         gw_hetero *h, const gw_hetero_poll_opts *o, char *err, size_t errlen)
{
    gw_hetero_poller *p = calloc(1, sizeof(*p));
    if (!p || !(p->slots = calloc(GW_HETERO_MODELS_MAX, sizeof(*p->slots)))) {
        free(p);
        return gw_hetero_fail(err, errlen, "out of memory");
    }
    p->o = *o;
    if (!p->o.interval_ms) p->o.interval_ms = 5000;
    if (!p->o.timeout_ms) p->o.timeout_ms = 2000;
    if (!p->o.max_body_bytes || p->o.max_body_bytes > GW_HETERO_BODY_MAX)
        p->o.max_body_bytes = GW_HETERO_BODY_MAX;
    if (gw_hetero_url_parse(o->url, p->host, sizeof(p->host), &p->port, p->base, sizeof(p->base)) !=
        0) {
        free(p->slots);
        free(p);
        return gw_hetero_fail(err, errlen, "--gpu-optimizer: want http://host[:port][/path]");
    }
    p->o.url = NULL; /* not kept: host, port and base are */
    p->loop = loop;
    p->client = client;
    p->h = h;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, gw_hetero_on_timer, 0, p->o.interval_ms);
    *out = p;
    return 0;
}

static void gw_hetero_on_timer_closed(uv_handle_t *hd)
{
    gw_hetero_poller *p = hd->data;
    p->timer_closed = 1;
    gw_hetero_maybe_free(p);
}

void gw_hetero_poll_close(gw_hetero_poller *p)
{
    if (!p || p->closing) return;
    p->closing = 1;
    uv_timer_stop(&p->timer);
    for (int i = 0; i < p->nslots; i++)
        if (p->slots[i].cr) bx_http_client_cancel(p->slots[i].cr);
    uv_close((uv_handle_t *)&p->timer, gw_hetero_on_timer_closed);
}

void gw_hetero_poll_get_stats(const gw_hetero_poller *p, gw_hetero_poll_stats *out)
{
    *out = p->stats;
}
