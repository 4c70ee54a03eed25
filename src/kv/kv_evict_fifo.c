/* kv_evict_fifo: first in, first out (AIBrix fifo.py). Like LRU but neither a hit nor a replace
 * moves the entry; "hot" is still the first hit. */
#include "kv/kv_evict.h"

#include <stddef.h>

static int fifo_insert(kv_evict *p, kv_evict_node *n)
{
    kv_evict_list_push(p, KV_EVICT_Q_MAIN, n);
    return 0;
}

static int fifo_access(kv_evict *p, kv_evict_node *n)
{
    (void)p;
    int hot = n->hotness == 0;
    n->hotness = 1;
    return hot;
}

static void fifo_replace(kv_evict *p, kv_evict_node *n)
{
    (void)p;
    n->hotness = 0;
}

static kv_evict_node *fifo_evict_one(kv_evict *p)
{
    kv_evict_node *n = kv_evict_list_tail(&p->q[KV_EVICT_Q_MAIN]);
    if (n) kv_evict_list_unlink(p, n);
    return n;
}

const struct kv_evict_ops kv_evict_fifo_ops = {
    .init = NULL,
    .close = NULL,
    .insert = fifo_insert,
    .access = fifo_access,
    .replace = fifo_replace,
    .evict_one = fifo_evict_one,
};
