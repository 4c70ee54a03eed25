/* gw_gateway: the `brix gateway` process: its HTTP server, the proxy path
 * (parse once, resolve the model, pick an engine, forward, stream back,
 * account), discovery and scraping, limits and its own /metrics.
 *
 * Lifecycle like libuv's: gw_gateway_init binds the port on the caller's
 * loop; uv_run serves; gw_gateway_close stops everything and frees it. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stddef.h>
#include <uv.h>

#include "gateway/gw_config.h"

typedef struct gw_gateway gw_gateway; /* opaque */

/* cfg is copied; the strings it points to must outlive the gateway. */
int gw_gateway_init(gw_gateway **out, uv_loop_t *loop, const gw_config *cfg, char *err,
                    size_t errlen);
int gw_gateway_port(const gw_gateway *g);
void gw_gateway_close(gw_gateway *g);

#endif
