/* eng_group: a multi-node replica's membership (docs/engine.md "Engine
 * groups"). One leader (serves the API) and size-1 workers (ranks
 * 1..size-1) that join it over HTTP on the leader's own port:
 *
 *   worker -> leader  GET /brix/group/join       X-Brix-Group-Rank: K
 *                                                X-Brix-Group-Nonce: <hex>
 *       the leader answers 200 text/event-stream and holds the response
 *       open: an "event: joined" first, then a ": hb" comment every tick
 *       (group timeout / 4). 400 (rank out of range, bad headers), 409
 *       (rank already joined), 503 (group failed) refuse the join.
 *   worker -> leader  POST /brix/group/heartbeat (same headers) every tick;
 *       200, or 409 when the leader does not know that rank and nonce.
 *
 * The leader declares the group failed, once and for good, when a joined
 * worker's join connection closes (a dead process) or its heartbeats stop
 * for the timeout (a hung one); the worker declares the leader lost when
 * the join stream ends, errs, or stays silent for the timeout, or a
 * heartbeat is refused. Both report it through on_lost (once).
 *
 * Owns its timers and (worker) its HTTP client; eng_group_close frees it
 * once they are closed (from the loop). The leader's join and heartbeat
 * routes are answered by eng_group_handle on the engine's own server. */
#ifndef ENG_GROUP_H
#define ENG_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_buf.h"
#include "common/bx_http.h"

#define ENG_GROUP_MAX_SIZE 1024
#define ENG_GROUP_PREFIX "/brix/group/"

typedef struct eng_group eng_group; /* opaque */

/* The group failed (leader) or the leader was lost (worker); why is a
 * NUL-terminated description valid during the call. Called at most once. */
typedef void (*eng_group_lost_fn)(const char *why, void *ud);

typedef struct eng_group_cfg {
    int size;           /* leader: members including itself (>= 2); worker: 0 */
    const char *leader; /* worker: "http://host:port" */
    int rank;           /* worker: 1..size-1 */
    double timeout_s;   /* > 0 */
    eng_group_lost_fn on_lost;
    void *ud;
} eng_group_cfg;

/* Leader when cfg->size >= 2, else worker (cfg->leader set). Returns 0 and
 * *out, or -1 with a message in err. A worker starts joining at once and
 * retries every 0.5 s while it cannot connect. */
int eng_group_new(eng_group **out, uv_loop_t *loop, const eng_group_cfg *cfg, char *err,
                  size_t errlen);
/* Stops everything (a leader ends its workers' join streams); frees the
 * group from the loop once its handles and requests are closed. NULL ok. */
void eng_group_close(eng_group *g);

int eng_group_is_leader(const eng_group *g);
/* Leader: every worker joined and the group has not failed. Worker:
 * joined and the leader not lost. */
int eng_group_ready(const eng_group *g);
int eng_group_failed(const eng_group *g);
/* Why the group is not ready, for /health (a static or internal string). */
const char *eng_group_status(const eng_group *g);

/* Answers a request whose path starts with ENG_GROUP_PREFIX. g may be NULL
 * (not a leader: 400). */
void eng_group_handle(eng_group *g, bx_http_req *hr, bx_http_res *res);
/* Appends the brix_engine_group_* families. 0 or -1. */
int eng_group_render(const eng_group *g, bx_buf *b);

/* Pure parsers of the worker's headers and the leader URL (fuzzed).
 * Rank: decimal 1..size-1 without sign or blanks; nonce: 1-16 hex digits.
 * 0, or -1. */
int eng_group_parse_rank(const char *s, int size, int *rank);
int eng_group_parse_nonce(const char *s, uint64_t *nonce);
/* "http://host:port[/]" (IPv6 as [addr]) into host and port. 0 or -1. */
int eng_group_parse_url(const char *url, char *host, size_t hostlen, int *port);

#endif
