/* eng_group: see eng_group.h. The leader half answers the join and
 * heartbeat routes and ticks heartbeats onto the join streams; the worker
 * half holds its join request open and posts heartbeats. Both check the
 * other side's liveness on the same tick. */
#include "engine/eng_group.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_log.h"
#include "common/bx_rand.h"
#include "common/bx_reply.h"

#define ENG_GROUP_RETRY_MS 500
#define ENG_GROUP_ERRBODY 512 /* bytes of a refusal kept for the log */

typedef struct eng_member {
    eng_group *g;
    int rank;
    bx_http_res *res; /* the held join response; NULL when not joined */
    uint64_t nonce;
    uint64_t last_hb_ns;
} eng_member;

struct eng_group {
    uv_loop_t *loop;
    int leader;
    int size;
    uint64_t timeout_ns;
    eng_group_lost_fn on_lost;
    void *ud;
    uv_timer_t tick;
    int refs; /* open handles and client requests; freed at 0 once closing */
    int closing;
    int failed; /* leader: the group failed; worker: the leader was lost */
    char why[256];
    char status[160];
    /* leader */
    eng_member *m; /* [size], index = rank (0 unused) */
    int joined;
    /* worker */
    bx_http_client *cli;
    char host[256];
    int port;
    int rank;
    uint64_t nonce;
    char hdr_rank[16], hdr_nonce[24];
    bx_http_creq *join, *hb;
    int join_status; /* status of the join's response, 0 before it */
    int w_joined;
    char errbody[ENG_GROUP_ERRBODY];
    size_t errlen;
    uv_timer_t retry;
};

/* ---------- pure parsers ---------- */

int eng_group_parse_rank(const char *s, int size, int *rank)
{
    if (!s || !*s || strlen(s) > 6) return -1;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v >= size) return -1;
    *rank = v;
    return 0;
}

int eng_group_parse_nonce(const char *s, uint64_t *nonce)
{
    if (!s || !*s || strlen(s) > 16) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *nonce = v;
    return 0;
}

/* A host name or IPv4 (letters, digits, '-', '.', '_'), or the inside of
 * an IPv6 literal (hex digits, ':', '.'). */
static int eng_group_host_ok(const char *h, size_t n, int v6)
{
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (v6 ? !(hex || c == ':' || c == '.')
               : !(alpha || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

int eng_group_parse_url(const char *url, char *host, size_t hostlen, int *port)
{
    static const char scheme[] = "http://";
    if (!url || strncmp(url, scheme, sizeof(scheme) - 1)) return -1;
    const char *h = url + sizeof(scheme) - 1, *end = h + strlen(h);
    if (end > h && end[-1] == '/') end--;
    const char *colon;
    size_t hl;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb + 1 >= end || rb[1] != ':') return -1;
        h++;
        hl = (size_t)(rb - h);
        colon = rb + 1;
        if (!eng_group_host_ok(h, hl, 1)) return -1;
    } else {
        colon = NULL;
        for (const char *p = h; p < end; p++)
            if (*p == ':') colon = p;
        if (!colon) return -1;
        hl = (size_t)(colon - h);
        if (!eng_group_host_ok(h, hl, 0)) return -1;
    }
    if (hl == 0 || hl >= hostlen) return -1;
    int v = 0;
    const char *p = colon + 1;
    if (p >= end || end - p > 5) return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = v;
    return 0;
}

/* ---------- common ---------- */

static void eng_group_unref(eng_group *g)
{
    if (--g->refs > 0 || !g->closing) return;
    free(g->m);
    free(g);
}

static void eng_group_handle_closed(uv_handle_t *h)
{
    eng_group_unref(h->data);
}

static void eng_group_lose(eng_group *g, const char *fmt, const char *detail)
{
    if (g->failed || g->closing) return;
    g->failed = 1;
    snprintf(g->why, sizeof(g->why), fmt, detail);
    if (g->on_lost) g->on_lost(g->why, g->ud);
}

int eng_group_is_leader(const eng_group *g)
{
    return g && g->leader;
}

int eng_group_failed(const eng_group *g)
{
    return g && g->failed;
}

int eng_group_ready(const eng_group *g)
{
    if (!g) return 1;
    if (g->failed) return 0;
    return g->leader ? g->joined == g->size - 1 : g->w_joined;
}

const char *eng_group_status(const eng_group *g)
{
    eng_group *m = (eng_group *)g; /* the status buffer is scratch */
    if (!g) return "ready";
    if (g->failed)
        snprintf(m->status, sizeof(m->status), "%s: %.100s; restart the group as a unit",
                 g->leader ? "the group failed" : "the group leader was lost", g->why);
    else if (g->leader && g->joined < g->size - 1)
        snprintf(m->status, sizeof(m->status), "waiting for the group's workers: %d of %d joined",
                 g->joined, g->size - 1);
    else if (!g->leader && !g->w_joined)
        snprintf(m->status, sizeof(m->status), "not joined to the group leader yet");
    else
        snprintf(m->status, sizeof(m->status), "ready");
    return g->status;
}

/* ---------- leader ---------- */

static void eng_member_gone(bx_http_res *res, void *ud)
{
    (void)res;
    eng_member *mb = ud;
    eng_group *g = mb->g;
    mb->res = NULL;
    g->joined--;
    char r[16];
    snprintf(r, sizeof(r), "%d", mb->rank);
    bx_error("group: worker rank %s disconnected", r);
    eng_group_lose(g, "worker rank %s disconnected", r);
}

static void eng_member_forget(bx_http_res *res, void *ud)
{
    (void)res, (void)ud;
}

static void eng_member_drop(eng_member *mb)
{
    if (!mb->res) return;
    bx_http_res_set_abort(mb->res, eng_member_forget, NULL);
    bx_http_res_end(mb->res);
    mb->res = NULL;
    mb->g->joined--;
}

static void eng_leader_tick(uv_timer_t *t)
{
    eng_group *g = t->data;
    uint64_t now = uv_hrtime();
    for (int r = 1; r < g->size; r++) {
        eng_member *mb = &g->m[r];
        if (!mb->res) continue;
        if (now - mb->last_hb_ns > g->timeout_ns) {
            char d[64];
            snprintf(d, sizeof(d), "%d sent no heartbeat for %.1f s", r,
                     (double)(now - mb->last_hb_ns) / 1e9);
            bx_error("group: worker rank %s", d);
            eng_member_drop(mb); /* a hung worker: its stream goes */
            eng_group_lose(g, "worker rank %s", d);
            continue;
        }
        bx_http_res_write(mb->res, ": hb\n\n", 6);
    }
}

/* The worker's rank and nonce from its headers; answers the refusal. */
static eng_member *eng_leader_member(eng_group *g, bx_http_req *hr, bx_http_res *res,
                                     uint64_t *nonce)
{
    const char *rs = bx_http_req_header(hr, "x-brix-group-rank");
    const char *ns = bx_http_req_header(hr, "x-brix-group-nonce");
    int rank;
    char msg[160];
    if (eng_group_parse_rank(rs, g->size, &rank) != 0) {
        snprintf(msg, sizeof(msg),
                 "X-Brix-Group-Rank must be a rank of this group, 1..%d (group size %d)",
                 g->size - 1, g->size);
        bx_reply_error(res, 400, "BadRequestError", msg);
        return NULL;
    }
    if (eng_group_parse_nonce(ns, nonce) != 0) {
        bx_reply_error(res, 400, "BadRequestError", "X-Brix-Group-Nonce must be 1-16 hex digits");
        return NULL;
    }
    return &g->m[rank];
}

static void eng_leader_join(eng_group *g, bx_http_req *hr, bx_http_res *res)
{
    uint64_t nonce;
    eng_member *mb = eng_leader_member(g, hr, res, &nonce);
    if (!mb) return;
    char msg[200];
    if (g->failed) {
        snprintf(msg, sizeof(msg), "the group failed (%.120s): restart it as a unit", g->why);
        bx_http_res_header(res, "Retry-After", "1");
        bx_reply_error(res, 503, "ServiceUnavailableError", msg);
        return;
    }
    if (mb->res) {
        snprintf(msg, sizeof(msg), "rank %d already joined this group", mb->rank);
        bx_reply_error(res, 409, "ConflictError", msg);
        return;
    }
    if (bx_http_res_start(res, 200, "text/event-stream") != 0) return;
    mb->res = res;
    mb->nonce = nonce;
    mb->last_hb_ns = uv_hrtime();
    g->joined++;
    bx_http_res_set_abort(res, eng_member_gone, mb);
    char ev[96];
    int n = snprintf(ev, sizeof(ev), "event: joined\ndata: {\"rank\":%d,\"size\":%d}\n\n", mb->rank,
                     g->size);
    bx_http_res_write(res, ev, (size_t)n);
    bx_info("group: worker rank %d joined (%d of %d)", mb->rank, g->joined, g->size - 1);
}

static void eng_leader_heartbeat(eng_group *g, bx_http_req *hr, bx_http_res *res)
{
    uint64_t nonce;
    eng_member *mb = eng_leader_member(g, hr, res, &nonce);
    if (!mb) return;
    if (!mb->res || mb->nonce != nonce) {
        bx_reply_error(res, 409, "ConflictError", "this worker is not a member of the group");
        return;
    }
    mb->last_hb_ns = uv_hrtime();
    bx_http_res_send(res, 200, NULL, "", 0);
}

void eng_group_handle(eng_group *g, bx_http_req *hr, bx_http_res *res)
{
    const char *op = hr->path + strlen(ENG_GROUP_PREFIX);
    int get = !strcmp(hr->method, "GET"), post = !strcmp(hr->method, "POST");
    if (strcmp(op, "join") && strcmp(op, "heartbeat")) {
        bx_http_res_send(res, 404, "application/json", "{\"detail\":\"Not Found\"}", 22);
        return;
    }
    if (!g || !g->leader) {
        bx_reply_error(res, 400, "BadRequestError",
                       "this engine is not a group leader (start it with --group-size N)");
        return;
    }
    if (!strcmp(op, "join") && get)
        eng_leader_join(g, hr, res);
    else if (!strcmp(op, "heartbeat") && post)
        eng_leader_heartbeat(g, hr, res);
    else
        bx_http_res_send(res, 405, "application/json", "{\"detail\":\"Method Not Allowed\"}", 31);
}

/* ---------- worker ---------- */

static void eng_worker_join_start(eng_group *g);

static void eng_worker_retry_cb(uv_timer_t *t)
{
    eng_worker_join_start(t->data);
}

static void eng_join_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                              void *ud)
{
    (void)cr, (void)h, (void)nh;
    eng_group *g = ud;
    g->join_status = status;
    if (status == 200) {
        g->w_joined = 1;
        bx_info("group: joined the leader %s:%d as rank %d", g->host, g->port, g->rank);
    }
}

static void eng_join_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    (void)cr;
    eng_group *g = ud;
    if (g->join_status == 200) return; /* heartbeats: the idle timeout watches them */
    size_t room = sizeof(g->errbody) - 1 - g->errlen;
    if (len > room) len = room;
    memcpy(g->errbody + g->errlen, data, len);
    g->errlen += len;
    g->errbody[g->errlen] = '\0';
}

static void eng_join_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr;
    eng_group *g = ud;
    g->join = NULL;
    int joined = g->w_joined, status = g->join_status;
    if (!g->closing && !g->failed) {
        if (status && status != 200) {
            char e[BX_LOG_ESC_MAX], d[200];
            snprintf(d, sizeof(d), "%d %.180s", status,
                     bx_log_escape(e, sizeof(e), g->errbody, g->errlen));
            bx_error("group: the leader refused the join: %s", d);
            eng_group_lose(g, "the leader refused the join: %s", d);
        } else if (joined) {
            const char *why = err == BX_HTTP_ETIMEOUT ? "no heartbeat from the leader in time"
                              : err                   ? bx_http_strerror(err)
                                                      : "the leader ended the join stream";
            bx_error("group: lost the leader %s:%d: %s", g->host, g->port, why);
            eng_group_lose(g, "lost the leader: %s", why);
        } else {
            /* not up yet (or not answering): try again */
            bx_debug("group: join: %s; retrying", bx_http_strerror(err));
            uv_timer_start(&g->retry, eng_worker_retry_cb, ENG_GROUP_RETRY_MS, 0);
        }
    }
    g->w_joined = 0;
    eng_group_unref(g);
}

static void eng_worker_join_start(eng_group *g)
{
    if (g->closing || g->failed || g->join) return;
    g->join_status = 0;
    g->errlen = 0;
    g->errbody[0] = '\0';
    bx_http_header hs[2] = {{"X-Brix-Group-Rank", g->hdr_rank},
                            {"X-Brix-Group-Nonce", g->hdr_nonce}};
    uint64_t to = g->timeout_ns / 1000000;
    bx_http_client_req r = {.method = "GET",
                            .host = g->host,
                            .port = g->port,
                            .path = ENG_GROUP_PREFIX "join",
                            .headers = hs,
                            .nheaders = 2,
                            .first_byte_timeout_ms = to,
                            .idle_timeout_ms = to};
    bx_http_client_cbs cbs = {eng_join_response, eng_join_data, eng_join_done};
    if (bx_http_client_request(g->cli, &r, &cbs, g, &g->join) != 0) {
        g->join = NULL;
        uv_timer_start(&g->retry, eng_worker_retry_cb, ENG_GROUP_RETRY_MS, 0);
        return;
    }
    g->refs++;
}

static void eng_hb_response(bx_http_creq *cr, int status, const bx_http_header *h, size_t nh,
                            void *ud)
{
    (void)cr, (void)h, (void)nh;
    eng_group *g = ud;
    if (status == 409 && g->w_joined && !g->closing) {
        bx_error("group: the leader refused a heartbeat: not a member any more");
        eng_group_lose(g, "%s", "the leader no longer knows this worker");
    }
}

static void eng_hb_data(bx_http_creq *cr, const char *data, size_t len, void *ud)
{
    (void)cr, (void)data, (void)len, (void)ud;
}

static void eng_hb_done(bx_http_creq *cr, int err, void *ud)
{
    (void)cr, (void)err;
    eng_group *g = ud;
    g->hb = NULL;
    eng_group_unref(g);
}

static void eng_worker_tick(uv_timer_t *t)
{
    eng_group *g = t->data;
    if (!g->w_joined || g->hb || g->closing || g->failed) return;
    bx_http_header hs[2] = {{"X-Brix-Group-Rank", g->hdr_rank},
                            {"X-Brix-Group-Nonce", g->hdr_nonce}};
    bx_http_client_req r = {.method = "POST",
                            .host = g->host,
                            .port = g->port,
                            .path = ENG_GROUP_PREFIX "heartbeat",
                            .headers = hs,
                            .nheaders = 2,
                            .timeout_ms = g->timeout_ns / 1000000};
    bx_http_client_cbs cbs = {eng_hb_response, eng_hb_data, eng_hb_done};
    if (bx_http_client_request(g->cli, &r, &cbs, g, &g->hb) != 0) {
        g->hb = NULL;
        return;
    }
    g->refs++;
}

/* ---------- lifecycle ---------- */

int eng_group_new(eng_group **out, uv_loop_t *loop, const eng_group_cfg *cfg, char *err,
                  size_t errlen)
{
    if (!(cfg->timeout_s > 0) || cfg->timeout_s > 3600) {
        snprintf(err, errlen, "--group-timeout must be in (0, 3600] seconds");
        return -1;
    }
    eng_group *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->loop = loop;
    g->timeout_ns = (uint64_t)(cfg->timeout_s * 1e9);
    g->on_lost = cfg->on_lost;
    g->ud = cfg->ud;
    if (cfg->size >= 2) {
        if (cfg->size > ENG_GROUP_MAX_SIZE) {
            snprintf(err, errlen, "--group-size must be at most %d", ENG_GROUP_MAX_SIZE);
            free(g);
            return -1;
        }
        g->leader = 1;
        g->size = cfg->size;
        g->m = calloc((size_t)cfg->size, sizeof(*g->m));
        if (!g->m) {
            snprintf(err, errlen, "out of memory");
            free(g);
            return -1;
        }
        for (int r = 0; r < g->size; r++) {
            g->m[r].g = g;
            g->m[r].rank = r;
        }
    } else {
        if (eng_group_parse_url(cfg->leader, g->host, sizeof(g->host), &g->port) != 0) {
            snprintf(err, errlen, "--group-leader must be http://host:port (got '%.200s')",
                     cfg->leader ? cfg->leader : "");
            free(g);
            return -1;
        }
        if (cfg->rank < 1 || cfg->rank >= ENG_GROUP_MAX_SIZE) {
            snprintf(err, errlen, "--group-rank must be 1..%d for a worker",
                     ENG_GROUP_MAX_SIZE - 1);
            free(g);
            return -1;
        }
        g->rank = cfg->rank;
        uint64_t seed = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^ (uint64_t)time(NULL);
        g->nonce = bx_splitmix64(&seed);
        snprintf(g->hdr_rank, sizeof(g->hdr_rank), "%d", g->rank);
        snprintf(g->hdr_nonce, sizeof(g->hdr_nonce), "%016llx", (unsigned long long)g->nonce);
        bx_http_client_opts o = {.max_idle_per_host = 2,
                                 .connect_timeout_ms = (uint64_t)(cfg->timeout_s * 1000)};
        if (bx_http_client_init(&g->cli, loop, &o) != 0) {
            snprintf(err, errlen, "cannot create the HTTP client");
            free(g);
            return -1;
        }
        uv_timer_init(loop, &g->retry);
        g->retry.data = g;
        g->refs++;
    }
    uv_timer_init(loop, &g->tick);
    g->tick.data = g;
    g->refs++;
    uint64_t tick_ms = g->timeout_ns / 4000000;
    if (tick_ms < 20) tick_ms = 20;
    if (tick_ms > 1000) tick_ms = 1000;
    uv_timer_start(&g->tick, g->leader ? eng_leader_tick : eng_worker_tick, tick_ms, tick_ms);
    if (!g->leader) eng_worker_join_start(g);
    *out = g;
    return 0;
}

void eng_group_close(eng_group *g)
{
    if (!g || g->closing) return;
    g->closing = 1;
    if (g->leader)
        for (int r = 1; r < g->size; r++)
            eng_member_drop(&g->m[r]);
    uv_close((uv_handle_t *)&g->tick, eng_group_handle_closed);
    if (!g->leader) {
        uv_close((uv_handle_t *)&g->retry, eng_group_handle_closed);
        if (g->join) bx_http_client_cancel(g->join);
        if (g->hb) bx_http_client_cancel(g->hb);
        bx_http_client_close(g->cli);
        g->cli = NULL;
    }
}

/* ---------- metrics ---------- */

int eng_group_render(const eng_group *g, bx_buf *b)
{
    if (!g) return 0;
    if (g->leader)
        return bx_buf_printf(
            b,
            "# HELP brix_engine_group_size Members of this engine's group, the leader included.\n"
            "# TYPE brix_engine_group_size gauge\nbrix_engine_group_size %d\n"
            "# HELP brix_engine_group_workers_joined Workers joined to this group leader now.\n"
            "# TYPE brix_engine_group_workers_joined gauge\n"
            "brix_engine_group_workers_joined %d\n"
            "# HELP brix_engine_group_failed 1 once the group failed (a worker lost): restart "
            "it as a unit.\n"
            "# TYPE brix_engine_group_failed gauge\nbrix_engine_group_failed %d\n",
            g->size, g->joined, g->failed);
    return bx_buf_printf(b,
                         "# HELP brix_engine_group_rank This worker's rank in its group.\n"
                         "# TYPE brix_engine_group_rank gauge\nbrix_engine_group_rank %d\n"
                         "# HELP brix_engine_group_joined 1 while joined to the group leader.\n"
                         "# TYPE brix_engine_group_joined gauge\nbrix_engine_group_joined %d\n",
                         g->rank, g->w_joined && !g->failed);
}
