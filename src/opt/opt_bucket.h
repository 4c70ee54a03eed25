/* opt_bucket: AIBrix's request-shape buckets, the unit of the load monitor
 * and of the heterogeneous-GPU optimizer (docs/hetero.md). A request of x
 * input and y output tokens falls in the bucket "I:O", I and O its tokens'
 * log2 in tenths, computed exactly as AIBrix's gateway does (Go float64):
 *   b(x) = round(log2(x) / 0.1) * 0.1   (0 for x <= 0)
 *   I    = (int64)(b(x) / 0.1)          (truncation, float quirks kept)
 * so 1000 input and 100 output tokens are "100:66". Pure functions; no
 * state, no allocation. */
#ifndef OPT_BUCKET_H
#define OPT_BUCKET_H

#include <stddef.h>
#include <stdint.h>

#define OPT_BUCKET_PRECISION 10 /* ticks per doubling: AIBrix's meta_precision */
#define OPT_BUCKET_KEY_MAX 48   /* "I:O" with two int64s, NUL included */

/* The tick of a token count: tenths of log2, AIBrix's arithmetic. */
int64_t opt_bucket_tick(int64_t tokens);

/* The token count a tick stands for: 2^(tick / 10), at least 1. */
double opt_bucket_tokens(int64_t tick);

/* Writes "I:O" for a request's token counts into buf (len >=
 * OPT_BUCKET_KEY_MAX is always enough). Returns the length, or -1 when it
 * does not fit. */
int opt_bucket_key(int64_t in_tokens, int64_t out_tokens, char *buf, size_t len);

/* Parses "I:O" (two decimal integers, each 0..100000, nothing else).
 * Returns 0, or -1 for anything else (AIBrix's meta_* keys included). */
int opt_bucket_parse_key(const char *key, size_t len, int64_t *in_tick, int64_t *out_tick);

#endif
