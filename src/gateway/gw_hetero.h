/* gw_hetero: the heterogeneous-GPU optimizer's assignment as the gateway
 * keeps it (docs/hetero.md "Assignment"): per model, for each cell of the
 * profile grid (input tokens x output tokens), the share of requests each
 * GPU type (a Deployment: gw_engine.group) should get. The slo strategies
 * (strategies/gw_strat_slo.c) read it per request; the optimizer's
 * assignment arrives by polling (--gpu-optimizer URL: GET
 * URL/assignment/<model>) or in process (gw_hetero_set_json: `brix up`).
 *
 * Three layers:
 * - Pure: gw_hetero_parse (the contract's JSON into a flat struct; fuzzed:
 *   fuzz/fuzz_gw_hetero.c), gw_hetero_index / gw_hetero_cell (a request's
 *   cell, as opt_profile_cell snaps: log2 space, nearest index, midpoints
 *   round up, clamped), gw_hetero_order (the groups of a cell in the order
 *   to try: one drawn by share, then the others by descending share).
 * - The store (gw_hetero): the current assignment per model. Threads: its
 *   own mutex, held for a pointer swap by writers (the gateway's loop, the
 *   embedding control plane) and for a cell lookup and a copy of at most
 *   GW_HETERO_GROUPS_MAX names by readers (the proxy workers' picks, which
 *   hold the registry lock already: the order is registry, then store; the
 *   store never takes the registry lock). A new assignment is parsed
 *   outside the lock and swapped in whole, so a reader sees one
 *   assignment or the next, never a mix.
 * - The poller (gw_hetero_poller): on the gateway's loop, every
 *   interval_ms, GETs URL/assignment/<model> for the models its caller
 *   names (bounded body, whole-request timeout, one request per model in
 *   flight); a good answer replaces the model's assignment, anything else
 *   keeps the last good one and is logged once per change of what went
 *   wrong.
 *
 * Ownership: the store owns its assignments (copied in); callers own the
 * structs they pass. The poller borrows the loop, the HTTP client and the
 * store, which must outlive it (gw_hetero_poll_close frees it once its
 * requests have ended). */
#ifndef GW_HETERO_H
#define GW_HETERO_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/bx_http.h"
#include "gateway/gw_engine.h"

#define GW_HETERO_GROUPS_MAX 16         /* GPU types (Deployments) of one model */
#define GW_HETERO_GRID_MAX 24           /* token counts per dimension (opt_profile's bound) */
#define GW_HETERO_MODELS_MAX 64         /* models with an assignment at once */
#define GW_HETERO_BODY_MAX (256u << 10) /* an assignment document, at most */
#define GW_HETERO_DEFAULT_OUT 128       /* output tokens of a request without max_tokens */

typedef struct gw_hetero_assign {
    char model[GW_NAME_MAX];
    int64_t generation, ts; /* 0 when absent */
    int ngroups;            /* deployments named in "deployments" or in a share */
    char groups[GW_HETERO_GROUPS_MAX][GW_NAME_MAX];
    int replicas[GW_HETERO_GROUPS_MAX];    /* -1: not given */
    int nin, nout;                         /* grid size; 0 x 0 when "cells" is empty */
    double in_tokens[GW_HETERO_GRID_MAX];  /* increasing, > 0 */
    double out_tokens[GW_HETERO_GRID_MAX]; /* increasing, > 0 */
    /* log2 of the two above (gw_hetero_parse fills them; gw_hetero_cell reads them) */
    double in_log2[GW_HETERO_GRID_MAX], out_log2[GW_HETERO_GRID_MAX];
    uint8_t listed[GW_HETERO_GRID_MAX][GW_HETERO_GRID_MAX]; /* [out][in]: a cell had shares > 0 */
    /* [out][in][group]: normalised to sum 1 over the groups of a listed cell */
    float share[GW_HETERO_GRID_MAX][GW_HETERO_GRID_MAX][GW_HETERO_GROUPS_MAX];
} gw_hetero_assign;

/* ---- pure ---- */

/* Parses an assignment:
 *   {"model": "m", "generation": 7?, "ts": 1765000000?,
 *    "deployments": [{"name": "m-l4", "replicas": 3?, ...}]?,
 *    "cells": [{"in": 128, "out": 64, "share": {"m-l4": 0.75, "m-a100": 0.25}}]}
 * Unknown keys are ignored. A cell's shares must be finite and >= 0; they
 * are normalised (a cell whose shares sum to 0 counts as not listed). 0, or
 * -1 with the field at fault in err (not JSON, no model, a bad cell, more
 * than GW_HETERO_GRID_MAX distinct in/out values or GW_HETERO_GROUPS_MAX
 * groups, names of GW_NAME_MAX bytes or more, two cells at one point). */
int gw_hetero_parse(const char *json, size_t len, gw_hetero_assign *out, char *err, size_t errlen);

/* The index of v[0..n) (increasing, > 0) nearest to x in log2 space,
 * midpoints to the larger, clamped to [0, n - 1]; x <= 0 counts as 1. -1
 * when n <= 0. */
int gw_hetero_index(const double *v, int n, double x);

/* A request's cell: *in_idx, *out_idx (each -1 when the grid is empty).
 * Returns 1 when that cell is listed (has shares), else 0. */
int gw_hetero_cell(const gw_hetero_assign *a, double in_tokens, double out_tokens, int *in_idx,
                   int *out_idx);

/* The groups of cell (in_idx, out_idx) with a share > 0 in the order to
 * try: first the one u (in [0, 1)) draws by share (cumulative, groups in
 * the assignment's order), then the rest by descending share (ties in the
 * assignment's order). Writes at most cap group indexes; returns how many
 * (0 for a cell not listed). */
int gw_hetero_order(const gw_hetero_assign *a, int in_idx, int out_idx, double u, int *order,
                    int cap);

/* ---- the store ---- */

typedef struct gw_hetero gw_hetero; /* opaque */

gw_hetero *gw_hetero_new(void); /* NULL when out of memory */
void gw_hetero_free(gw_hetero *h);

/* Parses json (gw_hetero_parse) and makes it model's assignment. model
 * NULL: the JSON's; else the JSON's must be the same. 0, or -1 with why in
 * err (the previous assignment stays). */
int gw_hetero_set_json(gw_hetero *h, const char *model, const char *json, size_t len, char *err,
                       size_t errlen);
/* Copies a into the store as a->model's assignment. 0, or -1 (out of
 * memory, GW_HETERO_MODELS_MAX models already). */
int gw_hetero_set(gw_hetero *h, const gw_hetero_assign *a);
/* Forgets model's assignment (its requests route as least-request). */
void gw_hetero_clear(gw_hetero *h, const char *model);
/* The generation of model's assignment, or -1 when it has none. */
int64_t gw_hetero_generation(gw_hetero *h, const char *model);

/* What routing one request needs: the groups to try, in order. */
typedef struct gw_hetero_route_out {
    int ngroups;
    char groups[GW_HETERO_GROUPS_MAX][GW_NAME_MAX];
    int in_idx, out_idx;
    int64_t generation;
} gw_hetero_route_out;

/* The groups for a request of model with these token counts: its cell,
 * then gw_hetero_order with u drawn from a per-model, per-cell counter
 * (the Weyl sequence frac(k * 0.618...)), so that over the requests of a
 * cell every group's count stays within a few requests of its share; the
 * counter advances. Returns out->ngroups (0: the cell is not listed), or
 * -1 when model has no assignment. */
int gw_hetero_route(gw_hetero *h, const char *model, double in_tokens, double out_tokens,
                    gw_hetero_route_out *out);

/* ---- the poller ---- */

/* "http://host[:port][/base]" (port 80 without one; IPv6 bracketed) into
 * host (brackets removed), port and base (no trailing '/', "" for none). 0
 * or -1 (https, no host, a bad port, too long). */
int gw_hetero_url_parse(const char *url, char *host, size_t hostlen, int *port, char *base,
                        size_t baselen);

typedef struct gw_hetero_poll_opts {
    const char *url;       /* the optimizer's base URL (gw_hetero_url_parse); copied */
    uint64_t interval_ms;  /* default 5000 */
    uint64_t timeout_ms;   /* whole request; default 2000 */
    size_t max_body_bytes; /* default GW_HETERO_BODY_MAX */
    /* The models to ask about now: writes at most cap names (each
     * NUL-terminated, under GW_NAME_MAX) and returns how many. Called on
     * the loop at every round. */
    int (*models)(void *ud, char (*out)[GW_NAME_MAX], int cap);
    void *ud;
} gw_hetero_poll_opts;

typedef struct gw_hetero_poller gw_hetero_poller; /* opaque */

void gw_hetero_poll_opts_default(gw_hetero_poll_opts *o);
/* Starts polling (first round at once). 0, or -1 with why in err. */
int gw_hetero_poll_start(gw_hetero_poller **out, uv_loop_t *loop, bx_http_client *client,
                         gw_hetero *h, const gw_hetero_poll_opts *o, char *err, size_t errlen);
/* Stops, cancels what is in flight and frees once it has ended (from the
 * loop). NULL: nothing. */
void gw_hetero_poll_close(gw_hetero_poller *p);

typedef struct gw_hetero_poll_stats {
    uint64_t polls, failures, updates; /* requests ended, of which failed; assignments replaced */
} gw_hetero_poll_stats;
void gw_hetero_poll_get_stats(const gw_hetero_poller *p, gw_hetero_poll_stats *out);

#endif
