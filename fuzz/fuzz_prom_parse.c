/* Fuzzes the Prometheus text parser and its lookups. */
#include <stddef.h>
#include <stdint.h>

#include "common/bx_prom_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bx_prom_doc d;
    char err[128];
    bx_prom_limits lim;
    bx_prom_limits_default(&lim);
    lim.max_samples = 5000;
    if (bx_prom_parse((const char *)data, size, &lim, &d, err, sizeof(err)) != 0) return 0;
    for (size_t i = 0; i < d.nsamples && i < 64; i++) {
        const bx_prom_sample *s = &d.samples[i];
        const char *ln = s->nlabels ? s->labels[0].name : NULL;
        const char *lv = s->nlabels ? s->labels[0].value : NULL;
        double v;
        size_t n;
        (void)bx_prom_find(&d, s->name, ln, lv);
        (void)bx_prom_find_value(&d, s->name, ln, lv, &v);
        (void)bx_prom_sum(&d, s->name, ln, lv, &n);
        bx_prom_hist_view h;
        (void)bx_prom_histogram(&d, d.families[s->family].name, NULL, NULL, &h);
    }
    bx_prom_doc_free(&d);
    return 0;
}
