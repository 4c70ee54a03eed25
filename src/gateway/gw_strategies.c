/* gw_strategies: the table of routing strategies. One line per strategy;
 * each lives in src/gateway/strategies/<name>.c. */
#include "gateway/gw_strategy.h"

extern const gw_strategy gw_strategy_random;

static const gw_strategy *const gw_strategy_table[] = {
    &gw_strategy_random,
    NULL,
};

const gw_strategy *const *gw_strategy_all(void)
{
    return gw_strategy_table;
}
