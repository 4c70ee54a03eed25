/* gw_strategy: defaults and the helpers strategies share. */
#include "gateway/gw_strategy.h"

#include <math.h>
#include <string.h>

#include "common/bx_rand.h"

void gw_strategy_cfg_default(gw_strategy_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->prefix_max_bytes = 64u << 20;
    c->prefix_imbalance_abs = 8;
    c->prefix_stddev_factor = 1.0;
    c->vtc_window_s = 300;
    c->vtc_input_weight = 1.0;
    c->vtc_output_weight = 2.0;
    c->vtc_fairness_weight = 1.0;
    c->vtc_util_weight = 1.0;
    c->vtc_max_pod_load = 100;
    c->vtc_min_tokens = 1000;
    c->vtc_max_tokens = 8000;
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
