/* Fuzzes request body parsing (bx_json_parse_object with a size limit) and
 * the typed getters over every field of the result and a few known names,
 * then an error body built from the input as its message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_json.h"

static void getters(const json_t *o, const char *key)
{
    char err[128];
    const char *s;
    int64_t i;
    double d;
    int b;
    (void)bx_json_get_str(o, key, "x", &s, err, sizeof(err));
    (void)bx_json_get_int(o, key, -1, &i, err, sizeof(err));
    (void)bx_json_get_double(o, key, 0.5, &d, err, sizeof(err));
    (void)bx_json_get_bool(o, key, 0, &b, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *o = bx_json_parse_object((const char *)data, size, 1u << 20, err, sizeof(err));
    if (o) {
        static const char *known[] = {"model", "max_tokens", "n", "temperature", "stream", ""};
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            getters(o, known[k]);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v) getters(o, key);
        json_decref(o);
    }
    char *msg = malloc(size + 1);
    if (!msg) return 0;
    memcpy(msg, data, size);
    msg[size] = '\0';
    char *body = bx_json_error_body(400, NULL, msg);
    free(body);
    body = bx_json_error_body_flat(404, "NotFoundError", msg);
    free(body);
    free(msg);
    return 0;
}
