/* loadgen_workload: what `brix bench run` sends and when, as pure functions of
 * a seed: a seeded RNG, Poisson arrival schedules, request lengths, prompt
 * text (3-letter words, one brix token each), traces read from JSONL, and the
 * conversation state of multi-turn sessions. No I/O, no clocks.
 *
 * Memory: the caller owns every struct passed in. loadgen_plan owns its items
 * (loadgen_plan_free); loadgen_conv owns copies of the messages added to it
 * (loadgen_conv_free). Text is appended to caller-owned bx_buf buffers. */
#ifndef LOADGEN_WORKLOAD_H
#define LOADGEN_WORKLOAD_H

#include "common/bx_buf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- RNG: xoshiro256** seeded through splitmix64 ---- */
typedef struct loadgen_rng {
    uint64_t s[4];
} loadgen_rng;

void loadgen_rng_seed(loadgen_rng *r, uint64_t seed);
uint64_t loadgen_rng_next(loadgen_rng *r);
double loadgen_rng_uniform(loadgen_rng *r);          /* [0, 1) */
double loadgen_rng_exp(loadgen_rng *r, double rate); /* exponential with mean 1/rate */
double loadgen_rng_normal(loadgen_rng *r);           /* standard normal */
/* A 64-bit value derived from (a, b), well mixed: used for per-item seeds. */
uint64_t loadgen_mix(uint64_t a, uint64_t b);

/* ---- workload parameters ---- */
enum loadgen_wl_kind { LOADGEN_WL_RANDOM, LOADGEN_WL_SHARED_PREFIX, LOADGEN_WL_MULTI_TURN };
enum loadgen_len_dist { LOADGEN_LEN_FIXED, LOADGEN_LEN_UNIFORM, LOADGEN_LEN_NORMAL };

#define LOADGEN_MAX_ITEMS 10000000L /* requests in one run */
#define LOADGEN_MAX_LEN 1000000     /* tokens in one prompt part or answer */
#define LOADGEN_TRACE_MAX_LINE 65536

typedef struct loadgen_wl_params {
    enum loadgen_wl_kind kind;
    uint64_t seed;
    double rate;       /* requests (multi-turn: sessions) per second; INFINITY = all at once */
    long num_requests; /* 0 = not given */
    double duration;   /* seconds of arrivals; 0 = not given */
    int input_len;     /* mean new prompt tokens (suffix / user message) */
    int output_len;    /* mean max_tokens */
    enum loadgen_len_dist len_dist;
    double len_spread; /* uniform: +-spread*mean; normal: sd = spread*mean */
    int num_prefix_groups;
    int prefix_len;   /* shared-prefix tokens (trace: cap on prefix_group prefixes) */
    int num_sessions; /* multi-turn; 0 = ceil(num_requests / turns) */
    int turns;
    double think_time; /* seconds between an answer and the session's next turn */
} loadgen_wl_params;

/* One request of the run. A request is sent at max(at, previous turn's
 * answer + think) once the previous turn of its session (if any) is done. */
typedef struct loadgen_item {
    double at;           /* earliest send time, seconds from the start */
    double think;        /* delay after the previous turn's answer */
    int input_len;       /* new random tokens (after the prefix, if any) */
    int output_len;      /* max_tokens */
    int prefix_len;      /* tokens of shared prefix, 0 when none */
    int prefix_group;    /* group index, -1 when none */
    uint64_t prefix_key; /* seeds the prefix text (same key = same prefix) */
    int session;         /* -1 when not part of a session */
    int turn;
    long prev;     /* index of the session's previous turn, -1 */
    long next;     /* index of the session's next turn, -1 */
    uint64_t seed; /* seeds this item's own text */
} loadgen_item;

typedef struct loadgen_plan {
    loadgen_item *items;
    size_t n;
    int num_sessions;
} loadgen_plan;

/* Validates w and fills p. Returns 0, or -1 with a message in err. */
int loadgen_plan_build(loadgen_plan *p, const loadgen_wl_params *w, char *err, size_t errlen);

/* Parses one trace line: {"timestamp": s, "prompt_tokens": n,
 * "output_tokens": m, "session": any?, "prefix_group": any?}. *session_key
 * and *group_key are 0 when absent, else a hash of the JSON value (never 0).
 * Returns 0, or -1 with a message. */
typedef struct loadgen_trace_line {
    double timestamp;
    int prompt_tokens;
    int output_tokens;
    uint64_t session_key;
    uint64_t group_key;
} loadgen_trace_line;
int loadgen_trace_parse_line(const char *line, size_t len, loadgen_trace_line *out, char *err,
                             size_t errlen);

/* Builds a plan from a whole JSONL trace (blank lines skipped). Items are
 * ordered by timestamp; lines of one session are chained as turns; a line
 * with a prefix_group starts with min(w->prefix_len, prompt_tokens) tokens
 * of that group's prefix. w->num_requests / w->duration cut the trace. */
int loadgen_plan_from_trace(loadgen_plan *p, const char *text, size_t len,
                            const loadgen_wl_params *w, char *err, size_t errlen);

void loadgen_plan_free(loadgen_plan *p);

/* Appends n words " xyz" drawn from the fixed word list with the seed. */
int loadgen_words(bx_buf *out, uint64_t seed, int n);
/* Appends an item's own prompt text: its shared prefix (if any) then its
 * random tokens. base_seed is the run's --seed. */
int loadgen_item_text(bx_buf *out, uint64_t base_seed, const loadgen_item *it);
/* Draws a length around mean with the distribution; always in [1, LOADGEN_MAX_LEN]. */
int loadgen_sample_len(loadgen_rng *r, int mean, enum loadgen_len_dist d, double spread);

/* ---- multi-turn conversation: user, assistant, user, ... ---- */
typedef struct loadgen_conv {
    char **msgs;
    size_t *lens;
    size_t n;
    size_t cap;
} loadgen_conv;

void loadgen_conv_init(loadgen_conv *c);
int loadgen_conv_add(loadgen_conv *c, const char *text, size_t len); /* copies text */
void loadgen_conv_free(loadgen_conv *c);

#endif
