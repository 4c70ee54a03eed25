/* opt_profile: a GPU type's profile for the heterogeneous-GPU optimizer, in
 * AIBrix's JSON shape (GPUProfile; ../shared/spec/lora_fleet_hetero.md 3.2):
 *   {"gpu": "<deployment>", "cost": <$ per replica-hour>,
 *    "tputs": [[rps, ...], ...],          // [out][in]: rps under the SLO, 0 = cannot
 *    "indexes": [[out tokens...], [in tokens...]],
 *    "created": <unix seconds>,
 *    "e2e": [[s, ...], ...]?, "ttft": [[...]]?,    // [out][in], optional
 *    "slos": {"e2e"?: s, "ttft"?: s, "tpot"?: s, "tpat"?: s,
 *             "tput"?: rps, "tt"?: tok/s, "percentile": 0|50|90|99}?}
 * brix also reads and writes "model" (the served model) when present.
 * Every profile of one model must share indexes (opt_profile_same_grid).
 *
 * Pure: parse and emit over buffers (the parser is fuzzed:
 * fuzz/fuzz_opt_profile.c). The struct is flat, no heap; callers own it. */
#ifndef OPT_PROFILE_H
#define OPT_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#define OPT_PROFILE_GRID_MAX 24 /* ticks per dimension (4..4096 powers of two: 11) */
#define OPT_PROFILE_NAME_MAX 128

typedef struct opt_slo {
    double e2e, ttft, tpot, tpat; /* seconds; 0 = not set */
    double tput, tt;              /* lower bounds; 0 = not set */
    int percentile;               /* 0 (mean), 50, 90, 99 */
} opt_slo;

typedef struct opt_profile {
    char gpu[OPT_PROFILE_NAME_MAX];          /* the deployment (GPU type) it describes */
    char model[OPT_PROFILE_NAME_MAX];        /* "" when the JSON has none */
    double cost;                             /* $ per replica-hour */
    int nout, nin;                           /* grid size, 1..OPT_PROFILE_GRID_MAX each */
    double out_tokens[OPT_PROFILE_GRID_MAX]; /* indexes[0], increasing */
    double in_tokens[OPT_PROFILE_GRID_MAX];  /* indexes[1], increasing */
    double tputs[OPT_PROFILE_GRID_MAX][OPT_PROFILE_GRID_MAX]; /* [out][in] */
    double e2e[OPT_PROFILE_GRID_MAX][OPT_PROFILE_GRID_MAX];   /* [out][in]; has_e2e */
    double ttft[OPT_PROFILE_GRID_MAX][OPT_PROFILE_GRID_MAX];  /* [out][in]; has_ttft */
    int has_e2e, has_ttft, has_slos;
    int64_t created;
    opt_slo slos;
} opt_profile;

/* Parses one profile. Returns 0, or -1 with a message naming the field in
 * err (not JSON, missing gpu/cost/tputs/indexes, ragged or negative
 * matrices, indexes not increasing or not matching tputs, too large). */
int opt_profile_parse(const char *json, size_t len, opt_profile *out, char *err, size_t errlen);

/* Emits p as JSON (the shape above, compact, one line). Returns a string the
 * caller frees, or NULL on allocation failure. */
char *opt_profile_to_json(const opt_profile *p);

/* 1 when a and b have the same indexes, else 0. */
int opt_profile_same_grid(const opt_profile *a, const opt_profile *b);

/* The grid cell of a request shape, as AIBrix snaps a centroid: in log2
 * space, the nearest index (midpoints round up), clamped to the edges.
 * *clamped is set to 1 when the shape lies outside the grid (else 0). */
void opt_profile_cell(const opt_profile *p, double in_tokens, double out_tokens, int *in_idx,
                      int *out_idx, int *clamped);

#endif
