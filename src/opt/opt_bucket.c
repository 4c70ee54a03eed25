/* opt_bucket: see opt_bucket.h. */
#include "opt/opt_bucket.h"

#include <math.h>
#include <stdio.h>

/* volatile: the two roundings must happen as Go's float64 does them, one
 * operation at a time (no contraction into a fused multiply-add). */
int64_t opt_bucket_tick(int64_t tokens)
{
    if (tokens <= 0) return 0;
    volatile double b = round(log2((double)tokens) / 0.1) * 0.1;
    volatile double i = b / 0.1;
    return (int64_t)i;
}

double opt_bucket_tokens(int64_t tick)
{
    double t = exp2((double)tick / OPT_BUCKET_PRECISION);
    return t < 1.0 ? 1.0 : t;
}

int opt_bucket_key(int64_t in_tokens, int64_t out_tokens, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%lld:%lld", (long long)opt_bucket_tick(in_tokens),
                     (long long)opt_bucket_tick(out_tokens));
    return n < 0 || (size_t)n >= len ? -1 : n;
}

static int opt_bucket_num(const char *s, size_t len, size_t *pos, int64_t *out)
{
    size_t i = *pos;
    int64_t v = 0;
    if (i >= len || s[i] < '0' || s[i] > '9') return -1;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        if (v > 100000) return -1;
        i++;
    }
    *pos = i;
    *out = v;
    return 0;
}

int opt_bucket_parse_key(const char *key, size_t len, int64_t *in_tick, int64_t *out_tick)
{
    size_t pos = 0;
    int64_t a, b;
    if (opt_bucket_num(key, len, &pos, &a) || pos >= len || key[pos] != ':') return -1;
    pos++;
    if (opt_bucket_num(key, len, &pos, &b) || pos != len) return -1;
    *in_tick = a;
    *out_tick = b;
    return 0;
}
