/* Fuzzes the engine's request parsing (JSON + chat template + tokenizer)
 * for every API, the first byte choosing the API. */
#include <stddef.h>
#include <stdint.h>

#include "engine/eng_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    eng_req r;
    char err[256];
    enum eng_api api = (enum eng_api)(data[0] % 4);
    if (eng_req_parse(api, (const char *)data + 1, size - 1, &r, err, sizeof(err)) == 0) {
        volatile int32_t n = r.num_ids;
        (void)n;
    }
    eng_req_free(&r);
    return 0;
}
