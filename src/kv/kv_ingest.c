/* kv_ingest: see kv_ingest.h. A mutex guards a singly linked FIFO; the
 * worker sleeps on `more` and wakes flushers on `idle` whenever the queue
 * is empty and no batch is in flight. Counters are atomics so stats never
 * take the queue lock. */
#include "kv/kv_ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv/kv_l2.h"

#define KV_INGEST_BATCH 64

typedef struct kv_ingest_item {
    struct kv_ingest_item *next;
    kv_key key;
    size_t vlen;   /* header + payload */
    uint8_t val[]; /* the value as stored */
} kv_ingest_item;

struct kv_ingest {
    kv_l2_store *store;
    pthread_mutex_t mu;
    pthread_cond_t more, idle;
    kv_ingest_item *head, *tail;
    size_t count, cap, inflight;
    int stop;
    pthread_t th;
    atomic_uint_fast64_t written, dropped;
};

static kv_ingest_item *kv_ingest_item_new(const kv_key *key, const brixkv_iov *v, size_t nv,
                                          size_t len)
{
    kv_ingest_item *it = malloc(sizeof(*it) + KV_L2_HDR_BYTES + len);
    if (!it) return NULL;
    it->next = NULL;
    it->key = *key;
    it->vlen = KV_L2_HDR_BYTES + len;
    uint8_t *p = it->val + KV_L2_HDR_BYTES;
    for (size_t i = 0; i < nv; i++) {
        if (v[i].len) memcpy(p, v[i].base, v[i].len);
        p += v[i].len;
    }
    kv_l2_hdr_encode(it->val, key, it->val + KV_L2_HDR_BYTES, len);
    return it;
}

size_t kv_ingest_write_now_then(kv_ingest *q, const kv_key *keys, const kv_l2_val *vals, size_t n,
                                void (*then)(void *), void *arg)
{
    size_t ok = kv_l2_store_put_many_then(q->store, keys, vals, n, then, arg);
    atomic_fetch_add(&q->written, ok);
    atomic_fetch_add(&q->dropped, n - ok);
    return ok;
}

static size_t kv_ingest_write_now(kv_ingest *q, const kv_key *keys, const kv_l2_val *vals, size_t n)
{
    return kv_ingest_write_now_then(q, keys, vals, n, NULL, NULL);
}

/* Writes the queued items[0..n) (n <= KV_INGEST_BATCH) and frees them. */
static void kv_ingest_write_items(kv_ingest *q, kv_ingest_item **items, size_t n)
{
    kv_key keys[KV_INGEST_BATCH];
    kv_l2_val vals[KV_INGEST_BATCH];
    for (size_t i = 0; i < n; i++) {
        keys[i] = items[i]->key;
        vals[i] = (kv_l2_val){.head = items[i]->val, .head_len = items[i]->vlen};
    }
    kv_ingest_write_now(q, keys, vals, n);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
}

static void *kv_ingest_main(void *arg)
{
    kv_ingest *q = arg;
    kv_ingest_item *batch[KV_INGEST_BATCH];
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && !q->head)
            pthread_cond_wait(&q->more, &q->mu);
        if (q->stop) break;
        size_t n = 0;
        while (q->head && n < KV_INGEST_BATCH) {
            batch[n++] = q->head;
            q->head = q->head->next;
        }
        if (!q->head) q->tail = NULL;
        q->count -= n;
        q->inflight += n;
        pthread_mutex_unlock(&q->mu);
        kv_ingest_write_items(q, batch, n);
        pthread_mutex_lock(&q->mu);
        q->inflight -= n;
        if (!q->head && !q->inflight) pthread_cond_broadcast(&q->idle);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int kv_ingest_create(kv_l2_store *store, size_t cap, kv_ingest **out)
{
    kv_ingest *q = calloc(1, sizeof(*q));
    if (!q) return -ENOMEM;
    q->store = store;
    q->cap = cap ? cap : 1024;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&q->mu, NULL);
    if (!rc) rc = pthread_cond_init(&q->more, NULL);
    if (!rc) rc = pthread_cond_init(&q->idle, &ca);
    pthread_condattr_destroy(&ca);
    if (!rc) rc = pthread_create(&q->th, NULL, kv_ingest_main, q);
    if (rc) {
        free(q); /* init failures leave nothing to destroy on Linux */
        return -rc;
    }
    *out = q;
    return 0;
}

void kv_ingest_destroy(kv_ingest *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_broadcast(&q->more);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    while (q->head) {
        kv_ingest_item *it = q->head;
        q->head = it->next;
        free(it);
        atomic_fetch_add(&q->dropped, 1);
    }
    pthread_cond_destroy(&q->more);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int kv_ingest_room(kv_ingest *q)
{
    pthread_mutex_lock(&q->mu);
    int room = q->count < q->cap;
    pthread_mutex_unlock(&q->mu);
    return room;
}

static void kv_ingest_drop(kv_ingest *q, size_t n)
{
    atomic_fetch_add(&q->dropped, n);
}

static int kv_ingest_push(kv_ingest *q, kv_ingest_item *it)
{
    pthread_mutex_lock(&q->mu);
    if (q->count >= q->cap || q->stop) {
        pthread_mutex_unlock(&q->mu);
        free(it);
        atomic_fetch_add(&q->dropped, 1);
        return -ENOSPC;
    }
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->count++;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int kv_ingest_offer(kv_ingest *q, const kv_key *key, const brixkv_iov *v, size_t nv, size_t len)
{
    if (!kv_ingest_room(q)) { /* full: drop before copying */
        kv_ingest_drop(q, 1);
        return -ENOSPC;
    }
    kv_ingest_item *it = kv_ingest_item_new(key, v, nv, len);
    if (!it) {
        kv_ingest_drop(q, 1);
        return -ENOMEM;
    }
    return kv_ingest_push(q, it); /* full by now: dropped and counted inside */
}

int kv_ingest_flush(kv_ingest *q, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    if (timeout_ms > 0) {
        dl.tv_sec += timeout_ms / 1000;
        dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    while ((q->head || q->inflight) && rc == 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&q->idle, &q->mu);
        else if (pthread_cond_timedwait(&q->idle, &q->mu, &dl) == ETIMEDOUT)
            rc = (q->head || q->inflight) ? -ETIMEDOUT : 0;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

size_t kv_ingest_pending(kv_ingest *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count + q->inflight;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void kv_ingest_stats_get(kv_ingest *q, uint64_t *written, uint64_t *dropped)
{
    *written = atomic_load(&q->written);
    *dropped = atomic_load(&q->dropped);
}
