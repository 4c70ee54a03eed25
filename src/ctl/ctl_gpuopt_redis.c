/* ctl_gpuopt_redis: the optimizer's profiles and load from Redis, in
 * AIBrix's keys (opt_rkey.h; ctl_gpuopt.h, docs/hetero.md "Redis"), as
 * AIBrix's GatewayLoadReader and RedisProfileReader read them:
 *
 *   load      the first read SCANs aibrix:<model>_request_trace_* and reads
 *             the windows from the oldest key found (10 minutes at most: the
 *             keys' TTL) to the newest final one; each later read takes the
 *             windows ended since. A window ending at E is final at E + 2 s
 *             (AIBrix's tolerance; the gateways write it at E). A final
 *             window without a key, once the model had one, is a quiet
 *             window (load 0; the gateways write no key for a window
 *             without requests), as /brix/load lists it. Window start =
 *             key suffix - 10.
 *   profiles  SCAN aibrix:profile_<model>_*, MGET, opt_profile_parse; a
 *             profile without `model` takes the key's; offered as
 *             "redis:<key>" (a newer `created` wins, against files too).
 *
 * Every callback finds its model again by name (it may have gone). */
#include <stdlib.h>
#include <string.h>

#include "common/bx_log.h"
#include "ctl/ctl_gpuopt_int.h"
#include "opt/opt_rkey.h"

#define GR_SCAN_MAX 4096   /* keys a SCAN may return (other models' included) */
#define GR_PROFILES_MAX 64 /* profile keys of one model */
#define GR_GRACE_S 2       /* a window is final this long after its end */
#define GR_HISTORY_S 600   /* the trace keys' TTL */

typedef struct gr_ctx {
    ctl_gpuopt *g;
    char model[OPT_SERVER_MODEL_MAX];
    int64_t final_end; /* windows ending up to here are final */
    int n;
    int64_t ends[GPO_MAX_WINDOWS];            /* trace reads: the keys asked, ascending */
    char keys[GR_PROFILES_MAX][OPT_RKEY_MAX]; /* profile reads */
} gr_ctx;

static int64_t gr_final_end(int64_t now)
{
    int64_t t = now - GR_GRACE_S;
    return t - t % OPT_TRACE_INTERVAL_S;
}

static gr_ctx *gr_ctx_new(ctl_gpuopt *g, const gpo_model *gm)
{
    gr_ctx *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->g = g;
    gpo_fmt(c->model, sizeof(c->model), gm->name);
    return c;
}

/* The ctx's model, or NULL (closing, or gone): the ctx is freed then. */
static gpo_model *gr_model(gr_ctx *c)
{
    gpo_model *gm = c->g->closing ? NULL : gpo_model_get(c->g, c->model, 0);
    if (!gm) free(c);
    return gm;
}

int gpo_redis_busy(const gpo_model *gm)
{
    return gm->r_loading || gm->r_profiling;
}

int gpo_redis_init(ctl_gpuopt *g, char *err, size_t errlen)
{
    gpo_fmt(g->redis_host, sizeof(g->redis_host), g->cfg.redis_host);
    gpo_fmt(g->redis_password, sizeof(g->redis_password), g->cfg.redis_password);
    g->cfg.redis_host = g->redis_host;
    g->cfg.redis_password = g->redis_password;
    ctl_redis_cfg rc = {.host = g->redis_host,
                        .port = g->cfg.redis_port,
                        .password = g->redis_password,
                        .timeout_ms = 5000,
                        .log_name = "gpu optimizer"};
    return ctl_redis_new(&g->redis, g->loop, &rc, err, errlen);
}

void gpo_redis_close(ctl_gpuopt *g)
{
    ctl_redis *r = g->redis;
    g->redis = NULL;
    ctl_redis_close(r);
}

json_t *gpo_redis_json(const ctl_gpuopt *g, const gpo_model *gm)
{
    if (!g->redis) return NULL;
    const char *e = ctl_redis_error(g->redis);
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "addr", ctl_redis_addr(g->redis), "lastEnd",
                     (json_int_t)gm->r_last_end, "traceKeys", (json_int_t)gm->r_keys, "windows",
                     (json_int_t)gm->r_windows, "profiles", (json_int_t)gm->r_profiles, "error",
                     e[0] ? json_string(e) : json_null(), "profileError",
                     gm->r_prof_err[0] ? json_string(gm->r_prof_err) : json_null());
}

/* ------------------------------------------------------------ load */

static void gr_load_fail(ctl_gpuopt *g, gpo_model *gm, const char *what, const char *err)
{
    gm->r_loading = 0;
    snprintf(gm->load_err, sizeof(gm->load_err), "redis %s: %.200s", what, err ? err : "failed");
    g->rerun(g, gm);
}

static void gr_on_windows(void *ud, const char *err, char *const *vals, const size_t *lens,
                          size_t n)
{
    gr_ctx *c = ud;
    ctl_gpuopt *g = c->g;
    gpo_model *gm = gr_model(c);
    if (!gm) return;
    if (err) {
        gr_load_fail(g, gm, "MGET", err);
        free(c);
        return;
    }
    gm->r_loading = 0;
    gm->load_err[0] = '\0';
    opt_trace *w = &g->wbuf[0];
    for (size_t i = 0; i < n && i < (size_t)c->n; i++) {
        int64_t end = c->ends[i];
        char perr[200];
        if (vals[i]) {
            if (opt_trace_parse(vals[i], lens[i], end - OPT_TRACE_INTERVAL_S, w, perr,
                                sizeof(perr)) != 0) {
                snprintf(gm->load_err, sizeof(gm->load_err),
                         "redis: the window ending at %lld: %.180s", (long long)end, perr);
                continue;
            }
            gm->r_seen = 1;
            gm->r_keys++;
        } else if (gm->r_seen && end <= c->final_end) {
            opt_trace_init(w, end - OPT_TRACE_INTERVAL_S); /* a quiet window */
        } else {
            continue;
        }
        opt_model_add_window(gm->m, w);
        gm->r_windows++;
    }
    if (c->final_end > gm->r_last_end) gm->r_last_end = c->final_end;
    if (c->n > 0 && c->ends[c->n - 1] > gm->r_last_end) gm->r_last_end = c->ends[c->n - 1];
    gm->r_first_done = 1;
    if (gm->load_err[0]) {
        char esc[300];
        bx_debug("gpu optimizer: %s: %s", gm->name,
                 bx_log_escape(esc, sizeof(esc), gm->load_err, strlen(gm->load_err)));
    }
    free(c);
    g->rerun(g, gm);
}

/* MGETs the windows ending at c->ends[0..n) (ascending). */
static void gr_read_windows(ctl_gpuopt *g, gpo_model *gm, gr_ctx *c)
{
    if (c->n == 0) {
        gm->r_loading = 0;
        gm->r_first_done = 1;
        if (c->final_end > gm->r_last_end) gm->r_last_end = c->final_end;
        free(c);
        g->rerun(g, gm);
        return;
    }
    static char kbuf[GPO_MAX_WINDOWS][OPT_RKEY_MAX];
    char *keys[GPO_MAX_WINDOWS];
    size_t lens[GPO_MAX_WINDOWS];
    for (int i = 0; i < c->n; i++) {
        int l = opt_rkey_trace(kbuf[i], sizeof(kbuf[i]), gm->name, c->ends[i]);
        if (l < 0) {
            free(c);
            gr_load_fail(g, gm, "key", "model name too long");
            return;
        }
        keys[i] = kbuf[i];
        lens[i] = (size_t)l;
    }
    if (ctl_redis_mget(g->redis, keys, lens, (size_t)c->n, gr_on_windows, c) != 0) {
        free(c);
        gr_load_fail(g, gm, "MGET", ctl_redis_error(g->redis));
    }
}

static int gr_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void gr_on_trace_keys(void *ud, const char *err, char *const *keys, const size_t *lens,
                             size_t n)
{
    gr_ctx *c = ud;
    ctl_gpuopt *g = c->g;
    gpo_model *gm = gr_model(c);
    if (!gm) return;
    if (err) {
        free(c);
        gr_load_fail(g, gm, "SCAN", err);
        return;
    }
    int64_t now = ctl_ctrl_wall_ms() / 1000;
    int64_t oldest = -1, newest = -1;
    for (size_t i = 0; i < n; i++) {
        char model[OPT_SERVER_MODEL_MAX];
        int64_t end;
        if (opt_rkey_trace_parse(keys[i], lens[i], model, sizeof(model), &end) != 0 ||
            strcmp(model, gm->name) != 0 || end % OPT_TRACE_INTERVAL_S != 0 ||
            end < now - GR_HISTORY_S - OPT_TRACE_INTERVAL_S || end > now + OPT_TRACE_INTERVAL_S)
            continue;
        if (oldest < 0 || end < oldest) oldest = end;
        if (end > newest) newest = end;
    }
    c->n = 0;
    if (oldest >= 0) {
        int64_t last = newest > c->final_end ? newest : c->final_end;
        if (last - oldest >= (int64_t)GPO_MAX_WINDOWS * OPT_TRACE_INTERVAL_S)
            oldest = last - (GPO_MAX_WINDOWS - 1) * OPT_TRACE_INTERVAL_S;
        for (int64_t e = oldest; e <= last && c->n < GPO_MAX_WINDOWS; e += OPT_TRACE_INTERVAL_S)
            c->ends[c->n++] = e;
        qsort(c->ends, (size_t)c->n, sizeof(c->ends[0]), gr_cmp_i64);
    }
    gr_read_windows(g, gm, c);
}

void gpo_redis_load(ctl_gpuopt *g, gpo_model *gm)
{
    if (!g->redis || gm->r_loading) return;
    gr_ctx *c = gr_ctx_new(g, gm);
    if (!c) return;
    c->final_end = gr_final_end(ctl_ctrl_wall_ms() / 1000);
    gm->r_loading = 1;
    if (!gm->r_first_done) {
        char pat[OPT_RKEY_MAX];
        if (opt_rkey_trace_match(pat, sizeof(pat), gm->name) < 0) {
            free(c);
            gr_load_fail(g, gm, "key", "model name too long");
            return;
        }
        if (ctl_redis_scan(g->redis, pat, GR_SCAN_MAX, gr_on_trace_keys, c) != 0) {
            free(c);
            gr_load_fail(g, gm, "SCAN", ctl_redis_error(g->redis));
        }
        return;
    }
    /* the windows ended since the last read: the newest GPO_MAX_WINDOWS */
    int64_t from = gm->r_last_end + OPT_TRACE_INTERVAL_S;
    if (c->final_end - from >= (int64_t)GPO_MAX_WINDOWS * OPT_TRACE_INTERVAL_S)
        from = c->final_end - (GPO_MAX_WINDOWS - 1) * OPT_TRACE_INTERVAL_S;
    c->n = 0;
    for (int64_t e = from; e <= c->final_end; e += OPT_TRACE_INTERVAL_S)
        c->ends[c->n++] = e;
    gr_read_windows(g, gm, c);
}

/* ------------------------------------------------------------ profiles */

static void gr_prof_done(gpo_model *gm, const char *what, const char *err)
{
    gm->r_profiling = 0;
    if (what) snprintf(gm->r_prof_err, sizeof(gm->r_prof_err), "%s: %.200s", what, err);
}

static void gr_on_profiles(void *ud, const char *err, char *const *vals, const size_t *lens,
                           size_t n)
{
    gr_ctx *c = ud;
    ctl_gpuopt *g = c->g;
    gpo_model *gm = gr_model(c);
    if (!gm) return;
    if (err) {
        gr_prof_done(gm, "MGET", err);
        free(c);
        return;
    }
    gr_prof_done(gm, NULL, NULL);
    gm->r_prof_err[0] = '\0';
    opt_profile *p = malloc(sizeof(*p));
    if (!p) {
        free(c);
        return;
    }
    int nread = 0, changed = 0;
    for (size_t i = 0; i < n && i < (size_t)c->n; i++) {
        char perr[200], name[300];
        if (!vals[i]) continue; /* gone since the SCAN */
        if (opt_profile_parse(vals[i], lens[i], p, perr, sizeof(perr)) != 0) {
            char esc[300];
            snprintf(gm->r_prof_err, sizeof(gm->r_prof_err), "%.100s: %.150s", c->keys[i], perr);
            bx_warn("gpu optimizer: profile %s",
                    bx_log_escape(esc, sizeof(esc), gm->r_prof_err, strlen(gm->r_prof_err)));
            continue;
        }
        if (!p->model[0] && strlen(gm->name) < sizeof(p->model))
            gpo_fmt(p->model, sizeof(p->model), gm->name);
        snprintf(name, sizeof(name), "redis:%.240s", c->keys[i]);
        changed |= gpo_prof_offer(g, name, p);
        nread++;
    }
    free(p);
    gm->r_profiles = nread;
    free(c);
    if (changed) g->rerun(g, gm);
}

static void gr_on_profile_keys(void *ud, const char *err, char *const *keys, const size_t *lens,
                               size_t n)
{
    gr_ctx *c = ud;
    ctl_gpuopt *g = c->g;
    gpo_model *gm = gr_model(c);
    if (!gm) return;
    if (err) {
        gr_prof_done(gm, "SCAN", err);
        free(c);
        return;
    }
    char *kp[GR_PROFILES_MAX];
    size_t kl[GR_PROFILES_MAX];
    c->n = 0;
    for (size_t i = 0; i < n && c->n < GR_PROFILES_MAX; i++) {
        char model[OPT_SERVER_MODEL_MAX], dep[OPT_SERVER_NS_MAX + OPT_SERVER_NAME_MAX];
        if (lens[i] >= OPT_RKEY_MAX ||
            opt_rkey_profile_parse(keys[i], lens[i], model, sizeof(model), dep, sizeof(dep)) != 0 ||
            strcmp(model, gm->name) != 0)
            continue;
        memcpy(c->keys[c->n], keys[i], lens[i]);
        c->keys[c->n][lens[i]] = '\0';
        kp[c->n] = c->keys[c->n];
        kl[c->n] = lens[i];
        c->n++;
    }
    if (c->n == 0) {
        gm->r_profiles = 0;
        gr_prof_done(gm, NULL, NULL);
        gm->r_prof_err[0] = '\0';
        free(c);
        return;
    }
    if (ctl_redis_mget(g->redis, kp, kl, (size_t)c->n, gr_on_profiles, c) != 0) {
        free(c);
        gr_prof_done(gm, "MGET", ctl_redis_error(g->redis));
    }
}

void gpo_redis_profiles(ctl_gpuopt *g, gpo_model *gm)
{
    if (!g->redis || gm->r_profiling) return;
    char pat[OPT_RKEY_MAX];
    if (opt_rkey_profile_match(pat, sizeof(pat), gm->name) < 0) {
        gr_prof_done(gm, "key", "model name too long");
        return;
    }
    gr_ctx *c = gr_ctx_new(g, gm);
    if (!c) return;
    gm->r_profiling = 1;
    if (ctl_redis_scan(g->redis, pat, GR_SCAN_MAX, gr_on_profile_keys, c) != 0) {
        free(c);
        gr_prof_done(gm, "SCAN", ctl_redis_error(g->redis));
    }
}
