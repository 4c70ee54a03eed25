/* ctl_redis: one Redis connection for a control-plane reader on a libuv
 * loop (hiredis's async API and its libuv adapter, as the gateway's
 * gw_ratelimit): SCAN a pattern to the end, MGET keys. The GPU optimizer
 * reads AIBrix's trace and profile keys with it (ctl_gpuopt_redis.c).
 *
 *   connection  made on the first command and again on the next command
 *               after it is lost (no timer of its own: the caller's period
 *               paces reconnects); a host that is not a numeric address is
 *               resolved with uv_getaddrinfo first. With a password, AUTH
 *               is the first command on every connection (a refusal is
 *               the error of the commands after it: NOAUTH).
 *   deadline    while commands are pending, a connection that answers
 *               nothing for timeout_ms is dropped: every pending command
 *               fails ("timeout").
 *   bounds      SCAN stops at max keys (error "more than N keys"); values
 *               over CTL_REDIS_VALUE_MAX are handed as missing.
 *
 * Callbacks run from the loop, never from inside the call that started the
 * command, once per started command: on success err is NULL; on failure err
 * says why (the keys or values are then NULL). What they are handed is
 * borrowed for the call. ctl_redis_close fails every pending command
 * ("closed") before it returns. The process must ignore SIGPIPE (hiredis
 * 0.14 writes with write(2)). Loop thread only. */
#ifndef CTL_REDIS_H
#define CTL_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CTL_REDIS_VALUE_MAX (1 << 20)
#define CTL_REDIS_MGET_MAX 1024

typedef struct ctl_redis ctl_redis; /* opaque */

typedef struct ctl_redis_cfg {
    const char *host;     /* required */
    int port;             /* 0: 6379 */
    const char *password; /* NULL or "": no AUTH */
    uint64_t timeout_ms;  /* 0: 5000 */
    const char *log_name; /* prefix of its log lines; NULL: "redis" */
} ctl_redis_cfg;

typedef void (*ctl_redis_keys_cb)(void *ud, const char *err, char *const *keys, const size_t *lens,
                                  size_t n);
typedef void (*ctl_redis_vals_cb)(void *ud, const char *err, char *const *vals, const size_t *lens,
                                  size_t n);

/* Strings are copied; nothing connects yet. 0, or -1 with a message. */
int ctl_redis_new(ctl_redis **out, uv_loop_t *loop, const ctl_redis_cfg *cfg, char *err,
                  size_t errlen);

/* SCAN 0 MATCH pattern COUNT 1000 ... until the cursor is 0; cb gets every
 * key (duplicates, which SCAN may return, removed). 0 (cb will run), or -1
 * (cb will not run: cannot connect or send; ctl_redis_error says why). */
int ctl_redis_scan(ctl_redis *r, const char *pattern, size_t max, ctl_redis_keys_cb cb, void *ud);

/* MGET keys[0..n) (1 <= n <= CTL_REDIS_MGET_MAX); vals[i] NULL for a key
 * missing, not a string, or over CTL_REDIS_VALUE_MAX. 0 or -1 as above. */
int ctl_redis_mget(ctl_redis *r, char *const *keys, const size_t *lens, size_t n,
                   ctl_redis_vals_cb cb, void *ud);

/* The last connection or command error ("" none since the last success). */
const char *ctl_redis_error(const ctl_redis *r);
/* "host:port" as configured. */
const char *ctl_redis_addr(const ctl_redis *r);

/* "HOST:PORT", "HOST" (port 6379) or "[V6]:PORT" into host[cap] and
 * *port (1..65535). 0, or -1. */
int ctl_redis_parse_addr(const char *spec, char *host, size_t cap, int *port);

/* AIBrix's optimizer's environment: REDIS_HOST (unset or "": none, -1) and
 * REDIS_PORT (default 6379; a number, or Kubernetes' service link form
 * "tcp://IP:PORT", whose port is taken). 0, or -1 (unset or malformed). */
int ctl_redis_env_addr(char *host, size_t cap, int *port);

/* Fails every pending command ("closed"), then frees r once its handles
 * are closed. NULL is fine. Not from inside one of its callbacks. */
void ctl_redis_close(ctl_redis *r);

#endif
