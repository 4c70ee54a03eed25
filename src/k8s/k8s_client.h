/* k8s_client: the transport to one Kubernetes API server, on a libuv loop.
 *
 * One CURLM multi handle driven by the loop (curl_multi_socket_action with a
 * uv_poll per socket and one uv_timer: libcurl's documented integration, as
 * in loadgen_client.c), so connections are kept and reused across requests.
 * Every request has TCP keepalive (30 s idle, 10 s interval); a watch also
 * has a low-speed bound (under 1 byte/s for low_speed_s cuts it: a
 * half-open watch cannot hang silently) and a hard timeout of its
 * timeoutSeconds + 30 s. Authentication comes from a k8s_config: a bearer
 * token (a token file is re-read when 60 s old: bound service-account tokens
 * rotate), a client certificate, the CA (file or PEM data) or
 * insecure-skip-tls-verify.
 *
 * A request answers once through its callback with (HTTP code, parsed JSON
 * body, Status). A reply that is not 2xx carries a k8s_status (reason
 * Conflict, AlreadyExists, NotFound, Expired, Invalid...), from the body
 * when it is a Status. Retries: a 429 is retried for every method (the
 * server did not act; Retry-After honoured, capped at 30 s), a 5xx or a
 * transport error only for GET (not a certificate error: an untrusted
 * server certificate or an unusable client one fails at once); max_retries
 * tries more with backoff from
 * 250 ms. Bodies are bounded (max_body); a watch line by max_line.
 *
 * Rate limit: plain requests (not watches, not retries) go through a token
 * bucket, qps a second with bursts of burst (client-go's flowcontrol; 50 and
 * 100 by default, as a busy controller-manager is usually given): a
 * controller loading 100 adapters on 10 pods each (1,100 writes) spreads
 * them over seconds instead of opening a thousand connections at once to
 * an API server that answers them with 429s (API Priority and Fairness). A
 * request waiting for its token has not started: its timeout starts with
 * its transfer.
 *
 * Threading: everything on the loop's thread. Ownership: the client takes
 * the config (its strings move in; the caller's struct is zeroed).
 * Callbacks get borrowed pointers valid during the call (json_incref to
 * keep a body). A k8s_req is owned by the client and gone after its done
 * callback or k8s_cancel. k8s_client_close cancels whatever is in flight
 * (no callbacks), then frees the client and calls done from the loop. */
#ifndef K8S_CLIENT_H
#define K8S_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "common/bx_buf.h"
#include "k8s/k8s_config.h"
#include "k8s/k8s_parse.h"

typedef struct k8s_client k8s_client;
typedef struct k8s_req k8s_req;

typedef struct k8s_client_opts {
    long timeout_ms;        /* a request other than a watch; 60000 */
    size_t max_body;        /* a reply body; 64 MiB */
    size_t max_line;        /* a watch line; 16 MiB */
    int max_retries;        /* 4 */
    long retry_base_ms;     /* first backoff; 250 */
    long low_speed_s;       /* a watch under 1 B/s this long is cut; 120 */
    long token_reread_ms;   /* a token file is re-read when its token is this old; 60000 */
    const char *user_agent; /* "brix/<version>" */
    double qps;             /* plain requests a second (watches exempt); 50; 0: no limit */
    int burst;              /* ... in a burst; 100 */
} k8s_client_opts;

void k8s_client_opts_default(k8s_client_opts *o);

typedef struct k8s_resp {
    long code;                /* HTTP code; 0 on a transport failure */
    json_t *body;             /* parsed body or NULL; borrowed */
    const k8s_status *status; /* non-NULL unless 2xx */
    const char *error;        /* transport error text; "" when none */
} k8s_resp;

typedef void (*k8s_done_cb)(const k8s_resp *r, void *ud);
/* A watch line (no \n). Return non-zero to end the watch (its done
 * callback still comes, with error "stopped"). */
typedef int (*k8s_line_cb)(const char *line, size_t len, void *ud);

/* opts NULL: defaults. 0 or -1 with err. */
int k8s_client_new(uv_loop_t *loop, k8s_config *cfg, const k8s_client_opts *opts, k8s_client **out,
                   char *err, size_t errlen);
void k8s_client_close(k8s_client *c, void (*done)(void *ud), void *ud);
uv_loop_t *k8s_client_loop(const k8s_client *c);
/* The config's namespace ("default" when none). */
const char *k8s_client_ns(const k8s_client *c);
/* Requests sent so far, retries included (for "API requests per minute"). */
unsigned long long k8s_client_requests(const k8s_client *c);
/* Connections opened so far (requests reuse kept connections). */
unsigned long long k8s_client_connections(const k8s_client *c);
/* Requests that waited for the rate limit (qps, burst). */
unsigned long long k8s_client_throttled(const k8s_client *c);

/* method "GET", "POST", "PUT", "PATCH", "DELETE"; path starts with "/";
 * query without "?" or NULL; ctype NULL means application/json when body is
 * given. body is copied. NULL when the request could not be started (the
 * callback is then never called). */
k8s_req *k8s_request(k8s_client *c, const char *method, const char *path, const char *query,
                     const char *ctype, const char *body, k8s_done_cb cb, void *ud);
/* A streamed GET (a watch): lines of a 200 reply go to on_line; done comes
 * at the end with the code and, when not 200, the error body's Status.
 * timeout_s: the timeoutSeconds the query asked for (the hard cap is 30 s
 * more). Never retried. */
k8s_req *k8s_stream(k8s_client *c, const char *path, const char *query, long timeout_s,
                    k8s_line_cb on_line, k8s_done_cb done, void *ud);
/* Drops a request: no callback after this. Not from inside its own done
 * callback (it is gone then anyway); from its line callback it is allowed. */
void k8s_cancel(k8s_req *r);

/* Appends "&k=v" (or "k=v" first) URL-escaped to q. 0 or -1. */
int k8s_query_add(bx_buf *q, const char *k, const char *v);

#endif
