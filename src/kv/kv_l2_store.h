/* kv_l2_store: libbrixkv's L2 plug-in point. An L2 connector is a table of
 * function pointers (kv_l2_connector) in one file, src/kv/kv_l2_<name>.c,
 * listed in kv_l2_store.c's table and found by name, as the L1 eviction
 * policies are (kv_evict.h). Redis/Valkey (kv_l2_redis.c) is the first.
 * brixkv.c and kv_ingest.c see only this header.
 *
 * An open store is the connector's own struct, which begins with a
 * kv_l2_store (its type), so the calls below dispatch through it without a
 * void * (Redis's connection types are built the same way).
 *
 * The contract every connector keeps (brixkv's behaviour rests on it):
 *  - Batches: a call works on keys[0..n) at once (pipelined or however the
 *    store batches); the key's name in the store is the connector's business
 *    (under the config's namespace), values are opaque bytes (kv_l2.h's
 *    header is the caller's).
 *  - get_many calls cb once for each key found, with its index and value,
 *    as the value arrives; missing keys and failures get no call. The value
 *    lives until cb returns; cb must not call into the store.
 *  - put_many_then writes vals[i] under keys[i], calls then(arg) exactly
 *    once (after sending, before waiting for the answers when it can: the
 *    caller's work there overlaps the store's; then must not call into the
 *    store) and returns how many were written.
 *  - exists_many sets found[i] to 1 or 0 (0 also when unknown); del_many
 *    returns how many existed.
 *  - Failure never blocks past the config's timeout and never raises: a
 *    failed key reads as missing, a failed write as not written, and the
 *    store backs off from a node that is down (counted in errors).
 *  - Thread-safe: every call but close may run on many threads at once.
 * Ownership: keys and values passed in are read during the call only; the
 * config's strings and node list are copied at open. */
#ifndef KV_L2_STORE_H
#define KV_L2_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "brix/brixkv.h"
#include "kv/kv_key.h"
#include "kv/kv_l2.h"

#define KV_L2_NS_MAX 128 /* longest namespace (key prefix) */

typedef struct kv_l2_store_config {
    const kv_l2_addr *nodes; /* copied */
    unsigned nnodes;         /* 1..KV_L2_MAX_NODES */
    unsigned conns;          /* connections per node; 0: 2 */
    int timeout_ms;          /* connect and command bound; <= 0: 1000 */
    const char *ns;          /* key prefix, <= KV_L2_NS_MAX bytes; NULL/"": "brixkv" */
} kv_l2_store_config;

typedef struct kv_l2_store_stats {
    uint64_t errors; /* failed connects, I/O errors, timeouts, error replies */
    unsigned nodes, nodes_up;
} kv_l2_store_stats;

/* A value to write: head[0..head_len) then the pieces v[0..nv), in order. */
typedef struct kv_l2_val {
    const void *head;
    size_t head_len;
    const brixkv_iov *v;
    size_t nv;
} kv_l2_val;

/* One value found by get_many: i is its index in keys. */
typedef void (*kv_l2_get_cb)(void *arg, size_t i, const uint8_t *val, size_t len);

typedef struct kv_l2_store kv_l2_store;

typedef struct kv_l2_connector {
    const char *name; /* brixkv's name for it, e.g. "redis" */
    /* Opens the store (a node that does not answer starts down, not an
     * error). 0 and *out, or -EINVAL/-ENOMEM with a message in err. */
    int (*open)(const kv_l2_store_config *c, kv_l2_store **out, char *err, size_t errlen);
    void (*close)(kv_l2_store *s);
    void (*get_many)(kv_l2_store *s, const kv_key *keys, size_t n, kv_l2_get_cb cb, void *arg);
    size_t (*put_many_then)(kv_l2_store *s, const kv_key *keys, const kv_l2_val *vals, size_t n,
                            void (*then)(void *), void *arg);
    void (*exists_many)(kv_l2_store *s, const kv_key *keys, size_t n, uint8_t *found);
    size_t (*del_many)(kv_l2_store *s, const kv_key *keys, size_t n);
    void (*stats_get)(kv_l2_store *s, kv_l2_store_stats *out);
} kv_l2_connector;

/* The first member of every connector's open store. */
struct kv_l2_store {
    const kv_l2_connector *type;
};

/* The connector called name (case-insensitive), or NULL. */
const kv_l2_connector *kv_l2_connector_find(const char *name);

/* Opens an L2 store with the connector called name: 0, or -EINVAL (unknown
 * connector, bad config) / -ENOMEM with a message in err. */
int kv_l2_store_open(const char *name, const kv_l2_store_config *c, kv_l2_store **out, char *err,
                     size_t errlen);
/* Closes it (NULL: nothing); no call may be in flight. */
void kv_l2_store_close(kv_l2_store *s);

static inline void kv_l2_store_get_many(kv_l2_store *s, const kv_key *keys, size_t n,
                                        kv_l2_get_cb cb, void *arg)
{
    s->type->get_many(s, keys, n, cb, arg);
}
static inline size_t kv_l2_store_put_many_then(kv_l2_store *s, const kv_key *keys,
                                               const kv_l2_val *vals, size_t n,
                                               void (*then)(void *), void *arg)
{
    return s->type->put_many_then(s, keys, vals, n, then, arg);
}
static inline void kv_l2_store_exists_many(kv_l2_store *s, const kv_key *keys, size_t n,
                                           uint8_t *found)
{
    s->type->exists_many(s, keys, n, found);
}
static inline size_t kv_l2_store_del_many(kv_l2_store *s, const kv_key *keys, size_t n)
{
    return s->type->del_many(s, keys, n);
}
static inline void kv_l2_store_stats_get(kv_l2_store *s, kv_l2_store_stats *out)
{
    s->type->stats_get(s, out);
}

#endif
