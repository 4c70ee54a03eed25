/* gw_engine: see gw_engine.h. A fixed array of engines; lookups by address
 * are linear (engines number in the tens to hundreds, and lookups happen on
 * discovery, not per request). */
#include "gateway/gw_engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gw_registry_init(gw_registry *r)
{
    memset(r, 0, sizeof(*r));
    r->engines = calloc(GW_MAX_ENGINES, sizeof(*r->engines));
    r->stale_after = 3;
    if (!r->engines) return -1;
    /* adaptive: spins briefly before sleeping, as the holds are short */
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc == 0) {
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
        rc = pthread_mutex_init(&r->mu, &a);
        pthread_mutexattr_destroy(&a);
    }
    if (rc != 0) {
        free(r->engines);
        r->engines = NULL;
        return -1;
    }
    return 0;
}

void gw_registry_close(gw_registry *r)
{
    if (r->engines) pthread_mutex_destroy(&r->mu);
    free(r->engines);
    free(r->unready);
    memset(r, 0, sizeof(*r));
}

int gw_registry_set_unready(gw_registry *r, const gw_unready_model *m, int n)
{
    if (n > GW_MAX_UNREADY) n = GW_MAX_UNREADY;
    gw_unready_model *copy = NULL;
    if (n > 0) {
        copy = malloc((size_t)n * sizeof(*copy));
        if (!copy) return -1;
        memcpy(copy, m, (size_t)n * sizeof(*copy));
    }
    gw_registry_lock(r);
    gw_unready_model *old = r->unready;
    r->unready = copy;
    r->nunready = n > 0 ? n : 0;
    gw_registry_unlock(r);
    free(old);
    return 0;
}

const gw_unready_model *gw_registry_unready(const gw_registry *r, const char *model)
{
    for (int i = 0; model && i < r->nunready; i++)
        if (!strcmp(r->unready[i].model, model)) return &r->unready[i];
    return NULL;
}

void gw_engine_clear_metrics(gw_engine *e)
{
    e->running = e->waiting = e->kv_usage = e->gpu_cache_usage = e->cpu_cache_usage = NAN;
    e->busy_ratio = e->prompt_tps = e->gen_tps = NAN;
    e->avg_prompt_per_req = e->avg_gen_per_req = NAN;
    e->queue_mean_s = e->prefill_mean_s = e->decode_mean_s = e->ttft_mean_s = NAN;
    for (int i = 0; i < GW_HQ_N; i++)
        e->hq[i][0] = e->hq[i][1] = e->hq[i][2] = NAN;
}

gw_engine *gw_registry_find(gw_registry *r, const char *addr)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->engines[i].addr, addr)) return &r->engines[i];
    return NULL;
}

void gw_registry_lock(gw_registry *r)
{
    pthread_mutex_lock(&r->mu); /* cannot fail on a default mutex used correctly */
}

void gw_registry_unlock(gw_registry *r)
{
    pthread_mutex_unlock(&r->mu);
}

/* Fills e as a fresh engine at addr (id kept); -1 when addr is malformed. */
static int gw_engine_init_at(gw_engine *e, int id, const char *addr)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || strlen(addr) >= GW_NAME_MAX) return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535) return -1;
    memset(e, 0, sizeof(*e));
    e->id = id;
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    size_t hl = (size_t)(colon - addr);
    if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']') { /* [::1]:8000 */
        memcpy(e->host, addr + 1, hl - 2);
        e->host[hl - 2] = '\0';
    } else {
        memcpy(e->host, addr, hl);
        e->host[hl] = '\0';
    }
    e->port = (int)port;
    gw_engine_clear_metrics(e);
    return 0;
}

gw_engine *gw_registry_add(gw_registry *r, const char *addr)
{
    gw_engine *e = gw_registry_find(r, addr);
    if (e) {
        e->gone = 0;
        return e;
    }
    if (r->n >= GW_MAX_ENGINES) return NULL;
    e = &r->engines[r->n];
    if (gw_engine_init_at(e, r->n, addr) != 0) return NULL;
    r->n++;
    return e;
}

gw_engine *gw_registry_reuse(gw_registry *r, gw_engine *e, const char *addr)
{
    (void)r;
    if (!e->gone || e->inflight != 0) return NULL;
    gw_engine old = *e;
    if (gw_engine_init_at(e, old.id, addr) != 0) {
        *e = old;
        return NULL;
    }
    e->down_epoch = old.down_epoch + 1; /* never equal to what an old call saw */
    return e;
}

int gw_engine_serves(const gw_engine *e, const char *model)
{
    if (e->model[0] && !strcmp(e->model, model)) return 1;
    for (int i = 0; i < e->nadapters; i++)
        if (!strcmp(e->adapters[i], model)) return 1;
    return 0;
}

int gw_registry_candidates(gw_registry *r, const char *model, uint64_t now_ms, gw_engine **out,
                           int cap, int *known)
{
    int n = 0;
    *known = 0;
    for (int i = 0; i < r->n; i++) {
        gw_engine *e = &r->engines[i];
        if (e->gone || !gw_engine_serves(e, model)) continue;
        *known = 1;
        if (!gw_engine_up(e) || !gw_breaker_allows(&e->breaker, now_ms)) continue;
        if (n < cap) out[n++] = e;
    }
    return n;
}

int gw_registry_is_base_model(const gw_registry *r, const char *model)
{
    for (int i = 0; i < r->n; i++)
        if (!r->engines[i].gone && !strcmp(r->engines[i].model, model)) return 1;
    return 0;
}

void gw_registry_note_down(gw_registry *r, gw_engine *e)
{
    e->down_epoch++;
    __atomic_add_fetch(&r->down_seq, 1, __ATOMIC_RELEASE);
}

uint32_t gw_registry_down_seq(gw_registry *r)
{
    return __atomic_load_n(&r->down_seq, __ATOMIC_ACQUIRE);
}

int gw_engine_auth(const gw_engine *e, char *out, size_t len)
{
    if (!len) return 0;
    out[0] = '\0';
    if (!e->api_key[0]) return 0;
    int n = snprintf(out, len, "Bearer %s", e->api_key);
    if (n < 0 || (size_t)n >= len) {
        out[0] = '\0';
        return 0;
    }
    return 1;
}
