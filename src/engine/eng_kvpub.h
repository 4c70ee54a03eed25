/* eng_kvpub: the engine's vLLM-compatible KV event publisher over ZeroMQ.
 *
 * A PUB socket sends one message per scheduler step, three frames
 * [topic, seq (8-byte big-endian, from 0, +1 per batch), msgpack batch].
 * The engine appends events while it runs a step (block_stored,
 * block_removed, all_cleared) and calls eng_kvpub_flush(ts) at the end of
 * the step; an empty step sends nothing and uses no seq. Sends never block
 * (ZMQ_DONTWAIT); a failed send is counted in stats.dropped.
 *
 * Bind or connect follows vLLM: the PUB socket binds when the endpoint
 * contains "*" or "::" or is ipc:// or inproc://, and connects otherwise.
 *
 * Optional replay ROUTER (always binds), vLLM layout: it keeps the last
 * buffer_steps batches; a request [identity, "", start_seq(8B BE)] is answered
 * with [identity, "", seq(8B BE), payload] for each kept batch with
 * seq >= start_seq, then [identity, "", 0xFFFFFFFFFFFFFFFF, ""]. It is served
 * from the caller's event loop: watch eng_kvpub_replay_fd for readability
 * (e.g. a uv_poll_t) and call eng_kvpub_replay_poll; the fd is edge-triggered
 * (ZMQ_FD), so replay_poll drains until ZMQ_EVENTS shows no POLLIN.
 * An answer covers the batches kept when the request arrived. Answers are
 * sent with ZMQ_ROUTER_MANDATORY: when a client's queue is full (send HWM)
 * the answer pauses and resumes on a later replay_poll (the fd fires when
 * the queue drains), instead of ZeroMQ silently dropping parts of it as
 * vLLM's ROUTER does. At most ENG_KVPUB_MAX_REPLAYS answers are in progress;
 * further requests from other clients are ignored (stats.replay_busy) and
 * the client times out and retries. A new request from a client replaces its
 * unfinished answer. While eng_kvpub_replay_active() > 0, also calling
 * replay_poll once per engine step guards against a missed wakeup.
 *
 * Memory: the caller owns the eng_kvpub struct; the module owns the sockets,
 * the pending batch and the replay ring, all released by eng_kvpub_close.
 * Events passed in are copied (encoded) before the call returns. Not thread
 * safe: call everything from the engine loop's thread. */
#ifndef ENG_KVPUB_H
#define ENG_KVPUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bx_buf.h"
#include "common/bx_kvev.h"

typedef struct eng_kvpub_opts {
    bx_kvev_enc_opts enc; /* default: array events, array batch, uint64 hashes */
    int hwm;              /* PUB send high-water mark, default 100000 */
    size_t buffer_steps;  /* replay ring size in batches, default 10000 */
    int64_t dp_rank;      /* data_parallel_rank in each batch; < 0 omits; default 0 */
    void *zmq_ctx;        /* shared ZeroMQ context (not owned); NULL = own one */
    int bind;             /* bind the PUB whatever the endpoint (a loopback address) */
} eng_kvpub_opts;

typedef struct eng_kvpub_stats {
    uint64_t batches;         /* batches flushed (= next seq) */
    uint64_t events;          /* events flushed */
    uint64_t dropped;         /* batches whose send failed */
    uint64_t replay_requests; /* well-formed replay requests answered */
    uint64_t replay_bad;      /* malformed replay requests ignored */
    uint64_t replay_busy;     /* requests ignored: too many answers in progress */
    uint64_t replay_paused;   /* times an answer waited for a full client queue */
} eng_kvpub_stats;

#define ENG_KVPUB_MAX_REPLAYS 16
#define ENG_KVPUB_REPLAY_ID_MAX 255 /* ZeroMQ routing ids are 1..255 bytes */

/* One answer in progress: sends seq next..end-1, then the end marker. */
typedef struct eng_kvpub_replay {
    bool active;
    unsigned char id[ENG_KVPUB_REPLAY_ID_MAX];
    size_t id_len;
    uint64_t next;
    uint64_t end;
} eng_kvpub_replay;

typedef struct eng_kvpub_slot {
    uint64_t seq;
    char *data;
    size_t len;
} eng_kvpub_slot;

typedef struct eng_kvpub {
    void *ctx;
    bool own_ctx;
    void *pub;
    void *router; /* NULL without a replay endpoint */
    char *topic;
    size_t topic_len;
    eng_kvpub_opts opts;
    uint64_t seq;   /* next seq to send */
    bx_buf pending; /* encoded events of the current step */
    size_t n_pending;
    bx_buf payload; /* scratch for the batch being flushed */
    eng_kvpub_slot *ring;
    size_t ring_head; /* index of the oldest slot */
    size_t ring_count;
    eng_kvpub_replay replays[ENG_KVPUB_MAX_REPLAYS];
    eng_kvpub_stats stats;
} eng_kvpub;

enum {
    ENG_KVPUB_OK = 0,
    ENG_KVPUB_EZMQ = -1, /* ZeroMQ call failed (see err / errno) */
    ENG_KVPUB_ENOMEM = -2,
    ENG_KVPUB_EINVAL = -3,
};

void eng_kvpub_opts_default(eng_kvpub_opts *o);

/* vLLM's rule: 1 if the PUB socket should bind to endpoint, 0 to connect. */
int eng_kvpub_should_bind(const char *endpoint);

/* vLLM's offset_endpoint_port: tcp endpoints get port + rank, inproc gets
 * "_dp<rank>"; rank 0 copies. Returns 0, or -1 if it does not fit or the
 * endpoint has no numeric port. */
int eng_kvpub_offset_endpoint(const char *endpoint, int rank, char *out, size_t out_len);

/* Opens the sockets. replay_endpoint may be NULL; topic may be NULL (empty).
 * opts NULL = defaults. On failure returns a negative ENG_KVPUB_E*, writes a
 * message to err (if err_len > 0) and leaves nothing to close. */
int eng_kvpub_open(eng_kvpub *p, const char *endpoint, const char *replay_endpoint,
                   const char *topic, const eng_kvpub_opts *opts, char *err, size_t err_len);

/* Appends a BlockStored event; a NULL ev->medium is sent as "GPU". */
int eng_kvpub_block_stored(eng_kvpub *p, const bx_kvev_event *ev);
int eng_kvpub_block_removed(eng_kvpub *p, const uint64_t *hashes, size_t n);
int eng_kvpub_all_cleared(eng_kvpub *p);
/* Appends any event as given (medium not defaulted). */
int eng_kvpub_add(eng_kvpub *p, const bx_kvev_event *ev);
size_t eng_kvpub_pending(const eng_kvpub *p);

/* Sends the pending events as one batch stamped ts (seconds since the epoch)
 * and clears them. Returns 1 if a batch was sent, 0 if there was nothing
 * pending or the send was dropped (stats.dropped), negative on error. */
int eng_kvpub_flush(eng_kvpub *p, double ts);

/* Actual address of the PUB / replay socket (ZMQ_LAST_ENDPOINT), e.g. after
 * binding "tcp://127.0.0.1:*". Returns 0 or -1. */
int eng_kvpub_endpoint(const eng_kvpub *p, char *out, size_t out_len);
int eng_kvpub_replay_endpoint(const eng_kvpub *p, char *out, size_t out_len);

/* The ROUTER's ZMQ_FD (edge-triggered), or -1 without a replay socket. */
int eng_kvpub_replay_fd(const eng_kvpub *p);
/* Reads every waiting replay request and sends as much of the answers in
 * progress as the sockets take, without blocking. Returns the number of new
 * requests accepted (>= 0), or ENG_KVPUB_EZMQ / ENG_KVPUB_EINVAL. */
int eng_kvpub_replay_poll(eng_kvpub *p);
/* Number of answers still in progress. */
size_t eng_kvpub_replay_active(const eng_kvpub *p);

/* Closes the sockets (linger 0: unsent messages are dropped) and frees all. */
void eng_kvpub_close(eng_kvpub *p);

#endif
