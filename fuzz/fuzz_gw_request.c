/* Fuzzes the gateway's request body extraction (JSON fields, chat template,
 * tokenizer, block hashing); the first byte picks the API. */
#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gw_req r;
    char err[256];
    if (gw_req_parse((gw_api)(data[0] % 3), (const char *)data + 1, size - 1, !(data[0] & 8), &r,
                     err, sizeof(err)) == 0) {
        bx_blockhash root;
        bx_blockhash_root("0", &root);
        gw_req_hash(&r, &root, 16, (data[0] & 4) ? "lora" : NULL);
    }
    gw_req_free(&r);
    return 0;
}
