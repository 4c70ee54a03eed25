/* libFuzzer target: the request headers the gateway reads into routing and
 * its answer: a routing-strategy value (gw_strategy_plan_parse: one name,
 * an alias or AIBrix's weighted list) and a W3C traceparent
 * (gw_traceparent_id). Checks: a parsed plan has 1..GW_PLAN_MAX entries,
 * weights in [1, 1000000 * GW_PLAN_MAX], a list only of strategies with
 * scores, a canonical spec shorter than the input that parses back to the
 * same strategies (and weights, for a list); a traceparent accepted yields
 * the input's 32 lowercase hex digits of trace id, not all zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_req.h"
#include "gateway/gw_strategy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[512];
    if (size >= sizeof(in)) size = sizeof(in) - 1;
    memcpy(in, data, size);
    in[size] = '\0';

    gw_strategy_plan p, q;
    char err[256];
    if (gw_strategy_plan_parse(in, &p, err, sizeof(err)) == 0) {
        if (p.n < 1 || p.n > GW_PLAN_MAX) abort();
        size_t sl = strlen(p.spec);
        if (sl == 0 || sl > strlen(in)) abort();
        for (int i = 0; i < p.n; i++) {
            if (!p.s[i] || p.w[i] < 1 || p.w[i] > 1000000u * GW_PLAN_MAX) abort();
            if (p.n > 1 && !p.s[i]->score) abort();
        }
        if (gw_strategy_plan_parse(p.spec, &q, err, sizeof(err)) != 0) abort();
        if (q.n != p.n || strcmp(q.spec, p.spec) != 0) abort();
        for (int i = 0; i < p.n; i++)
            if (q.s[i] != p.s[i] || (p.n > 1 && q.w[i] != p.w[i])) abort();
    }

    char id[48];
    if (gw_traceparent_id(in, id) == 0) {
        if (strlen(id) != 32) abort();
        const char *t = strstr(in, id);
        if (!t) abort();
        int nz = 0;
        for (int i = 0; i < 32; i++) {
            if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) abort();
            nz |= id[i] != '0';
        }
        if (!nz) abort();
    }
    return 0;
}
