/* Fuzzes YAML to JSON conversion (single and multi-document). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/bx_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    char err[256];
    bx_yaml_limits lim;
    bx_yaml_limits_default(&lim);
    lim.max_nodes = 20000;
    if (bx_yaml_load_all((const char *)data, size, &lim, &j, err, sizeof(err)) == 0) {
        char *s = json_dumps(j, JSON_ENCODE_ANY);
        free(s);
        json_decref(j);
    }
    if (bx_yaml_load((const char *)data, size, &lim, &j, err, sizeof(err)) == 0) json_decref(j);
    return 0;
}
