/* kv_evict_lru: least recently used, one list (AIBrix lru.py). New and replaced entries go to the
 * head, a hit moves the entry to the head, eviction takes the tail. */
#include "kv/kv_evict.h"

#include <stddef.h>

static int lru_insert(kv_evict *p, kv_evict_node *n)
{
    kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
    return 0;
}

static int lru_access(kv_evict *p, kv_evict_node *n)
{
    int hot = n->hotness == 0;
    n->hotness = 1;
    kv_evict_list_unlink(p, n);
    kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
    return hot;
}

static void lru_replace(kv_evict *p, kv_evict_node *n)
{
    n->hotness = 0;
    kv_evict_list_unlink(p, n);
    kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
}

static kv_evict_node *lru_evict_one(kv_evict *p)
{
    kv_evict_node *n = kv_evict_list_tail(&p->q[KV_EVICT_Q_MAIN]);
    if (n) kv_evict_list_unlink(p, n);
    return n;
}

const struct kv_evict_ops kv_evict_lru_ops = {
    .init = NULL,
    .close = NULL,
    .insert = lru_insert,
    .access = lru_access,
    .replace = lru_replace,
    .evict_one = lru_evict_one,
};
