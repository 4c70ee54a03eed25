/* bx_http_prom: the client-side families of a bx_http server in Prometheus
 * text, one writer for the gateway and the engine (see bx_http.h). */
#include <stdio.h>

#include "common/bx_http.h"
#include "common/bx_prom.h"

int bx_http_stats_prom(bx_buf *b, const char *prefix, const bx_http_shared_stats *st)
{
    char n[5][96];
    static const char *const suffix[5] = {"_connections_open", "_connections_rejected_total",
                                          "_request_timeouts_total", "_body_buffer_bytes",
                                          "_body_budget_rejected_total"};
    for (int i = 0; i < 5; i++)
        if ((size_t)snprintf(n[i], sizeof(n[i]), "%s%s", prefix, suffix[i]) >= sizeof(n[i]))
            return -1;
    int r = bx_prom_head(b, n[0], "gauge", "Client connections open now.");
    r |= bx_prom_value(b, n[0], NULL, (double)st->open);
    r |= bx_prom_head(b, n[1], "counter",
                      "Client connections closed at once: over --max-connections or not accepted.");
    r |= bx_prom_value(b, n[1], NULL, (double)st->rejected);
    r |= bx_prom_head(b, n[2], "counter",
                      "Requests answered 408: head or body not in by its deadline.");
    r |= bx_prom_value(b, n[2], "phase=\"header\"", (double)st->head_timeouts);
    r |= bx_prom_value(b, n[2], "phase=\"body\"", (double)st->body_timeouts);
    r |=
        bx_prom_head(b, n[3], "gauge",
                     "Bytes of request bodies being received, charged to --max-body-buffer-bytes.");
    r |= bx_prom_value(b, n[3], NULL, (double)st->body_bytes);
    r |= bx_prom_head(b, n[4], "counter",
                      "Requests answered 503: their body did not fit in --max-body-buffer-bytes.");
    r |= bx_prom_value(b, n[4], NULL, (double)st->budget_rejected);
    return r ? -1 : 0;
}
