/* eng_server: the simulator process: its HTTP API (vLLM's OpenAI-compatible
 * server), the simulated clock and the step loop that drives eng_sched, and
 * the glue to metrics and KV events.
 *
 * Time: simulated seconds = wall seconds since start x time_scale. Each step
 * lasts what eng_timing says in simulated time; the loop sleeps until the
 * step's end and, when the wall clock has run ahead (high time scales),
 * commits several steps in one wakeup, so reported times stay exact.
 *
 * Multi-node replicas (eng_group): a leader (--group-size) is unready and
 * answers /v1 with 503 until its workers joined, and for good once one is
 * lost (requests in flight fail); a worker (--group-leader) serves only
 * /health, /metrics and /version, and stops the loop when it loses the
 * leader (eng_server_exit_status 1).
 *
 * Lifecycle: eng_server_init (binds the port), then uv_run on the loop;
 * eng_server_close stops everything and frees all requests. */
#ifndef ENG_SERVER_H
#define ENG_SERVER_H

#include <uv.h>

#include "engine/eng_config.h"

typedef struct eng_server eng_server; /* opaque */

/* Returns 0 and *out, or -1 with a message in err. cfg is copied; the
 * strings it points to must outlive the server. */
int eng_server_init(eng_server **out, uv_loop_t *loop, const eng_config *cfg, char *err,
                    size_t errlen);
int eng_server_port(const eng_server *s);
/* $ per replica-hour: --price-per-hour, else the profile's for its layout. */
double eng_server_price(const eng_server *s);
/* 0, or 1 once a group worker lost its leader (the loop was stopped). */
int eng_server_exit_status(const eng_server *s);
void eng_server_close(eng_server *s);

#endif
