/* gw_ratelimit: per-user RPM/TPM limits kept in Redis, compatible with
 * AIBrix's keys (below; docs/gateway.md), so brix and AIBrix gateways can share
 * one Redis and the AIBrix metadata service can manage the users.
 *
 * - Users: key `aibrix-users/<name>`, JSON {"name","rpm","tpm"}; rpm <= 0
 *   means 100 and tpm <= 0 means rpm * 1000 (after the rpm default).
 *   Records are cached in memory for opts.user_cache_ms (bounded table).
 * - Counters: fixed 60 s windows, `aibrix:<user>_RPM_CURRENT:<bin>` and
 *   `aibrix:<user>_TPM_CURRENT:<bin>`, bin = (unix_seconds / 60) % 64,
 *   written with INCRBY + EXPIRE 60 pipelined; a missing key counts as 0.
 * - A check: GET RPM, reject if >= limit; INCRBY RPM (and, in the same
 *   write, GET TPM), reject if TPM >= limit. TPM is only checked before the
 *   request (a request can overshoot) and grows by total_tokens through
 *   gw_ratelimit_account when the response ends, as in AIBrix.
 * - Unknown users: AIBrix answers 500. brix makes it a policy, default
 *   GW_RL_UNKNOWN_ALLOW ("unknown user -> no limit").
 * - Redis unavailable (not up, error reply, or no answer within
 *   opts.timeout_ms): fail_open=1 (default) answers GW_RL_FAIL_OPEN (admit,
 *   unchecked); fail_open=0 answers GW_RL_ERROR (the proxy sends 503). Both
 *   count redis_errors, and each answer is counted (fail_open, errors).
 * - Health: Redis is "up" once a PING is answered on the connection. A
 *   check that times out, a lost connection, a PING unanswered for
 *   opts.ping_interval_ms, or a reply saying the server cannot serve now
 *   (LOADING, BUSY) marks it down: every check waiting on it is answered at
 *   once, and until a PING is answered again every new check is answered
 *   without asking Redis (on the next loop turn, never after a deadline).
 *   So only the check that discovers a hang waits, at most timeout_ms. One
 *   probe runs meanwhile: a PING on the connection, and when that is not
 *   answered within connect_timeout_ms, a new connection (exponential
 *   backoff reconnect_min_ms..reconnect_max_ms, reset once up) and a PING
 *   on it. Other error replies (about one key) fail that check only. A late
 *   reply to a check already answered is read and dropped.
 *
 * Everything runs on the caller's libuv loop through hiredis's async API and
 * its libuv adapter; nothing blocks: a host that is not a numeric address is
 * resolved with uv_getaddrinfo (thread pool) before each connection. The
 * process must ignore SIGPIPE (hiredis 0.14 writes with write(2)).
 *
 * Memory: the limiter owns its connection, cache and every pending check.
 * Strings passed in are copied. A gw_ratelimit_req pointer stays valid until
 * its callback starts or until gw_ratelimit_cancel returns. */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Longest user name looked up. A longer one is never looked up: ALLOW under
 * GW_RL_UNKNOWN_ALLOW, else GW_RL_REJECT_UNKNOWN. */
#define GW_RL_USER_MAX 256
#define GW_RL_DEFAULT_RPM 100
#define GW_RL_DEFAULT_TPM_MULTIPLIER 1000
#define GW_RL_WINDOW_S 60
#define GW_RL_BINS 64

typedef enum gw_rl_verdict {
    GW_RL_ALLOW = 0,
    GW_RL_REJECT_RPM,     /* 429, retry_after_s set */
    GW_RL_REJECT_TPM,     /* 429, retry_after_s set */
    GW_RL_ERROR,          /* Redis unavailable and fail_open = 0 (fail closed): 503 */
    GW_RL_REJECT_UNKNOWN, /* unknown user and policy GW_RL_UNKNOWN_REJECT */
    GW_RL_FAIL_OPEN,      /* Redis unavailable and fail_open = 1: admit unchecked */
} gw_rl_verdict;

typedef enum gw_rl_unknown_policy {
    GW_RL_UNKNOWN_ALLOW = 0, /* no record: no limit (default) */
    GW_RL_UNKNOWN_DEFAULTS,  /* no record: rpm 100, tpm 100000 */
    GW_RL_UNKNOWN_REJECT,    /* no record: GW_RL_REJECT_UNKNOWN (AIBrix: 500) */
} gw_rl_unknown_policy;

typedef struct gw_ratelimit_opts {
    int fail_open;                /* 1: Redis down -> ALLOW; 0 -> ERROR */
    int64_t timeout_ms;           /* per check; longer counts as Redis down */
    int64_t connect_timeout_ms;   /* one connection attempt */
    int64_t reconnect_min_ms;     /* first backoff step */
    int64_t reconnect_max_ms;     /* backoff cap */
    int64_t user_cache_ms;        /* how long a user record is trusted */
    int user_cache_max;           /* cache entries (bounded) */
    int max_inflight;             /* pending checks; beyond: Redis-down answer */
    gw_rl_unknown_policy unknown; /* see above */
    int64_t ping_interval_ms;     /* while up, a PING this often (health) */
    /* Called on the loop when Redis goes up (1) or down (0) in the
     * limiter's view; it starts down, and gw_ratelimit_close calls nothing.
     * NULL: none. Never called from inside gw_ratelimit_check. */
    void (*on_health)(void *ud, int up);
    void *health_ud;
    /* Test hook: current unix time in seconds (NULL = the real clock). It
     * picks the window bin and the Retry-After. */
    int64_t (*now_s)(void *ud);
    void *now_ud;
} gw_ratelimit_opts;

typedef struct gw_ratelimit_stats {
    uint64_t allowed; /* ALLOW answers, and FAIL_OPEN ones */
    uint64_t rejected_rpm;
    uint64_t rejected_tpm;
    uint64_t rejected_unknown;
    uint64_t errors;        /* GW_RL_ERROR answers (fail closed) */
    uint64_t fail_open;     /* GW_RL_FAIL_OPEN answers */
    uint64_t redis_errors;  /* checks/accounts that Redis failed (any cause) */
    uint64_t timeouts;      /* checks that ran past timeout_ms */
    uint64_t unknown_users; /* checks for a user with no record */
    uint64_t bad_records;   /* user records that are not valid JSON */
    uint64_t reconnects;    /* successful (re)connections */
    uint64_t downs;         /* times Redis was marked down */
    uint64_t up;            /* gauge: 1 while Redis is up (gw_ratelimit_connected) */
    uint64_t cache_hits, cache_misses;
    uint64_t inflight; /* gauge: checks not yet freed (incl. late replies) */
} gw_ratelimit_stats;

typedef struct gw_ratelimit gw_ratelimit;         /* opaque */
typedef struct gw_ratelimit_req gw_ratelimit_req; /* opaque, one pending check */

/* Called exactly once per check (unless cancelled), always from the loop,
 * never from inside gw_ratelimit_check; while Redis is down, on the loop's
 * next turn. retry_after_s is the number of seconds until the current 60 s
 * window ends (1..60) for REJECT_RPM/TPM, else 0. */
typedef void (*gw_ratelimit_cb)(void *ud, gw_rl_verdict v, int retry_after_s);

/* fail_open 1, timeout 50 ms, connect (and probe) timeout 1 s, backoff
 * 250 ms..2 s, PING every 1 s while up, cache 5 s / 4096 users, 65536 in
 * flight, unknown users unlimited. */
void gw_ratelimit_opts_default(gw_ratelimit_opts *o);

/* Starts connecting to host:port (opts NULL = defaults; copied). Returns 0,
 * or -1 with a message in err for bad arguments or out of memory; Redis
 * being unreachable is not an error (the limiter keeps retrying). */
int gw_ratelimit_init(gw_ratelimit **out, uv_loop_t *loop, const char *host, int port,
                      const gw_ratelimit_opts *opts, char *err, size_t errlen);

/* Checks and counts one request of user (NUL-terminated). An empty or NULL
 * user is allowed without touching Redis (AIBrix checks only requests that
 * carry a user header). Returns the pending check (for gw_ratelimit_cancel),
 * or NULL when out of memory or closing, in which case cb is never called. */
gw_ratelimit_req *gw_ratelimit_check(gw_ratelimit *rl, const char *user, gw_ratelimit_cb cb,
                                     void *ud);
/* The callback of req will not be called; req is invalid afterwards. Only
 * before its callback started. */
void gw_ratelimit_cancel(gw_ratelimit_req *req);

/* Adds total_tokens to user's TPM counter of the current window (fire and
 * forget; errors are counted). No-op for an empty user, tokens <= 0, Redis
 * down (counted in redis_errors), or a user the cache knows has no record. */
void gw_ratelimit_account(gw_ratelimit *rl, const char *user, int64_t total_tokens);

/* SET key value EX ttl_s on the limiter's connection, fire and forget (the
 * load monitor's AIBrix request traces, gw_loadmon.h). 0 sent (an error
 * reply is counted in redis_errors and logged); -1 not sent: Redis down,
 * closing, or out of memory (counted in redis_errors). Never waits. */
int gw_ratelimit_set(gw_ratelimit *rl, const char *key, const char *value, int64_t ttl_s);

/* 1 while Redis is up: connected, a PING answered, and not marked down
 * since (see the health paragraph above). */
int gw_ratelimit_connected(const gw_ratelimit *rl);
void gw_ratelimit_stats_get(const gw_ratelimit *rl, gw_ratelimit_stats *out);

/* Pure helpers (exported for tests and the proxy). Write a NUL-terminated
 * key into out; return its length, or -1 when cap is too small. */
int gw_ratelimit_user_key(const char *user, char *out, size_t cap);
int gw_ratelimit_counter_key(const char *user, int tpm, int64_t unix_s, char *out, size_t cap);
/* Seconds until the 60 s window containing unix_s ends (1..60). */
int gw_ratelimit_retry_after(int64_t unix_s);
/* Parses a user record (len bytes of untrusted JSON) into the effective
 * limits (defaults applied). 0 on success, -1 when it is not a JSON object
 * or rpm/tpm are not integers. */
int gw_ratelimit_parse_user(const char *json, size_t len, int64_t *rpm, int64_t *tpm);

/* Answers every pending check with GW_RL_ERROR (like libuv's UV_ECANCELED;
 * not counted in the stats), drops the connection and frees everything once
 * the loop has closed the handles: keep running the loop afterwards. */
void gw_ratelimit_close(gw_ratelimit *rl);

#endif
