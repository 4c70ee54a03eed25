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
extern const gw_strategy gw_strategy_power_of_two;
extern const gw_strategy gw_strategy_slo;
extern const gw_strategy gw_strategy_slo_least_load;
extern const gw_strategy gw_strategy_slo_least_load_pulling;
extern const gw_strategy gw_strategy_slo_pack_load;
extern const gw_strategy gw_strategy_pd;

static const gw_strategy *const gw_strategy_table[] = {
    &gw_strategy_random,
    &gw_strategy_least_request,
    &gw_strategy_throughput,
    &gw_strategy_least_kv_cache,
    &gw_strategy_least_gpu_cache,
    &gw_strategy_least_latency,
    &gw_strategy_least_busy_time,
    &gw_strategy_session_affinity,
    &gw_strategy_vtc_basic,
    &gw_strategy_prefix_cache,
    &gw_strategy_predicted_ttft,
    &gw_strategy_power_of_two,
    &gw_strategy_slo, /* the four: strategies/gw_strat_slo.c */
    &gw_strategy_slo_least_load,
    &gw_strategy_slo_least_load_pulling,
    &gw_strategy_slo_pack_load,
    &gw_strategy_pd, /* strategies/pd.c, with gw_pd.c */
    NULL,
};

/* AIBrix's other names (docs/gateway.md "Strategies"): accepted, routed by
 * the closest brix strategy. */
static const gw_strategy_alias gw_strategy_aliases[] = {
    {"least-utilization", "least-busy-time",
     "AIBrix reads engine_utilization, which only xllm exports; least-busy-time ranks by the "
     "same kind of signal (GPU busy ratio, else outstanding work)"},
    {"prefix-cache-preble", "prefix-cache",
     "brix's prefix-cache already keys engine-exact vLLM block hashes; Preble's cost model "
     "(a Mistral-7B latency fit) is not reproduced"},
    {NULL, NULL, NULL},
};

const gw_strategy_alias *gw_strategy_alias_all(void)
{
    return gw_strategy_aliases;
}

const gw_strategy *const *gw_strategy_all(void)
{
    return gw_strategy_table;
}
