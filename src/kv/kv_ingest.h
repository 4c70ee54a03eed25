/* kv_ingest: libbrixkv's L2 write path. A bounded FIFO of blocks to write
 * (at most cap items) drained by one worker thread in pipelined batches
 * (kv_l2_store_put_many_then, up to 64 blocks a batch), plus a synchronous write
 * for l2_sync. Pushing never blocks: a full queue drops the block and
 * counts it (spec 9.4), as does a write the store refused or could not take.
 *
 * Queued items own a private copy of the block (the one copy a queued
 * write makes): one malloc of header + payload, the header encoded (kv_l2)
 * as the bytes are gathered from the caller's pieces, so the caller's
 * buffers (or an L1 slot about to be reused) are free again as soon as
 * kv_ingest_offer returns; the connector sends it in place. The queue
 * owns an item once pushed and frees it after the write. Synchronous
 * writes (kv_ingest_write_now_then) copy nothing: the connector sends the
 * caller's header and pieces in place.
 *
 * Thread-safe. */
#ifndef KV_INGEST_H
#define KV_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "brix/brixkv.h"
#include "kv/kv_key.h"
#include "kv/kv_l2_store.h"

typedef struct kv_ingest kv_ingest;

/* Starts the worker. store is borrowed and must outlive the queue. */
int kv_ingest_create(kv_l2_store *store, size_t cap, kv_ingest **out);
/* Stops the worker; items still queued are dropped (counted) and freed. */
void kv_ingest_destroy(kv_ingest *q);
/* The block for key from pieces v[0..nv) (lengths summing to len) into
 * the queue: copied only if there is room, else dropped and counted.
 * 0 or -ENOSPC/-ENOMEM (dropped). Never blocks beyond the queue mutex. */
int kv_ingest_offer(kv_ingest *q, const kv_key *key, const brixkv_iov *v, size_t nv, size_t len);
/* Writes vals[i] under keys[i] now, in pipelined batches, calling
 * then(arg) once between sending and reading the replies
 * (kv_l2_store_put_many_then), counting what was written and dropped;
 * returns the number written. */
size_t kv_ingest_write_now_then(kv_ingest *q, const kv_key *keys, const kv_l2_val *vals, size_t n,
                                void (*then)(void *), void *arg);
/* Waits until the queue is empty and no batch is being written: 0, or
 * -ETIMEDOUT after timeout_ms (< 0: no bound). */
int kv_ingest_flush(kv_ingest *q, int timeout_ms);
size_t kv_ingest_pending(kv_ingest *q);
void kv_ingest_stats_get(kv_ingest *q, uint64_t *written, uint64_t *dropped);

#endif
