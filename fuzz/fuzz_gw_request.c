/* Fuzzes the gateway's request body extraction (JSON fields, chat template,
 * tokenizer, block hashing); the first byte picks the API. Also checks the
 * fast path (bx_jscan, taken when no prompt is read) against the jansson
 * path: when the fast path accepts, the jansson path must accept too (on
 * the fields; the prompt itself is the engine's to validate) with equal
 * fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_jscan.h"
#include "common/bx_json.h"
#include "gateway/gw_req.h"

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    gw_api api = (gw_api)(data[0] % 3);
    const char *body = (const char *)data + 1;
    gw_req r, f;
    char err[256];
    if (gw_req_parse(api, body, size - 1, !(data[0] & 8), &r, err, sizeof(err)) == 0) {
        bx_blockhash root;
        bx_blockhash_root("0", &root);
        gw_req_hash(&r, &root, 16, (data[0] & 4) ? "lora" : NULL);
    }
    gw_req_free(&r);

    if (gw_req_parse(api, body, size - 1, 0, &f, err, sizeof(err)) == 0 && !f.root) {
        json_t *o = bx_json_parse_object(body, size - 1, 0, err, sizeof(err));
        if (!o) abort(); /* the scanner accepted what jansson refuses */
        json_decref(o);
        gw_req j;
        /* the jansson path with tokens may refuse the prompt; compare the
         * fields it shares when it accepts */
        if (gw_req_parse(api, body, size - 1, 1, &j, err, sizeof(err)) == 0) {
            if (!same(f.model, j.model) || !same(f.user, j.user) || f.stream != j.stream ||
                f.include_usage != j.include_usage || f.max_tokens != j.max_tokens)
                abort();
        }
        gw_req_free(&j);
    }
    gw_req_free(&f);
    return 0;
}
