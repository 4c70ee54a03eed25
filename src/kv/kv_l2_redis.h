/* kv_l2_redis: libbrixkv's L2 connector on Redis/Valkey (hiredis), the
 * first implementation of kv_l2_store.h's table (kv_l2_redis_connector,
 * "redis"), whose contract it keeps; the functions below are its own API
 * (tests and tools call them directly). Owns
 * the node list, the consistent-hash ring (kv_l2) that places each key on
 * one node, and l2_conns blocking connections per node, each behind its own
 * mutex. Batches are pipelined: a call groups its keys by node, sends every
 * node its N commands, then reads the N replies of each.
 *
 * Copies: a SET is written by hand (RESP framing, then the value's pieces
 * straight from the caller's memory with sendmsg), so its bytes are copied
 * only by the kernel, not into hiredis' output buffer. A GET reply is
 * handed to the callback from hiredis' read buffer as it is parsed (custom
 * reply functions), so no reply object holds a copy and at most one reply
 * per connection is in memory at a time, however long the batch.
 *
 * Keys in the store are "<namespace>:<32 hex of the block key>"; values are
 * opaque here (kv_l2's header is the caller's business).
 *
 * Failure: an I/O error or timeout (timeout_ms bounds connect and each
 * command) closes that connection and marks its node down for a backoff
 * window (100 ms doubling to 5 s); while down, commands to it fail at once
 * without touching the network. When the window ends one caller probes
 * with a connect; success brings the node back, failure doubles the window.
 * Failed keys read as missing and failed writes report not written.
 * SIGPIPE raised by a write to a dead socket is blocked and consumed in
 * the calling thread only; no process-wide signal state is changed.
 *
 * Thread-safe. Ownership: keys and values passed in are read during the
 * call only; values passed to a get callback live until it returns. */
#ifndef KV_L2_REDIS_H
#define KV_L2_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "brix/brixkv.h"
#include "kv/kv_key.h"
#include "kv/kv_l2.h"
#include "kv/kv_l2_store.h"

#define KV_L2_KEYNAME_MAX (KV_L2_NS_MAX + 1 + KV_KEY_HEX_LEN + 1)

/* Its struct begins with a kv_l2_store: a kv_l2_redis * is one. */
typedef struct kv_l2_redis kv_l2_redis;

/* Its entry in kv_l2_store.c's table: "redis". */
extern const kv_l2_connector kv_l2_redis_connector;

/* The table's types, under this connector's names. */
typedef kv_l2_store_config kv_l2_redis_config;
typedef kv_l2_store_stats kv_l2_redis_stats;
typedef kv_l2_val kv_l2_redis_val;
typedef kv_l2_get_cb kv_l2_redis_get_cb;

/* Connects one connection per node (a node that does not answer starts
 * down, not an error). 0, or -EINVAL/-ENOMEM with a message. */
int kv_l2_redis_create(const kv_l2_redis_config *c, kv_l2_redis **out, char *err, size_t errlen);
void kv_l2_redis_destroy(kv_l2_redis *r);

/* Called once for each key found, with i its index in keys and the value,
 * as its reply is parsed: in key order within a node, node after node.
 * Keys missing, on a down node or failed get no call. The callback runs
 * with that node's connection held: it must not call back into r. */
void kv_l2_redis_get_many(kv_l2_redis *r, const kv_key *keys, size_t n, kv_l2_redis_get_cb cb,
                          void *arg);
/* SETs vals[i] (head, then the pieces) under keys[i]; returns how many were written. */
size_t kv_l2_redis_put_many(kv_l2_redis *r, const kv_key *keys, const kv_l2_redis_val *vals,
                            size_t n);
/* The same, calling then(arg) once (always) after the commands are sent
 * and before their replies are read, so the caller's work there overlaps
 * the store's; it runs with connections held and must not call into r. */
size_t kv_l2_redis_put_many_then(kv_l2_redis *r, const kv_key *keys, const kv_l2_redis_val *vals,
                                 size_t n, void (*then)(void *), void *arg);
/* found[i] = 1 if keys[i] exists (0 when missing or unknown). */
void kv_l2_redis_exists_many(kv_l2_redis *r, const kv_key *keys, size_t n, uint8_t *found);
/* DELs keys[0..n); returns how many existed. */
size_t kv_l2_redis_del_many(kv_l2_redis *r, const kv_key *keys, size_t n);

void kv_l2_redis_stats_get(kv_l2_redis *r, kv_l2_redis_stats *out);
/* The node index keys map to (placement, for tests and tools). */
unsigned kv_l2_redis_node_of(const kv_l2_redis *r, const kv_key *key);
/* The store's key name for key under namespace ns; its length. */
size_t kv_l2_redis_keyname(const char *ns, const kv_key *key, char out[KV_L2_KEYNAME_MAX]);

#endif
