/* bx_kvev: vLLM-compatible KV cache events (BlockStored, BlockRemoved,
 * AllBlocksCleared) and their msgpack codec. Pure: no sockets, no clocks.
 *
 * Wire shapes (vllm/distributed/kv_events.py, msgspec omit_defaults structs):
 *   event, array form (legacy; the only form AIBrix decodes):
 *     ["BlockStored", hashes[], parent|nil, token_ids[], block_size, lora_id|nil,
 *      medium|nil, lora_name|nil, extra_keys?, group_idx?]
 *     ["BlockRemoved", hashes[], medium|nil, group_idx?]
 *     ["AllBlocksCleared"]
 *   event, map form: {"type": "BlockStored", "block_hashes": ..., ...}
 *   batch, array form: [ts, [events...], data_parallel_rank?]
 *   batch, map form:   {"ts": ..., "events": [...], "data_parallel_rank"?: ...}
 * Fields with a default (extra_keys, group_idx, data_parallel_rank) are left
 * out when unset; fields without one (parent, lora_id, medium, lora_name) are
 * always written, as nil when unset. Event and batch forms are separate options.
 *
 * Hashes are uint64 (vLLM's VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1, the last 8
 * bytes of the digest). The bytes form writes 32-byte bins holding the uint64
 * big-endian four times, so readers taking the last 8 bytes (vLLM's int rule,
 * this decoder) and readers taking the first 8 bytes (AIBrix) both get the
 * same uint64. The decoder maps a bin hash of 1..64 bytes to its last 8 bytes.
 *
 * Memory: events given to the encoder are borrowed for the call only. A batch
 * filled by bx_kvev_decode owns all its arrays and strings; release it with
 * bx_kvev_batch_free. The decoder never keeps a pointer into the input. */
#ifndef BX_KVEV_H
#define BX_KVEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"

typedef enum bx_kvev_type {
    BX_KVEV_BLOCK_STORED = 1,
    BX_KVEV_BLOCK_REMOVED = 2,
    BX_KVEV_ALL_CLEARED = 3,
} bx_kvev_type;

#define BX_KVEV_MEDIUM_GPU "GPU"

typedef struct bx_kvev_event {
    bx_kvev_type type;
    /* BlockStored and BlockRemoved */
    uint64_t *block_hashes;
    size_t n_hashes;
    const char *medium; /* NULL = nil; vLLM sends "GPU" */
    bool has_group_idx;
    int64_t group_idx;
    /* BlockStored only */
    bool has_parent;
    uint64_t parent_block_hash;
    uint32_t *token_ids;
    size_t n_tokens;
    uint32_t block_size;
    bool has_lora_id;
    int64_t lora_id;
    const char *lora_name; /* NULL = nil */
} bx_kvev_event;

typedef struct bx_kvev_batch {
    double ts; /* seconds since the epoch */
    bx_kvev_event *events;
    size_t n_events;
    bool has_dp_rank;
    int64_t data_parallel_rank;
    bool owned_; /* set by bx_kvev_decode: bx_kvev_batch_free releases */
} bx_kvev_batch;

typedef enum bx_kvev_event_enc {
    BX_KVEV_EVENT_ARRAY = 0, /* tagged positional arrays (legacy, AIBrix) */
    BX_KVEV_EVENT_MAP = 1,   /* {"type": tag, field: value...} */
} bx_kvev_event_enc;

typedef enum bx_kvev_batch_enc {
    BX_KVEV_BATCH_ARRAY = 0, /* [ts, events, dp_rank?] */
    BX_KVEV_BATCH_MAP = 1,   /* {ts, events, data_parallel_rank?} */
} bx_kvev_batch_enc;

typedef enum bx_kvev_hash_enc {
    BX_KVEV_HASH_UINT64 = 0, /* msgpack unsigned ints */
    BX_KVEV_HASH_BYTES = 1,  /* 32-byte bin, see the top comment */
} bx_kvev_hash_enc;

/* All-zero is the default: array events, array batch, uint64 hashes. */
typedef struct bx_kvev_enc_opts {
    bx_kvev_event_enc event_enc;
    bx_kvev_batch_enc batch_enc;
    bx_kvev_hash_enc hash_enc;
} bx_kvev_enc_opts;

/* Decoder limits; every one must be > 0. */
typedef struct bx_kvev_limits {
    size_t max_bytes;  /* payload size */
    size_t max_events; /* events per batch */
    size_t max_hashes; /* block hashes per event */
    size_t max_tokens; /* token ids per event */
    size_t max_str;    /* medium / lora_name / tag length */
    bool skip_unknown; /* drop events with an unknown tag instead of failing */
} bx_kvev_limits;

enum {
    BX_KVEV_OK = 0,
    BX_KVEV_EMSGPACK = -1, /* not one well-formed msgpack object */
    BX_KVEV_ESCHEMA = -2,  /* valid msgpack, wrong shape or types */
    BX_KVEV_ELIMIT = -3,   /* over a bx_kvev_limits bound */
    BX_KVEV_ENOMEM = -4,
    BX_KVEV_EINVAL = -5, /* bad argument to an encoder */
};

typedef struct bx_kvev_err {
    char msg[160];
} bx_kvev_err;

void bx_kvev_limits_default(bx_kvev_limits *l);
const char *bx_kvev_type_name(bx_kvev_type t); /* "BlockStored", ...; "?" if unknown */

/* Appends one encoded event to out. Returns 0 or a negative BX_KVEV_E*. */
int bx_kvev_encode_event(bx_buf *out, const bx_kvev_event *ev, const bx_kvev_enc_opts *o);

/* Appends a batch whose n_events events are already encoded back to back in
 * events_bytes (by bx_kvev_encode_event with the same opts). dp_rank < 0
 * leaves data_parallel_rank out. */
int bx_kvev_encode_batch_raw(bx_buf *out, double ts, const void *events_bytes, size_t events_len,
                             size_t n_events, int64_t dp_rank, const bx_kvev_enc_opts *o);

/* Appends a whole batch. */
int bx_kvev_encode_batch(bx_buf *out, const bx_kvev_batch *b, const bx_kvev_enc_opts *o);

/* Decodes one payload in any of the encodings above. limits NULL = defaults;
 * err may be NULL. On success out owns its memory (bx_kvev_batch_free); on
 * failure out is left empty and needs no free. */
int bx_kvev_decode(const char *buf, size_t len, const bx_kvev_limits *limits, bx_kvev_batch *out,
                   bx_kvev_err *err);

/* Frees what bx_kvev_decode allocated and zeroes *b. Does nothing to a batch
 * the caller built itself (owned_ false). */
void bx_kvev_batch_free(bx_kvev_batch *b);

#endif
