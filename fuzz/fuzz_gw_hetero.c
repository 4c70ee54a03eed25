/* Fuzzes the gateway's parser of the GPU optimizer's assignment
 * (gw_hetero_parse, docs/hetero.md "Assignment") and checks what it
 * promises: bounded grid and groups, increasing token counts, the shares
 * of a listed cell summing to 1, every cell's groups in order
 * (gw_hetero_order), and the URL parser of --gpu-optimizer. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_hetero.h"

static gw_hetero_assign a;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (gw_hetero_parse((const char *)data, size, &a, err, sizeof(err)) == 0) {
        if (!a.model[0] || strnlen(a.model, GW_NAME_MAX) >= GW_NAME_MAX) abort();
        if (a.ngroups < 0 || a.ngroups > GW_HETERO_GROUPS_MAX) abort();
        if (a.nin < 0 || a.nin > GW_HETERO_GRID_MAX || a.nout < 0 || a.nout > GW_HETERO_GRID_MAX)
            abort();
        for (int i = 1; i < a.nin; i++)
            if (!(a.in_tokens[i] > a.in_tokens[i - 1])) abort();
        for (int i = 1; i < a.nout; i++)
            if (!(a.out_tokens[i] > a.out_tokens[i - 1])) abort();
        for (int o = 0; o < a.nout; o++)
            for (int i = 0; i < a.nin; i++) {
                if (!a.listed[o][i]) continue;
                double sum = 0;
                for (int g = 0; g < a.ngroups; g++)
                    sum += a.share[o][i][g];
                if (fabs(sum - 1) > 1e-3) abort();
                int order[GW_HETERO_GROUPS_MAX];
                int n = gw_hetero_order(&a, i, o, 0.5, order, GW_HETERO_GROUPS_MAX);
                if (n < 1 || n > a.ngroups) abort();
                for (int k = 0; k < n; k++)
                    if (order[k] < 0 || order[k] >= a.ngroups) abort();
            }
        int ii, oi;
        gw_hetero_cell(&a, (double)size, 100, &ii, &oi);
        if (a.nin && (ii < 0 || ii >= a.nin)) abort();
        if (a.nout && (oi < 0 || oi >= a.nout)) abort();
    }
    char url[512], host[256], base[256];
    int port;
    size_t n = size < sizeof(url) - 1 ? size : sizeof(url) - 1;
    memcpy(url, data, n);
    url[n] = '\0';
    if (gw_hetero_url_parse(url, host, sizeof(host), &port, base, sizeof(base)) == 0) {
        if (!host[0] || port <= 0 || port > 65535) abort();
        if (base[0] && base[0] != '/') abort();
    }
    return 0;
}
