/* bx_curlm: libcurl's multi interface driven by a libuv loop (libcurl's
 * documented event-loop integration, docs/examples/multi-uv.c): curl says
 * through CURLMOPT_SOCKETFUNCTION which sockets to watch for what (one
 * uv_poll_t each) and through CURLMOPT_TIMERFUNCTION when to call it back
 * (one uv_timer_t); both end in curl_multi_socket_action, after which the
 * finished transfers are handed to done_cb. Used by the Kubernetes client
 * (src/k8s) and the load generator (src/loadgen).
 *
 * Lifecycle, libuv style: bx_curlm_new, bx_curlm_add / bx_curlm_remove per
 * transfer, bx_curlm_close (then run the loop: closed_cb runs once every
 * handle has closed, and the bx_curlm is freed right before it).
 *
 * Ownership: the caller owns its easy handles, always. bx_curlm_remove (or
 * done_cb) is where the multi lets go of one; the caller frees it after
 * that. Remove every easy handle before close's closed_cb at the latest
 * (done_cb still runs for transfers that finish after close was called,
 * until the timer has closed); one still added then is detached by
 * curl_multi_cleanup and may be freed in or after closed_cb. The bx_curlm
 * owns its timer, its poll handles and the CURLM.
 *
 * Recursion: libcurl refuses curl_multi_add_handle/remove_handle from
 * inside its own callbacks (CURLM_RECURSIVE_API_CALL), e.g. from a write
 * callback running inside curl_multi_socket_action. bx_curlm_add and
 * bx_curlm_remove called there are queued and done right after that
 * socket_action returns (before done_cb runs for finished transfers), so
 * callers need no 0 ms timer of their own. A 0 ms timeout asked by curl is
 * likewise run from the loop (a zero timer), never from inside curl.
 *
 * Threading: one loop, one thread. */
#ifndef BX_CURLM_H
#define BX_CURLM_H

#include <curl/curl.h>
#include <uv.h>

typedef struct bx_curlm bx_curlm; /* opaque */

/* A transfer finished with rc. easy is already out of the multi (the
 * caller owns it again: free it, or add it again). May call any bx_curlm
 * function, bx_curlm_close included. */
typedef void (*bx_curlm_done_cb)(void *ud, CURL *easy, CURLcode rc);

/* Global curl init must have been done by the program (curl_global_init).
 * Returns NULL on failure (nothing to close then; a timer already opened
 * closes by itself when the loop runs). */
bx_curlm *bx_curlm_new(uv_loop_t *loop, bx_curlm_done_cb done, void *ud);

/* The multi handle, for curl_multi_setopt of limits (never the socket and
 * timer functions, which are bx_curlm's). Valid until closed_cb. */
CURLM *bx_curlm_multi(bx_curlm *m);

/* Starts easy. Inside socket_action it is queued (returns 0); if the add
 * then fails, done_cb gets CURLE_FAILED_INIT. Returns 0, or -1 (closing, or
 * curl_multi_add_handle failed: the error is logged). */
int bx_curlm_add(bx_curlm *m, CURL *easy);

/* Takes easy out of the multi without done_cb. Returns 0 when it is out,
 * or 1 when it was queued (called from inside a curl callback): then easy
 * stays in the multi, and must stay allocated, until the socket_action
 * running now returns; its callbacks may still run until then. -1: out of
 * memory to queue it. */
int bx_curlm_remove(bx_curlm *m, CURL *easy);

/* Stops the timer, closes every poll handle, cleans up the multi, then
 * frees m and calls closed_cb(ud) (may be NULL). No add after this. */
void bx_curlm_close(bx_curlm *m, void (*closed_cb)(void *ud), void *ud);

#endif
