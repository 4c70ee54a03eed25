/* gw_auth: the gateway's access step, run once per request by the routing
 * step (gw_gateway.c) before any route is looked up.
 *
 * With API keys configured (gw_config.keys: --api-key, --api-key-file,
 * BRIX_API_KEYS, the --config file's api_keys/api_key_file), every request
 * needs "Authorization: Bearer <key>", whatever its path or method, except
 * the health probes GET /healthz and /readyz, whose answers say only "ok" or
 * "not ready". A request without a valid key gets 401 with an OpenAI-style
 * AuthenticationError body and WWW-Authenticate: Bearer, also on /metrics
 * (it names the engines) and on paths the gateway does not serve: a client
 * without a key learns nothing of the route table (no 404 vs 401 oracle).
 * Without keys every request passes. The keys are checked in constant time
 * (bx_apikey). */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "common/bx_apikey.h"
#include "common/bx_http.h"

/* 1 for the paths anyone may ask: /healthz and /readyz. */
int gw_auth_public(const char *path);
/* 1 when hr may go on (no keys, a public path, or a valid key); else res
 * is answered 401 and 0 returned (res is finished: do not touch it). */
int gw_auth_step(const bx_apikeys *keys, const bx_http_req *hr, bx_http_res *res);

#endif
