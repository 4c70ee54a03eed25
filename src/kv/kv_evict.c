/* kv_evict: dispatch to one policy (kv_evict_{lru,fifo,s3fifo}.c), byte accounting shared by
 * all policies, and the intrusive list helpers. See kv_evict.h for the contract. */
#include "kv/kv_evict.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

void kv_evict_params_default(kv_evict_params *prm)
{
    prm->small_ratio = 0.3;
    prm->promote_threshold = 1;
    prm->block_bytes = 0;
    prm->ghost_entries = 0;
}

static const struct {
    const char *name;
    kv_evict_kind kind;
    const struct kv_evict_ops *ops;
} kinds[] = {
    {"LRU", KV_EVICT_LRU, &kv_evict_lru_ops},
    {"FIFO", KV_EVICT_FIFO, &kv_evict_fifo_ops},
    {"S3FIFO", KV_EVICT_S3FIFO, &kv_evict_s3fifo_ops},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

int kv_evict_kind_parse(const char *s, kv_evict_kind *out)
{
    if (!s || !out) return -EINVAL;
    for (size_t i = 0; i < NKINDS; i++) {
        if (strcasecmp(s, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return 0;
        }
    }
    return -EINVAL;
}

const char *kv_evict_kind_name(kv_evict_kind kind)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].kind == kind) return kinds[i].name;
    return "?";
}

int kv_evict_init(kv_evict *p, kv_evict_kind kind, uint64_t capacity, const kv_evict_params *prm)
{
    if (!p || capacity == 0) return -EINVAL;
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof(p->q) / sizeof(p->q[0]); i++)
        bx_queue_init(&p->q[i].nodes);
    kv_evict_params def;
    if (!prm) {
        kv_evict_params_default(&def);
        prm = &def;
    }
    for (size_t i = 0; i < NKINDS; i++)
        if (kinds[i].kind == kind) p->ops = kinds[i].ops;
    if (!p->ops) return -EINVAL;
    p->kind = kind;
    p->capacity = capacity;
    p->main_cap = capacity;
    int rc = p->ops->init ? p->ops->init(p, prm) : 0;
    if (rc < 0) {
        p->ops = NULL;
        return rc;
    }
    return 0;
}

void kv_evict_close(kv_evict *p)
{
    if (!p || !p->ops) return;
    if (p->ops->close) p->ops->close(p);
    p->ops = NULL;
}

static int tracked(const kv_evict_node *n)
{
    return n && (n->queue == KV_EVICT_Q_MAIN || n->queue == KV_EVICT_Q_SMALL);
}

int kv_evict_insert(kv_evict *p, kv_evict_node *n)
{
    bx_queue_init(&n->link);
    n->queue = KV_EVICT_Q_NONE;
    n->hotness = 0;
    p->usage += n->size;
    return p->ops->insert(p, n);
}

int kv_evict_access(kv_evict *p, kv_evict_node *n)
{
    if (!tracked(n)) return -EINVAL;
    return p->ops->access(p, n);
}

int kv_evict_replace(kv_evict *p, kv_evict_node *n, uint64_t new_size)
{
    if (!tracked(n)) return -EINVAL;
    kv_evict_list *l = &p->q[n->queue];
    l->bytes = l->bytes - n->size + new_size;
    p->usage = p->usage - n->size + new_size;
    n->size = new_size;
    p->ops->replace(p, n);
    return 0;
}

int kv_evict_remove(kv_evict *p, kv_evict_node *n)
{
    if (!tracked(n)) return -EINVAL;
    kv_evict_list_unlink(p, n);
    p->usage -= n->size;
    return 0;
}

kv_evict_node *kv_evict_evict_one(kv_evict *p)
{
    kv_evict_node *n = p->ops->evict_one(p);
    if (n) {
        p->usage -= n->size;
        p->stats.evictions++;
    }
    return n;
}

void kv_evict_list_push(kv_evict *p, int q, kv_evict_node *n)
{
    kv_evict_list *l = &p->q[q];
    bx_queue_insert_head(&l->nodes, &n->link);
    n->queue = (uint8_t)q;
    l->bytes += n->size;
    l->count++;
}

void kv_evict_list_unlink(kv_evict *p, kv_evict_node *n)
{
    kv_evict_list *l = &p->q[n->queue];
    bx_queue_remove(&n->link);
    n->queue = KV_EVICT_Q_NONE;
    l->bytes -= n->size;
    l->count--;
}
