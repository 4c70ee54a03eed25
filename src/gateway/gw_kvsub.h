/* gw_kvsub: the gateway's subscriber to the engines' KV events (vLLM's ZMQ
 * publisher: eng_kvpub.h, ../shared/spec/gateway.md §2.7), feeding the
 * exact prefix index (gw_kvindex.h).
 *
 * One thread owns a ZeroMQ context and, per engine it is told to follow
 * (gw_kvsub_want), a SUB socket connected to the engine's PUB endpoint
 * (subscribed to every topic) and, when the engine has one, a DEALER
 * connected to its replay ROUTER. Messages are 3 frames [topic, seq (8-byte
 * big-endian), msgpack batch]; anything else is counted and dropped. The
 * batch is decoded by bx_kvev_decode within limits (also the sockets'
 * ZMQ_MAXMSGSIZE) and applied with the caller's lock held. On connecting
 * it asks for a replay from seq 0 (what the engine did before the gateway
 * listened); on a sequence gap it asks for a replay from the next expected
 * seq ([empty, BE64(from)], answers [empty, seq, payload] ending with seq
 * 0xFFFFFFFFFFFFFFFF), live batches waiting until the answer ends; an
 * answer that does not end within replay_timeout_ms fails (the DEALER is
 * reopened, so a late answer is not mistaken for the next). An engine
 * without a replay endpoint accepts gaps (degraded). ZeroMQ reconnects a
 * SUB whose engine restarted on the same address; the index sees the seq
 * start from 0 again (a restart).
 *
 * Bounds: at most max_engines followed (further wants fail), payloads of
 * at most limits.max_bytes (ZeroMQ drops the connection of a peer sending
 * a bigger message and reconnects: the index sees a gap), at most 256 live
 * and 1024 replayed messages per engine per poll, poll period poll_ms,
 * replay deadline.
 * Ownership: gw_kvsub_start returns a subscriber freed by gw_kvsub_stop
 * (joins the thread, closes the sockets). The index and lock callbacks are
 * borrowed and must outlive it. Endpoint strings are copied. want / drop
 * may be called from any thread (own mutex); the index is only touched
 * with lock() held. */
#ifndef GW_KVSUB_H
#define GW_KVSUB_H

#include <stddef.h>
#include <stdint.h>

#include "common/bx_kvev.h"
#include "gateway/gw_kvindex.h"

#define GW_KVSUB_EP_MAX 160

typedef struct gw_kvsub gw_kvsub;

typedef struct gw_kvsub_opts {
    gw_kvindex *ix;
    void (*lock)(void *ud); /* held around every index call; NULL: none */
    void (*unlock)(void *ud);
    void *ud;
    int poll_ms;           /* default 100 (AIBrix's) */
    int replay_timeout_ms; /* default 5000 (AIBrix's) */
    int max_engines;       /* default 256 */
    bx_kvev_limits limits; /* default bx_kvev_limits_default, max_bytes 16 MiB */
} gw_kvsub_opts;

typedef struct gw_kvsub_stats {
    uint64_t messages, bad_frames, decode_errors, replay_requests, replay_timeouts;
    int following;
} gw_kvsub_stats;

void gw_kvsub_opts_default(gw_kvsub_opts *o);
/* NULL with a message in err on failure (ZeroMQ, thread). */
gw_kvsub *gw_kvsub_start(const gw_kvsub_opts *o, char *err, size_t errlen);
void gw_kvsub_stop(gw_kvsub *s);
/* Follow engine_id's stream at pub ("tcp://host:port"), replay endpoint
 * replay ("" or NULL: none). Same endpoints again: nothing; others: the
 * sockets are reopened. 0, or -1 (bad id, too long, max_engines reached). */
int gw_kvsub_want(gw_kvsub *s, int engine_id, const char *pub, const char *replay);
/* Stop following (the index's engine goes back to approximate). */
void gw_kvsub_drop(gw_kvsub *s, int engine_id);
void gw_kvsub_stats_get(gw_kvsub *s, gw_kvsub_stats *out);

#endif
