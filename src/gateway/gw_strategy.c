/* gw_strategy: the router's defaults and the helpers strategies share. */
#include "gateway/gw_strategy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_rand.h"

void gw_strategy_cfg_default(gw_strategy_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->prefix_max_bytes = 64u << 20;
    c->block_size = 16;
}

int gw_rand_index(const gw_route_req *r, uint64_t salt, int n)
{
    if (n <= 0) return -1;
    return (int)(bx_mix64(r->rnd ^ bx_mix64(salt)) % (uint64_t)n);
}

int gw_pick_min(const gw_route_req *r, const double *score, int n)
{
    double best = INFINITY;
    int nbest = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(score[i])) continue;
        if (score[i] < best) {
            best = score[i];
            nbest = 1;
        } else if (score[i] == best) {
            nbest++;
        }
    }
    if (nbest == 0) return -1;
    int k = gw_rand_index(r, 0x7469652dULL, nbest); /* k-th tied minimum */
    for (int i = 0; i < n; i++)
        if (!isnan(score[i]) && score[i] == best && k-- == 0) return i;
    return -1;
}

const gw_strategy *gw_strategy_find(const char *name)
{
    for (const gw_strategy *const *s = gw_strategy_all(); *s; s++)
        if (!strcmp((*s)->name, name)) return *s;
    return NULL;
}

int gw_strategy_number(const char *strategy, const char *key, const char *value, double lo,
                       double hi, double *out, char *err, size_t errlen)
{
    char *end = NULL;
    double v = value && *value ? strtod(value, &end) : NAN;
    if (!end || *end || !isfinite(v) || v < lo || v > hi) {
        snprintf(err, errlen, "%s: %s must be a number in [%g, %g]", strategy, key, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int gw_strategy_unknown_setting(const char *strategy, const char *key, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: unknown setting '%s'", strategy, key);
    return -1;
}
