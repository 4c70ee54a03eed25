/* gw_strategies: the table of routing strategies. One line per strategy;
 * each lives in src/gateway/strategies/<name>.c. */
#include "gateway/gw_strategy.h"

extern const gw_strategy gw_strategy_random;
extern const gw_strategy gw_strategy_least_request;
extern const gw_strategy gw_strategy_throughput;
extern const gw_strategy gw_strategy_least_kv_cache;
extern const gw_strategy gw_strategy_least_gpu_cache;
extern const gw_strategy gw_strategy_least_latency;
extern const gw_strategy gw_strategy_least_busy_time;
extern const gw_strategy gw_strategy_session_affinity;
extern const gw_strategy gw_strategy_vtc_basic;
extern const gw_strategy gw_strategy_prefix_cache;
extern const gw_strategy gw_strategy_predicted_ttft;

static const gw_strategy *const gw_strategy_table[] = {
    &gw_strategy_random,          &gw_strategy_least_request,
    &gw_strategy_throughput,      &gw_strategy_least_kv_cache,
    &gw_strategy_least_gpu_cache, &gw_strategy_least_latency,
    &gw_strategy_least_busy_time, &gw_strategy_session_affinity,
    &gw_strategy_vtc_basic,
    &gw_strategy_prefix_cache,
    &gw_strategy_predicted_ttft,
    NULL,
};

const gw_strategy *const *gw_strategy_all(void)
{
    return gw_strategy_table;
}
