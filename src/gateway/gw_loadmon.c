/* gw_loadmon: see gw_loadmon.h. A model's slot holds two open windows (the
 * current one and the one before, which the tick closes at the boundary, so
 * requests ending right after it never wait for the close) and a ring of
 * closed windows, compact (their cells malloc'd to size). */
#include "gateway/gw_loadmon.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_query.h"
#include "common/bx_log.h"
#include "common/bx_prom.h"
#include "opt/opt_bucket.h"
#include "opt/opt_trace.h"

#define LM_IV OPT_TRACE_INTERVAL_S
#define LM_INDEX 1024 /* open-addressing index of an open window's cells (2x the cells) */
#define LM_TABLE 512  /* model lookup table (2x the models) */

typedef struct lm_open {
    int64_t ts; /* -1: unused */
    int64_t total, dropped;
    int active; /* an arrival or a completion */
    int32_t ncells;
    opt_trace_cell cells[OPT_TRACE_MAX_CELLS];
    uint16_t index[LM_INDEX]; /* cell + 1, 0 empty */
} lm_open;

typedef struct lm_closed {
    int64_t ts, total, pending, queueing, dropped;
    int active, emitted;
    int32_t ncells;
    opt_trace_cell *cells; /* owned */
} lm_closed;

typedef struct lm_model {
    pthread_mutex_t mu; /* everything below but name and hash */
    char name[GW_LOADMON_NAME_MAX];
    uint64_t hash;
    int idx;               /* in the monitor's slots */
    int64_t pending;       /* in flight now */
    int64_t queueing_seen; /* the last tick's queueing count */
    int64_t last_closed;   /* ts of the last window closed */
    lm_open open[2];       /* by (ts / 10) & 1 */
    lm_closed ring[GW_LOADMON_WINDOWS];
    int head, n; /* oldest at head */
} lm_model;

struct gw_loadmon {
    gw_loadmon_opts o;
    pthread_mutex_t mu; /* inserts into the table */
    lm_model *slots[GW_LOADMON_MODELS];
    int nslots;                 /* atomic */
    lm_model *table[LM_TABLE];  /* atomic pointers, never removed */
    uint64_t overflow, dropped; /* atomic */
    int overflow_logged;        /* atomic */
};

/* ---------- clock and windows ---------- */

static int64_t lm_now_ms(const gw_loadmon *lm)
{
    if (lm->o.now_ms) return lm->o.now_ms(lm->o.now_ud);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t lm_window(int64_t now_ms)
{
    int64_t s = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
    int64_t r = s % LM_IV;
    return s - (r < 0 ? r + LM_IV : r);
}

/* ---------- a model's windows (its mutex held) ---------- */

static void lm_open_reset(lm_open *w, int64_t ts)
{
    w->ts = ts;
    w->total = w->dropped = 0;
    w->active = 0;
    if (w->ncells) memset(w->index, 0, sizeof(w->index));
    w->ncells = 0;
}

static void lm_open_add(lm_open *w, int32_t in, int32_t out, int64_t n, uint64_t *dropped)
{
    uint32_t h = ((uint32_t)in * 2654435761u) ^ ((uint32_t)out * 40503u);
    for (uint32_t k = 0; k < LM_INDEX; k++) {
        uint32_t i = (h + k) & (LM_INDEX - 1);
        uint16_t c = w->index[i];
        if (c == 0) {
            if (w->ncells >= OPT_TRACE_MAX_CELLS) break;
            w->cells[w->ncells] = (opt_trace_cell){in, out, n};
            w->index[i] = (uint16_t)(++w->ncells);
            return;
        }
        opt_trace_cell *cell = &w->cells[c - 1];
        if (cell->in_tick == in && cell->out_tick == out) {
            cell->count += n;
            return;
        }
    }
    w->dropped += n;
    __atomic_add_fetch(dropped, (uint64_t)n, __ATOMIC_RELAXED);
}

/* Appends a closed window to the ring (the oldest goes when it is full). */
static lm_closed *lm_ring_push(lm_model *m, int64_t ts)
{
    lm_closed *c;
    if (m->n == GW_LOADMON_WINDOWS) {
        c = &m->ring[m->head];
        free(c->cells);
        m->head = (m->head + 1) % GW_LOADMON_WINDOWS;
    } else {
        c = &m->ring[(m->head + m->n) % GW_LOADMON_WINDOWS];
        m->n++;
    }
    memset(c, 0, sizeof(*c));
    c->ts = ts;
    c->pending = m->pending;
    c->queueing = m->queueing_seen;
    m->last_closed = ts;
    return c;
}

/* Closes every window of m that starts before w (the window of now), in
 * order: the open ones with their counts, the others empty. */
static void lm_advance(lm_model *m, int64_t w)
{
    if (m->last_closed + LM_IV >= w) return;
    int64_t first = m->last_closed + LM_IV;
    if (first < w - (int64_t)GW_LOADMON_WINDOWS * LM_IV) /* older ones would fall off */
        first = w - (int64_t)GW_LOADMON_WINDOWS * LM_IV;
    for (int b = 0; b < 2; b++) /* open windows older than what is kept: dropped */
        if (m->open[b].ts >= 0 && m->open[b].ts < first) m->open[b].ts = -1;
    for (int64_t t = first; t < w; t += LM_IV) {
        lm_closed *c = lm_ring_push(m, t);
        lm_open *o = &m->open[(t / LM_IV) & 1];
        if (o->ts != t) continue;
        c->total = o->total;
        c->dropped = o->dropped;
        c->active = o->active;
        if (o->ncells) {
            c->cells = malloc((size_t)o->ncells * sizeof(*c->cells));
            if (c->cells) {
                memcpy(c->cells, o->cells, (size_t)o->ncells * sizeof(*c->cells));
                c->ncells = o->ncells;
            } else { /* out of memory: the counts go to dropped */
                for (int32_t i = 0; i < o->ncells; i++)
                    c->dropped += o->cells[i].count;
            }
        }
        o->ts = -1;
    }
}

/* The open window of w (m's windows before it are closed). A w already
 * closed (the clock was read before a close took the mutex, or it stepped
 * back) counts in the first window still open. */
static lm_open *lm_current(lm_model *m, int64_t w)
{
    if (w <= m->last_closed) w = m->last_closed + LM_IV;
    lm_advance(m, w);
    lm_open *o = &m->open[(w / LM_IV) & 1];
    if (o->ts != w) lm_open_reset(o, w);
    return o;
}

/* ---------- the model table ---------- */

static uint64_t lm_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static lm_model *lm_find(gw_loadmon *lm, const char *name, uint64_t h)
{
    for (uint32_t k = 0; k < LM_TABLE; k++) {
        lm_model *m = __atomic_load_n(&lm->table[(h + k) & (LM_TABLE - 1)], __ATOMIC_ACQUIRE);
        if (!m) return NULL;
        if (m->hash == h && strcmp(m->name, name) == 0) return m;
    }
    return NULL;
}

/* The slot of name, made on first sight (index + 1), or 0. */
static int lm_slot(gw_loadmon *lm, const char *name, int64_t now_ms)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= GW_LOADMON_NAME_MAX) return 0;
    uint64_t h = lm_hash(name);
    lm_model *m = lm_find(lm, name, h);
    if (!m) {
        pthread_mutex_lock(&lm->mu);
        m = lm_find(lm, name, h);
        if (!m && lm->nslots < GW_LOADMON_MODELS && (m = calloc(1, sizeof(*m)))) {
            if (pthread_mutex_init(&m->mu, NULL) != 0) {
                free(m);
                m = NULL;
            } else {
                memcpy(m->name, name, len + 1);
                m->hash = h;
                m->last_closed = lm_window(now_ms) - LM_IV; /* no history before */
                m->open[0].ts = m->open[1].ts = -1;
                int idx = lm->nslots;
                m->idx = idx;
                lm->slots[idx] = m;
                uint32_t k = 0;
                while (lm->table[(h + k) & (LM_TABLE - 1)])
                    k++;
                __atomic_store_n(&lm->table[(h + k) & (LM_TABLE - 1)], m, __ATOMIC_RELEASE);
                __atomic_store_n(&lm->nslots, idx + 1, __ATOMIC_RELEASE);
            }
        }
        pthread_mutex_unlock(&lm->mu);
        if (!m) {
            __atomic_add_fetch(&lm->overflow, 1, __ATOMIC_RELAXED);
            if (!__atomic_exchange_n(&lm->overflow_logged, 1, __ATOMIC_RELAXED)) {
                char e[BX_LOG_ESC_MAX];
                bx_warn("load monitor: more than %d models, '%s' and later ones are not "
                        "recorded (brix_gateway_load_overflow_total counts their requests)",
                        GW_LOADMON_MODELS, bx_log_escape(e, sizeof(e), name, BX_LOG_CSTR));
            }
            return 0;
        }
    }
    return m->idx + 1;
}

static int lm_nslots(gw_loadmon *lm)
{
    return __atomic_load_n(&lm->nslots, __ATOMIC_ACQUIRE);
}

/* ---------- lifecycle and recording ---------- */

int gw_loadmon_new(gw_loadmon **out, const gw_loadmon_opts *opts)
{
    gw_loadmon *lm = calloc(1, sizeof(*lm));
    if (!lm) return -1;
    if (opts) lm->o = *opts;
    if (pthread_mutex_init(&lm->mu, NULL) != 0) {
        free(lm);
        return -1;
    }
    *out = lm;
    return 0;
}

void gw_loadmon_free(gw_loadmon *lm)
{
    if (!lm) return;
    for (int i = 0; i < lm->nslots; i++) {
        lm_model *m = lm->slots[i];
        for (int k = 0; k < GW_LOADMON_WINDOWS; k++)
            free(m->ring[k].cells);
        pthread_mutex_destroy(&m->mu);
        free(m);
    }
    pthread_mutex_destroy(&lm->mu);
    free(lm);
}

int gw_loadmon_arrive(gw_loadmon *lm, const char *model)
{
    if (!lm) return 0;
    int64_t now = lm_now_ms(lm);
    int h = lm_slot(lm, model, now);
    if (!h) return 0;
    lm_model *m = lm->slots[h - 1];
    pthread_mutex_lock(&m->mu);
    lm_open *o = lm_current(m, lm_window(now));
    o->total++;
    o->active = 1;
    m->pending++;
    pthread_mutex_unlock(&m->mu);
    return h;
}

void gw_loadmon_done(gw_loadmon *lm, int h, int completed, int64_t in_tokens, int64_t out_tokens)
{
    if (!lm || h <= 0 || h > lm_nslots(lm)) return;
    lm_model *m = lm->slots[h - 1];
    int64_t now = lm_now_ms(lm);
    int32_t in = (int32_t)opt_bucket_tick(in_tokens), out = (int32_t)opt_bucket_tick(out_tokens);
    pthread_mutex_lock(&m->mu);
    lm_advance(m, lm_window(now)); /* windows closed before: it was in flight then */
    if (m->pending > 0) m->pending--;
    if (completed) {
        lm_open *o = lm_current(m, lm_window(now));
        o->active = 1;
        lm_open_add(o, in, out, 1, &lm->dropped);
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---------- copies for readers ---------- */

/* A closed window as an opt_trace (t: caller's, OPT_TRACE_MAX_CELLS). */
static void lm_to_trace(const lm_closed *c, opt_trace *t)
{
    opt_trace_init(t, c->ts);
    t->total_reqs = c->total;
    t->pending_reqs = c->pending;
    t->queueing_reqs = c->queueing;
    t->dropped = c->dropped;
    t->ncells = c->ncells;
    if (c->ncells) memcpy(t->cells, c->cells, (size_t)c->ncells * sizeof(*t->cells));
}

/* Deep copies of m's closed windows with ts > since (cells malloc'd): the
 * caller frees them with lm_copies_free. -1 out of memory. */
static int lm_copy(gw_loadmon *lm, lm_model *m, int64_t since, lm_closed **out, int *nout,
                   int64_t now_ms)
{
    (void)lm;
    *out = NULL;
    *nout = 0;
    pthread_mutex_lock(&m->mu);
    lm_advance(m, lm_window(now_ms));
    lm_closed *cp = m->n ? calloc((size_t)m->n, sizeof(*cp)) : NULL;
    int k = 0, rc = (m->n && !cp) ? -1 : 0;
    for (int i = 0; cp && i < m->n; i++) {
        const lm_closed *c = &m->ring[(m->head + i) % GW_LOADMON_WINDOWS];
        if (c->ts <= since) continue;
        cp[k] = *c;
        cp[k].cells = NULL;
        if (c->ncells) {
            cp[k].cells = malloc((size_t)c->ncells * sizeof(*c->cells));
            if (!cp[k].cells) {
                rc = -1;
                break;
            }
            memcpy(cp[k].cells, c->cells, (size_t)c->ncells * sizeof(*c->cells));
        }
        k++;
    }
    pthread_mutex_unlock(&m->mu);
    *out = cp;
    *nout = k;
    return rc;
}

static void lm_copies_free(lm_closed *c, int n)
{
    for (int i = 0; i < n; i++)
        free(c[i].cells);
    free(c);
}

/* ---------- tick ---------- */

int64_t gw_loadmon_tick(gw_loadmon *lm, gw_loadmon_queueing_fn queueing, void *qud,
                        gw_loadmon_emit_fn emit, void *eud)
{
    int64_t now = lm_now_ms(lm), w = lm_window(now);
    opt_trace *t = emit ? malloc(sizeof(*t)) : NULL;
    int n = lm_nslots(lm);
    for (int i = 0; i < n; i++) {
        lm_model *m = lm->slots[i];
        int q = queueing ? queueing(qud, m->name) : 0;
        pthread_mutex_lock(&m->mu);
        m->queueing_seen = q;
        lm_advance(m, w);
        int nemit = 0;
        lm_closed todo[GW_LOADMON_WINDOWS];
        for (int k = 0; k < m->n; k++) {
            lm_closed *c = &m->ring[(m->head + k) % GW_LOADMON_WINDOWS];
            if (c->emitted) continue;
            c->emitted = 1;
            if (!c->active || !t) continue;
            todo[nemit] = *c;
            todo[nemit].cells = NULL;
            if (c->ncells && (todo[nemit].cells = malloc((size_t)c->ncells * sizeof(*c->cells))))
                memcpy(todo[nemit].cells, c->cells, (size_t)c->ncells * sizeof(*c->cells));
            else
                todo[nemit].ncells = 0;
            nemit++;
        }
        pthread_mutex_unlock(&m->mu);
        for (int k = 0; k < nemit; k++) {
            lm_to_trace(&todo[k], t);
            char *json = opt_trace_to_json(t);
            if (json) emit(eud, m->name, todo[k].ts, todo[k].ts + LM_IV, json);
            free(json);
            free(todo[k].cells);
        }
    }
    free(t);
    now = lm_now_ms(lm);
    int64_t left = (lm_window(now) + LM_IV) * 1000 - now;
    return left > 0 ? left : 1;
}

/* ---------- /brix/load ---------- */

static int lm_json_str(bx_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!d) return -1;
    int rc = bx_buf_appends(b, d);
    free(d);
    return rc;
}

static int lm_json_model(gw_loadmon *lm, lm_model *m, const char *name, int64_t since, bx_buf *b,
                         opt_trace *t, int64_t now)
{
    int rc = bx_buf_appends(b, "{\"model\":");
    rc |= lm_json_str(b, name);
    rc |= bx_buf_appends(b, ",\"windows\":[");
    lm_closed *cp = NULL;
    int n = 0;
    if (m && lm_copy(lm, m, since, &cp, &n, now) != 0) rc = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        lm_to_trace(&cp[i], t);
        char *j = opt_trace_to_json(t);
        if (!j) {
            rc = -1;
            break;
        }
        rc |=
            bx_buf_printf(b, "%s{\"ts\":%lld,\"trace\":%s}", i ? "," : "", (long long)cp[i].ts, j);
        free(j);
    }
    lm_copies_free(cp, n);
    rc |= bx_buf_appends(b, "]}");
    return rc ? -1 : 0;
}

int gw_loadmon_json(gw_loadmon *lm, const char *model, int64_t since, bx_buf *out)
{
    opt_trace *t = malloc(sizeof(*t));
    if (!t) return -1;
    int64_t now = lm_now_ms(lm);
    int rc = 0;
    if (model) {
        lm_model *m = *model ? lm_find(lm, model, lm_hash(model)) : NULL;
        rc = lm_json_model(lm, m, model, since, out, t, now);
    } else {
        rc = bx_buf_appends(out, "{\"models\":[");
        int n = lm_nslots(lm);
        for (int i = 0; i < n && rc == 0; i++) {
            if (i) rc |= bx_buf_appends(out, ",");
            rc |= lm_json_model(lm, lm->slots[i], lm->slots[i]->name, since, out, t, now);
        }
        rc |= bx_buf_appends(out, "]}");
    }
    free(t);
    return rc ? -1 : 0;
}

/* ---------- /metrics ---------- */

static int lm_cell_cmp(const void *a, const void *b)
{
    const opt_trace_cell *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->in_tick != y->in_tick) return x->in_tick < y->in_tick ? -1 : 1;
    return x->out_tick < y->out_tick ? -1 : x->out_tick > y->out_tick;
}

typedef struct lm_last {
    char labels[GW_LOADMON_NAME_MAX * 2 + 16]; /* model="..." */
    int have;
    lm_closed c; /* cells sorted by count, owned */
} lm_last;

static const char *const lm_gauges[][2] = {
    {"brix_gateway_load_requests",
     "requests that arrived in the model's last complete 10 s load window (AIBrix's "
     "meta_total_reqs)"},
    {"brix_gateway_load_rps", "arrival rate over the model's last complete load window"},
    {"brix_gateway_load_completed",
     "requests completed in the model's last complete load window (its buckets' sum)"},
    {"brix_gateway_load_pending", "requests in flight when the window closed"},
    {"brix_gateway_load_queueing", "requests waiting for a route when the window closed"},
};

int gw_loadmon_metrics(gw_loadmon *lm, bx_buf *b)
{
    int n = lm_nslots(lm);
    int64_t now = lm_now_ms(lm);
    lm_last *last = n ? calloc((size_t)n, sizeof(*last)) : NULL;
    if (n && !last) return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        lm_model *m = lm->slots[i];
        char esc[GW_LOADMON_NAME_MAX * 2];
        bx_prom_escape(esc, sizeof(esc), m->name);
        snprintf(last[i].labels, sizeof(last[i].labels), "model=\"%s\"", esc);
        pthread_mutex_lock(&m->mu);
        lm_advance(m, lm_window(now));
        if (m->n) {
            const lm_closed *c = &m->ring[(m->head + m->n - 1) % GW_LOADMON_WINDOWS];
            last[i].c = *c;
            last[i].c.cells = NULL;
            last[i].have = 1;
            if (c->ncells && (last[i].c.cells = malloc((size_t)c->ncells * sizeof(*c->cells))))
                memcpy(last[i].c.cells, c->cells, (size_t)c->ncells * sizeof(*c->cells));
            else
                last[i].c.ncells = 0;
        }
        pthread_mutex_unlock(&m->mu);
        if (last[i].c.ncells)
            qsort(last[i].c.cells, (size_t)last[i].c.ncells, sizeof(opt_trace_cell), lm_cell_cmp);
    }
    for (size_t g = 0; g < sizeof(lm_gauges) / sizeof(lm_gauges[0]); g++) {
        rc |= bx_prom_head(b, lm_gauges[g][0], "gauge", lm_gauges[g][1]);
        for (int i = 0; i < n; i++) {
            if (!last[i].have) continue;
            const lm_closed *c = &last[i].c;
            int64_t done = c->dropped;
            for (int32_t k = 0; k < c->ncells; k++)
                done += c->cells[k].count;
            double v = g == 0   ? (double)c->total
                       : g == 1 ? (double)c->total / LM_IV
                       : g == 2 ? (double)done
                       : g == 3 ? (double)c->pending
                                : (double)c->queueing;
            rc |= bx_prom_value(b, lm_gauges[g][0], last[i].labels, v);
        }
    }
    rc |= bx_prom_head(b, "brix_gateway_load_bucket_requests", "gauge",
                       "requests completed in the model's last complete load window by AIBrix "
                       "bucket \"<input tick>:<output tick>\" (tenths of log2 tokens), the 20 "
                       "biggest; the rest (and those beyond the bucket bound) in bucket=\"other\"");
    for (int i = 0; i < n; i++) {
        if (!last[i].have) continue;
        const lm_closed *c = &last[i].c;
        int64_t other = c->dropped;
        for (int32_t k = 0; k < c->ncells; k++) {
            if (k >= GW_LOADMON_TOP) {
                other += c->cells[k].count;
                continue;
            }
            char lab[sizeof(last[i].labels) + 64];
            snprintf(lab, sizeof(lab), "%s,bucket=\"%d:%d\"", last[i].labels,
                     (int)c->cells[k].in_tick, (int)c->cells[k].out_tick);
            rc |= bx_prom_value(b, "brix_gateway_load_bucket_requests", lab,
                                (double)c->cells[k].count);
        }
        char lab[sizeof(last[i].labels) + 32];
        snprintf(lab, sizeof(lab), "%s,bucket=\"other\"", last[i].labels);
        rc |= bx_prom_value(b, "brix_gateway_load_bucket_requests", lab, (double)other);
    }
    gw_loadmon_stats st;
    gw_loadmon_stats_get(lm, &st);
    rc |= bx_prom_head(b, "brix_gateway_load_models", "gauge",
                       "models the load monitor keeps windows for (at most 256)");
    rc |= bx_prom_value(b, "brix_gateway_load_models", "", st.models);
    rc |= bx_prom_head(b, "brix_gateway_load_overflow_total", "counter",
                       "requests of models beyond the load monitor's 256, not recorded");
    rc |= bx_prom_value(b, "brix_gateway_load_overflow_total", "", (double)st.overflow);
    rc |= bx_prom_head(b, "brix_gateway_load_dropped_total", "counter",
                       "completed requests beyond a window's bucket bound (512), counted in "
                       "no bucket");
    rc |= bx_prom_value(b, "brix_gateway_load_dropped_total", "", (double)st.dropped);
    for (int i = 0; i < n; i++)
        free(last[i].c.cells);
    free(last);
    return rc ? -1 : 0;
}

void gw_loadmon_stats_get(gw_loadmon *lm, gw_loadmon_stats *out)
{
    out->models = lm_nslots(lm);
    out->overflow = __atomic_load_n(&lm->overflow, __ATOMIC_RELAXED);
    out->dropped = __atomic_load_n(&lm->dropped, __ATOMIC_RELAXED);
}

/* ---------- the query string ---------- */

int gw_loadmon_query(const char *query, char *model, size_t cap, int64_t *since, char *err,
                     size_t errlen)
{
    if (cap) model[0] = '\0';
    *since = -1;
    int have_model = 0, have_since = 0;
    const char *q = query ? query : "";
    while (*q) {
        size_t seg = strcspn(q, "&");
        const char *eq = memchr(q, '=', seg);
        size_t klen = eq ? (size_t)(eq - q) : seg;
        const char *v = eq ? eq + 1 : q + seg;
        size_t vlen = (size_t)(q + seg - v);
        if (klen == 5 && !memcmp(q, "model", 5)) {
            if (have_model++) {
                snprintf(err, errlen, "model: given twice");
                return -1;
            }
            if (bx_query_decode(v, vlen, model, cap) != 0) {
                snprintf(err, errlen, "model: bad percent-escape, NUL or longer than %zu bytes",
                         cap ? cap - 1 : 0);
                return -1;
            }
        } else if (klen == 5 && !memcmp(q, "since", 5)) {
            if (have_since++) {
                snprintf(err, errlen, "since: given twice");
                return -1;
            }
            char num[16];
            if (bx_query_decode(v, vlen, num, sizeof(num)) != 0 || !num[0]) {
                snprintf(err, errlen, "since: must be unix seconds");
                return -1;
            }
            int64_t x = 0;
            for (const char *p = num; *p; p++) {
                if (*p < '0' || *p > '9' || x > 100000000000LL) {
                    snprintf(err, errlen, "since: must be unix seconds (0..10^12)");
                    return -1;
                }
                x = x * 10 + (*p - '0');
            }
            if (x > 1000000000000LL) {
                snprintf(err, errlen, "since: must be unix seconds (0..10^12)");
                return -1;
            }
            *since = x;
        }
        q += seg;
        if (*q == '&') q++;
    }
    return 0;
}

int gw_loadmon_flag_true(const char *v)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    if (!v) return 0;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!strcmp(v, yes[i])) return 1;
    return 0;
}
