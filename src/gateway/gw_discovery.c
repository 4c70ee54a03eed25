/* gw_discovery: see gw_discovery.h. One uv timer polls every tracked engine
 * whose previous poll has finished; per-engine state (the request in flight
 * and a reused body buffer) lives in a table indexed by the registry's
 * stable engine id. The static source is at the end of this file; future
 * sources (Kubernetes, a config file watch) get a file each. */
#include "gateway/gw_discovery.h"
#include "gateway/gw_pd.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_apikey.h"
#include "common/bx_buf.h"
#include "common/bx_json.h"
#include "common/bx_log.h"

/* ---- /v1/models parsing ---- */

static int gw_disc_has_adapter(const gw_disc_models *m, const char *id)
{
    for (int i = 0; i < m->nadapters; i++)
        if (!strcmp(m->adapters[i], id)) return 1;
    return 0;
}

int gw_disc_parse_models(const char *body, size_t len, size_t max_bytes, gw_disc_models *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!max_bytes) max_bytes = GW_DISC_MODELS_MAX_BYTES;
    if (len > max_bytes) {
        snprintf(err, errlen, "models body of %zu bytes is over the %zu-byte limit", len,
                 max_bytes);
        return -1;
    }
    json_t *root = bx_json_parse_object(body, len, max_bytes, err, errlen);
    if (!root) return -1;
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data)) {
        snprintf(err, errlen, "models body has no \"data\" array");
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *ent;
    json_array_foreach(data, i, ent)
    {
        json_t *id = json_object_get(ent, "id"); /* NULL when ent is no object */
        json_t *parent = json_object_get(ent, "parent");
        const char *s = json_string_value(id);
        if (!s || !s[0] || strlen(s) >= GW_NAME_MAX ||
            (parent && !json_is_null(parent) && !json_is_string(parent))) {
            out->nskipped++;
            continue;
        }
        if (!parent || json_is_null(parent)) {
            if (out->nbase++ == 0) snprintf(out->model, sizeof(out->model), "%s", s);
            continue;
        }
        if (gw_disc_has_adapter(out, s)) continue;
        if (out->nadapters >= GW_MAX_ADAPTERS) {
            out->nskipped++;
            continue;
        }
        snprintf(out->adapters[out->nadapters++], GW_NAME_MAX, "%s", s);
    }
    json_decref(root);
    return 0;
}

int gw_disc_backend_addr(const char *spec, char *out, size_t outlen)
{
    const char *p = spec;
    if (!strncasecmp(p, "http://", 7))
        p += 7;
    else if (strstr(p, "://"))
        return -1; /* https and others: the client speaks plain HTTP */
    size_t n = strlen(p);
    if (n && p[n - 1] == '/') n--;
    if (!n || n >= outlen || memchr(p, '/', n)) return -1;
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (p[i] == ':') colon = p + i;
    if (!colon || colon == p) return -1;
    size_t digits = n - (size_t)(colon + 1 - p);
    if (!digits || digits > 5) return -1;
    long port = 0;
    for (const char *q = colon + 1; q < p + n; q++) {
        if (!isdigit((unsigned char)*q)) return -1;
        port = port * 10 + (*q - '0');
    }
    if (port <= 0 || port > 65535) return -1;
    /* an IPv6 literal must be bracketed, so its colons are not the port's */
    if (memchr(p, ':', (size_t)(colon - p)) && !(p[0] == '[' && colon[-1] == ']')) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* ---- core ---- */

typedef struct gw_disc_eng {
    gw_disc *d;
    gw_engine *e;
    int tracked; /* listed by the source now */
    bx_http_creq *cr;
    int status;
    int toobig;
    int repoll;       /* poked while a poll was in flight */
    int fails;        /* consecutive failed polls */
    int failing;      /* last poll failed (for logging state changes only) */
    int pinned;       /* model and adapters come from the source, not /v1/models */
    uint64_t gone_ms; /* uv_now when the source stopped listing it */
    bx_buf body;
} gw_disc_eng;

struct gw_disc {
    uv_loop_t *loop;
    gw_registry *reg;
    bx_http_client *client;
    int own_client;
    gw_disc_opts opts;
    const gw_disc_source *src;
    void *src_state;
    uv_timer_t timer;
    int running, closing, timer_closed;
    int inflight;
    gw_disc_eng **eng; /* GW_MAX_ENGINES slots, by engine id */
    gw_disc_stats stats;
    uint64_t full_logged_ms; /* last "table full" warning (one a minute) */
    int synced;              /* the source's first complete view is in (atomic) */
    void (*close_cb)(void *ud);
    void *close_ud;
};

void gw_disc_opts_default(gw_disc_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->interval_ms = 5000;
    o->timeout_ms = 3000;
    o->fail_after = 2;
    o->max_body_bytes = GW_DISC_MODELS_MAX_BYTES;
    o->reuse_after_ms = 60000;
}

/* on_change runs under the registry lock (gw_engine.h): it may touch what
 * the lock guards, and must not take it. */
static void gw_disc_changed(gw_disc *d, gw_engine *e)
{
    if (!d->opts.on_change) return;
    gw_registry_lock(d->reg);
    d->opts.on_change(e, d->opts.ud);
    gw_registry_unlock(d->reg);
}

static void gw_disc_maybe_free(gw_disc *d)
{
    if (!d->closing || !d->timer_closed || d->inflight) return;
    for (int i = 0; i < GW_MAX_ENGINES; i++) {
        if (!d->eng[i]) continue;
        bx_buf_free(&d->eng[i]->body);
        free(d->eng[i]);
    }
    free(d->eng);
    if (d->own_client) bx_http_client_close(d->client);
    void (*cb)(void *) = d->close_cb;
    void *ud = d->close_ud;
    free(d);
    if (cb) cb(ud);
}

/* Applies a good answer; returns 1 when something the router sees changed.
 * A pinned engine takes only the readiness from it. */
static int gw_disc_apply(gw_engine *e, const gw_disc_models *m, int pinned)
{
    int changed = 0;
    if (pinned) {
    } else if (strcmp(e->model, m->model)) {
        snprintf(e->model, sizeof(e->model), "%s", m->model);
        changed = 1;
    }
    if (!pinned &&
        (e->nadapters != m->nadapters ||
         memcmp(e->adapters, m->adapters, (size_t)m->nadapters * sizeof(m->adapters[0])))) {
        memcpy(e->adapters, m->adapters, (size_t)m->nadapters * sizeof(m->adapters[0]));
        e->nadapters = m->nadapters;
        changed = 1;
    }
    if (!e->ready && !e->gone) {
        e->ready = 1;
        changed = 1;
    }
    return changed;
}

static void gw_disc_poll(gw_disc_eng *de);

static void gw_disc_on_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t n,
                                void *ud)
{
    (void)cr;
    (void)h;
    (void)n;
    ((gw_disc_eng *)ud)->status = status;
}

static void gw_disc_on_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    gw_disc_eng *de = ud;
    if (de->toobig) return;
    if (de->body.len + len > de->d->opts.max_body_bytes ||
        bx_buf_append(&de->body, data, len) != 0) {
        de->toobig = 1;
        bx_http_client_cancel(cr);
    }
}

static void gw_disc_on_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    gw_disc_eng *de = ud;
    gw_disc *d = de->d;
    gw_engine *e = de->e;
    de->cr = NULL;
    d->inflight--;
    if (d->closing) {
        gw_disc_maybe_free(d);
        return;
    }
    if (err == BX_HTTP_ECANCELED && !de->toobig) return; /* stopped */
    d->stats.polls++;
    char why[256] = "";
    gw_disc_models m;
    int ok = 0;
    if (de->toobig)
        snprintf(why, sizeof(why), "body over %zu bytes", d->opts.max_body_bytes);
    else if (err)
        snprintf(why, sizeof(why), "%s", bx_http_strerror(err));
    else if (de->status != 200)
        snprintf(why, sizeof(why), "HTTP %d", de->status);
    else if (gw_disc_parse_models(de->body.data, de->body.len, d->opts.max_body_bytes, &m, why,
                                  sizeof(why)) != 0)
        ;
    else if (!m.model[0])
        snprintf(why, sizeof(why), "no base model listed");
    else
        ok = 1;
    /* keep the buffer's memory for the next poll, but not a huge one */
    if (de->body.cap > 64 * 1024)
        bx_buf_free(&de->body);
    else
        bx_buf_reset(&de->body);

    if (!de->tracked) { /* went away while the poll ran */
    } else if (ok) {
        de->fails = 0;
        if (de->failing) bx_info("discovery: engine %s answers /v1/models again", e->addr);
        de->failing = 0;
        int was_ready = e->ready;
        gw_registry_lock(d->reg);
        int changed = gw_disc_apply(e, &m, de->pinned);
        gw_registry_unlock(d->reg);
        if (changed) {
            char em[BX_LOG_ESC_MAX]; /* the engine's own string */
            bx_log_escape(em, sizeof(em), m.model, BX_LOG_CSTR);
            if (!was_ready)
                bx_info("discovery: engine %s ready, model %s, %d adapter(s)", e->addr, em,
                        e->nadapters);
            else
                bx_debug("discovery: engine %s now serves %s and %d adapter(s)", e->addr, em,
                         e->nadapters);
            gw_disc_changed(d, e);
        }
        if (m.nbase > 1 || m.nskipped)
            bx_debug("discovery: engine %s lists %d base models (first kept), %d entries skipped",
                     e->addr, m.nbase, m.nskipped);
    } else {
        d->stats.failures++;
        de->fails++;
        char ew[BX_LOG_ESC_MAX]; /* a parse error quotes the engine's bytes */
        if (!de->failing)
            bx_warn("discovery: engine %s /v1/models failed: %s", e->addr,
                    bx_log_escape(ew, sizeof(ew), why, BX_LOG_CSTR));
        de->failing = 1;
        if (e->ready && de->fails >= d->opts.fail_after) {
            gw_registry_lock(d->reg);
            e->ready = 0;
            gw_registry_note_down(d->reg, e); /* its answers in flight end */
            gw_registry_unlock(d->reg);
            bx_warn("discovery: engine %s not ready after %d failed polls", e->addr, de->fails);
            gw_disc_changed(d, e);
        }
    }
    if (de->tracked && de->repoll && d->running) {
        de->repoll = 0;
        gw_disc_poll(de);
    }
}

static void gw_disc_poll(gw_disc_eng *de)
{
    gw_disc *d = de->d;
    if (de->cr || d->closing) return;
    de->status = 0;
    de->toobig = 0;
    bx_buf_reset(&de->body);
    char auth[GW_KEY_MAX + 8];
    gw_registry_lock(d->reg);
    int keyed = gw_engine_auth(de->e, auth, sizeof(auth));
    gw_registry_unlock(d->reg);
    bx_http_header h[] = {{"Accept", "application/json"}, {"Authorization", auth}};
    bx_http_client_req r = {.method = "GET",
                            .host = de->e->host,
                            .port = de->e->port,
                            .path = "/v1/models",
                            .headers = h,
                            .nheaders = keyed ? 2 : 1,
                            .timeout_ms = d->opts.timeout_ms};
    static const bx_http_client_cbs cbs = {gw_disc_on_response, gw_disc_on_data, gw_disc_on_done};
    int rc = bx_http_client_request(d->client, &r, &cbs, de, &de->cr);
    if (rc != 0) {
        de->cr = NULL;
        if (!de->failing)
            bx_warn("discovery: cannot poll %s: %s", de->e->addr, bx_http_strerror(rc));
        de->failing = 1;
        return;
    }
    d->inflight++;
}

static void gw_disc_on_timer(uv_timer_t *t)
{
    gw_disc *d = t->data;
    for (int i = 0; i < d->reg->n; i++)
        if (d->eng[i] && d->eng[i]->tracked) gw_disc_poll(d->eng[i]);
}

static void gw_disc_on_timer_closed(uv_handle_t *h)
{
    gw_disc *d = h->data;
    d->timer_closed = 1;
    gw_disc_maybe_free(d);
}

int gw_disc_init(gw_disc **out, uv_loop_t *loop, gw_registry *reg, bx_http_client *client,
                 const gw_disc_source *src, const char *const *args, int nargs,
                 const gw_disc_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    gw_disc *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->loop = loop;
    d->reg = reg;
    if (opts)
        d->opts = *opts;
    else
        gw_disc_opts_default(&d->opts);
    gw_disc_opts def;
    gw_disc_opts_default(&def);
    if (!d->opts.interval_ms) d->opts.interval_ms = def.interval_ms;
    if (d->opts.fail_after < 1) d->opts.fail_after = def.fail_after;
    if (!d->opts.max_body_bytes) d->opts.max_body_bytes = def.max_body_bytes;
    if (!d->opts.reuse_after_ms) d->opts.reuse_after_ms = def.reuse_after_ms;
    d->eng = calloc(GW_MAX_ENGINES, sizeof(*d->eng));
    if (!d->eng) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (client) {
        d->client = client;
    } else {
        int rc = bx_http_client_init(&d->client, loop, NULL);
        if (rc != 0) {
            free(d->eng);
            free(d);
            snprintf(err, errlen, "http client: %s", bx_http_strerror(rc));
            return -1;
        }
        d->own_client = 1;
    }
    d->src = src;
    if (src->init(&d->src_state, d, loop, args, nargs, err, errlen) != 0) {
        if (d->own_client) bx_http_client_close(d->client);
        free(d->eng);
        free(d);
        return -1;
    }
    int rc = uv_timer_init(loop, &d->timer);
    if (rc != 0) {
        src->close(d->src_state);
        if (d->own_client) bx_http_client_close(d->client);
        free(d->eng);
        free(d);
        snprintf(err, errlen, "timer: %s", uv_strerror(rc));
        return -1;
    }
    d->timer.data = d;
    *out = d;
    return 0;
}

int gw_disc_start(gw_disc *d)
{
    if (d->closing) return -1;
    if (d->running) return 0;
    d->running = 1;
    int rc = uv_timer_start(&d->timer, gw_disc_on_timer, 0, d->opts.interval_ms);
    if (rc != 0) {
        bx_error("discovery: timer: %s", uv_strerror(rc));
        d->running = 0;
        return -1;
    }
    if (d->src->start(d->src_state) != 0) {
        uv_timer_stop(&d->timer);
        d->running = 0;
        return -1;
    }
    return 0;
}

void gw_disc_stop(gw_disc *d)
{
    if (!d->running) return;
    d->running = 0;
    d->src->stop(d->src_state);
    uv_timer_stop(&d->timer);
    for (int i = 0; i < d->reg->n; i++)
        if (d->eng[i]) {
            d->eng[i]->repoll = 0;
            if (d->eng[i]->cr) bx_http_client_cancel(d->eng[i]->cr);
        }
}

void gw_disc_close(gw_disc *d, void (*cb)(void *ud), void *ud)
{
    if (!d || d->closing) return;
    gw_disc_stop(d);
    for (int i = 0; i < d->reg->n; i++)
        if (d->eng[i] && d->eng[i]->cr) bx_http_client_cancel(d->eng[i]->cr);
    d->src->close(d->src_state);
    d->src_state = NULL;
    d->closing = 1;
    d->close_cb = cb;
    d->close_ud = ud;
    uv_close((uv_handle_t *)&d->timer, gw_disc_on_timer_closed);
}

/* Sets a pinned engine's served names (under the lock); 1 when they changed. */
static int gw_disc_pin(gw_engine *e, const gw_disc_engine_info *in)
{
    char ad[GW_MAX_ADAPTERS][GW_NAME_MAX];
    int na = 0;
    memset(ad, 0, sizeof(ad));
    for (int i = 0; i < in->nadapters && na < GW_MAX_ADAPTERS; i++) {
        const char *a = in->adapters[i];
        if (!a || !a[0] || strlen(a) >= GW_NAME_MAX) continue;
        int dup = 0;
        for (int k = 0; k < na && !dup; k++)
            dup = !strcmp(ad[k], a);
        if (!dup) snprintf(ad[na++], GW_NAME_MAX, "%s", a);
    }
    int changed = 0;
    if (strcmp(e->model, in->model)) {
        snprintf(e->model, sizeof(e->model), "%s", in->model);
        changed = 1;
    }
    if (e->nadapters != na || memcmp(e->adapters, ad, (size_t)na * sizeof(ad[0]))) {
        memset(e->adapters, 0, sizeof(e->adapters));
        memcpy(e->adapters, ad, (size_t)na * sizeof(ad[0]));
        e->nadapters = na;
        changed = 1;
    }
    return changed;
}

/* The registry is full: the slot of the engine gone longest (at least
 * reuse_after_ms, nothing in flight, no poll of ours running) goes to addr.
 * Under the lock. NULL when there is none. */
static gw_engine *gw_disc_reuse(gw_disc *d, const char *addr)
{
    uint64_t now = uv_now(d->loop);
    gw_disc_eng *best = NULL;
    for (int i = 0; i < d->reg->n; i++) {
        gw_disc_eng *de = d->eng[i];
        if (!de || de->tracked || de->cr || !de->e->gone || de->e->inflight) continue;
        if (now - de->gone_ms < d->opts.reuse_after_ms) continue;
        if (!best || de->gone_ms < best->gone_ms) best = de;
    }
    if (!best) return NULL;
    char old[GW_NAME_MAX];
    snprintf(old, sizeof(old), "%s", best->e->addr);
    gw_engine *e = gw_registry_reuse(d->reg, best->e, addr);
    if (!e) return NULL;
    e->gone = 1; /* as a new engine: the caller revives it */
    best->fails = best->failing = best->repoll = best->pinned = 0;
    bx_buf_reset(&best->body);
    bx_info("discovery: engine slot %d of %s (gone) reused for %s", e->id, old, addr);
    return e;
}

int gw_disc_set_engines_info(gw_disc *d, const gw_disc_engine_info *infos, int n)
{
    if (d->closing) return 0;
    for (int i = 0; i < d->reg->n; i++)
        if (d->eng[i]) d->eng[i]->tracked = -d->eng[i]->tracked; /* 1 -> -1: unconfirmed */
    int accepted = 0;
    for (int k = 0; k < n; k++) {
        const gw_disc_engine_info *in = &infos[k];
        int pinned = in->model && in->model[0] && strlen(in->model) < GW_NAME_MAX;
        gw_registry_lock(d->reg);
        gw_engine *e = gw_registry_find(d->reg, in->addr);
        int was_gone = e ? e->gone : 1;
        if (!e) e = gw_registry_add(d->reg, in->addr);
        int full = !e && d->reg->n >= GW_MAX_ENGINES;
        if (full) e = gw_disc_reuse(d, in->addr);
        if (e) {
            e->gone = 0;
            snprintf(e->name, sizeof(e->name), "%s", in->name ? in->name : "");
            const char *grp = in->group && strlen(in->group) < sizeof(e->group) ? in->group : "";
            snprintf(e->group, sizeof(e->group), "%s", grp);
            const char *rs =
                in->roleset && strlen(in->roleset) < sizeof(e->roleset) ? in->roleset : "";
            snprintf(e->roleset, sizeof(e->roleset), "%s", rs);
            e->pd_role = rs[0] ? gw_pd_role_parse(in->pd_role) : GW_PD_ROLE_NONE;

            e->kv_events = in->kv_events;
            const char *key = in->api_key ? in->api_key : d->opts.api_key;
            snprintf(e->api_key, sizeof(e->api_key), "%s",
                     bx_apikey_header_safe(key, sizeof(e->api_key)) ? key : "");
        }
        gw_registry_unlock(d->reg);
        if (!e) {
            char ea[BX_LOG_ESC_MAX];
            uint64_t now = uv_now(d->loop);
            if (!full)
                bx_warn("discovery: cannot add engine %s (malformed)",
                        bx_log_escape(ea, sizeof(ea), in->addr, BX_LOG_CSTR));
            else if (!d->full_logged_ms || now - d->full_logged_ms >= 60000) {
                d->full_logged_ms = now;
                bx_warn("discovery: cannot add engine %s: %d engines known and none gone long "
                        "enough to reuse its slot (logged once a minute)",
                        bx_log_escape(ea, sizeof(ea), in->addr, BX_LOG_CSTR), GW_MAX_ENGINES);
            }
            continue;
        }
        gw_disc_eng *de = d->eng[e->id];
        if (!de) {
            de = calloc(1, sizeof(*de));
            if (!de) {
                bx_error("discovery: out of memory adding %s", in->addr);
                continue;
            }
            de->d = d;
            de->e = e;
            bx_buf_init(&de->body);
            d->eng[e->id] = de;
        }
        accepted++;
        int fresh = de->tracked == 0;
        int changed = 0;
        de->pinned = pinned;
        if (pinned) {
            gw_registry_lock(d->reg);
            changed = gw_disc_pin(e, in);
            if (fresh && !e->ready) { /* the source vouches for it: routable now */
                e->ready = 1;
                changed = 1;
            }
            gw_registry_unlock(d->reg);
        }
        if (!fresh) {
            de->tracked = 1;
            if (changed) gw_disc_changed(d, e);
            continue;
        }
        de->tracked = 1;
        de->fails = 0;
        if (was_gone || changed) {
            if (was_gone) bx_info("discovery: engine %s added", e->addr);
            gw_disc_changed(d, e);
        }
        if (d->running) gw_disc_poll(de);
    }
    for (int i = 0; i < d->reg->n; i++) {
        gw_disc_eng *de = d->eng[i];
        if (!de || de->tracked >= 0) continue;
        de->tracked = 0;
        de->repoll = 0;
        de->gone_ms = uv_now(d->loop);
        if (de->cr) bx_http_client_cancel(de->cr);
        gw_registry_lock(d->reg);
        de->e->gone = 1;
        de->e->ready = 0;
        gw_registry_unlock(d->reg);
        bx_info("discovery: engine %s removed", de->e->addr);
        gw_disc_changed(d, de->e);
    }
    return accepted;
}

int gw_disc_set_engines(gw_disc *d, const char *const *addrs, int n)
{
    if (n <= 0) return gw_disc_set_engines_info(d, NULL, 0);
    gw_disc_engine_info *in = calloc((size_t)n, sizeof(*in));
    if (!in) {
        bx_error("discovery: out of memory setting %d engines", n);
        return 0;
    }
    for (int i = 0; i < n; i++)
        in[i].addr = addrs[i];
    int r = gw_disc_set_engines_info(d, in, n);
    free(in);
    return r;
}

int gw_disc_poke(gw_disc *d, gw_engine *e)
{
    if (!e || e->id < 0 || e->id >= GW_MAX_ENGINES || d->closing) return -1;
    gw_disc_eng *de = d->eng[e->id];
    if (!de || de->e != e || de->tracked != 1) return -1;
    if (de->cr)
        de->repoll = 1;
    else
        gw_disc_poll(de);
    return 0;
}

int gw_disc_set_unready(gw_disc *d, const gw_unready_model *m, int n)
{
    return d->closing ? 0 : gw_registry_set_unready(d->reg, m, n);
}

void gw_disc_source_synced(gw_disc *d)
{
    __atomic_store_n(&d->synced, 1, __ATOMIC_RELEASE);
}

int gw_disc_synced(const gw_disc *d)
{
    return __atomic_load_n(&d->synced, __ATOMIC_ACQUIRE);
}

void gw_disc_get_stats(const gw_disc *d, gw_disc_stats *out)
{
    *out = d->stats;
}

/* ---- the static source: a fixed list of backends ---- */

/* "GROUP=URL" names the backend's group (its GPU type: gw_engine.group);
 * a plain URL has none. "ROLESET/ROLE=URL" (ROLE prefill or decode) gives
 * it a P/D role instead (gw_pd.h). */
typedef struct gw_disc_static {
    gw_disc *d;
    char (*addrs)[GW_NAME_MAX];
    char (*groups)[GW_NAME_MAX];
    char (*roles)[16];
    gw_disc_engine_info *infos;
    int n;
} gw_disc_static;

static void gw_disc_static_free(gw_disc_static *s)
{
    if (!s) return;
    free(s->addrs);
    free(s->groups);
    free(s->roles);
    free(s->infos);
    free(s);
}

int gw_disc_backend_spec(const char *spec, char *addr, size_t addrlen, char *group, size_t grouplen)
{
    const char *eq = strchr(spec, '=');
    const char *url = spec;
    group[0] = '\0';
    if (eq) {
        size_t gl = (size_t)(eq - spec);
        if (!gl || gl >= grouplen) return -1;
        for (size_t i = 0; i < gl; i++)
            if (!isalnum((unsigned char)spec[i]) && !strchr("-_./", spec[i])) return -1;
        memcpy(group, spec, gl);
        group[gl] = '\0';
        url = eq + 1;
    }
    return gw_disc_backend_addr(url, addr, addrlen);
}

static int gw_disc_static_init(void **state, gw_disc *d, uv_loop_t *loop, const char *const *args,
                               int nargs, char *err, size_t errlen)
{
    (void)loop;
    gw_disc_static *s = calloc(1, sizeof(*s));
    if (!s) goto oom;
    s->d = d;
    if (nargs > 0) {
        s->addrs = calloc((size_t)nargs, sizeof(*s->addrs));
        s->groups = calloc((size_t)nargs, sizeof(*s->groups));
        s->roles = calloc((size_t)nargs, sizeof(*s->roles));
        s->infos = calloc((size_t)nargs, sizeof(*s->infos));
        if (!s->addrs || !s->groups || !s->roles || !s->infos) goto oom;
    }
    for (int i = 0; i < nargs; i++) {
        if (gw_disc_backend_spec(args[i], s->addrs[i], GW_NAME_MAX, s->groups[i], GW_NAME_MAX) !=
            0) {
            snprintf(err, errlen,
                     "bad backend '%s' (want [GROUP=]http://host:port or "
                     "ROLESET/prefill|decode=http://host:port)",
                     args[i]);
            gw_disc_static_free(s);
            return -1;
        }
        s->infos[i].addr = s->addrs[i];
        char *slash = strchr(s->groups[i], '/');
        if (slash) { /* ROLESET/ROLE: a P/D role, no group */
            *slash = '\0';
            if (!s->groups[i][0] || gw_pd_role_parse(slash + 1) == GW_PD_ROLE_NONE) {
                snprintf(err, errlen,
                         "bad backend '%s' (ROLESET/ROLE= wants ROLE prefill or decode)", args[i]);
                gw_disc_static_free(s);
                return -1;
            }
            snprintf(s->roles[i], sizeof(s->roles[i]), "%s", slash + 1);
            s->infos[i].roleset = s->groups[i];
            s->infos[i].pd_role = s->roles[i];
            continue;
        }
        s->infos[i].group = s->groups[i][0] ? s->groups[i] : NULL;
    }
    s->n = nargs;
    *state = s;
    return 0;
oom:
    gw_disc_static_free(s);
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int gw_disc_static_start(void *state)
{
    gw_disc_static *s = state;
    gw_disc_set_engines_info(s->d, s->infos, s->n);
    return 0;
}

static void gw_disc_static_stop(void *state)
{
    (void)state;
}

static void gw_disc_static_close(void *state)
{
    gw_disc_static_free(state);
}

const gw_disc_source gw_disc_source_static = {
    .name = "static",
    .init = gw_disc_static_init,
    .start = gw_disc_static_start,
    .stop = gw_disc_static_stop,
    .close = gw_disc_static_close,
};
