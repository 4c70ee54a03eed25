/* libFuzzer target for ctl_lora's parsers of engine replies: the adapter
 * list of GET /v1/models, max_lora from /metrics and the "already loaded"
 * check of a load failure. Checks that every returned name is non-empty,
 * within the limit, unique and sorted. */
#include "ctl/ctl_lora.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char **names = NULL;
    size_t n = 0;
    char err[256];
    err[0] = 0;
    if (ctl_lora_parse_models(body, size, &names, &n, err, sizeof(err)) == 0) {
        if (n > CTL_LORA_MODELS_MAX) abort();
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(names[i]);
            if (l == 0 || l > CTL_MODEL_NAME_MAX) abort();
            if (i && strcmp(names[i - 1], names[i]) >= 0) abort();
        }
        ctl_lora_names_free(names, n);
    } else if (err[0] == 0 || names || n) {
        abort();
    }
    unsigned m = 0;
    (void)ctl_lora_parse_max_lora(body, size, &m);
    (void)ctl_lora_already_loaded(400, body, size);
    return 0;
}
