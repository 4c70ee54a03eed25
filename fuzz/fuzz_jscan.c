/* Differential fuzzing of bx_jscan against jansson: whenever the scanner
 * says OK, jansson (with the flags bx_json_parse uses) must accept the same
 * bytes as an object with the same members in the same order, each of the
 * same type, strings and integers with the same values. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bx_jscan_member m[64];
    size_t n = 0;
    if (bx_jscan_object((const char *)data, size, m, 64, &n) != BX_JSCAN_OK) return 0;
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j || !json_is_object(j) || json_object_size(j) != n) abort();
    for (size_t i = 0; i < n; i++) {
        char key[256];
        if (m[i].key_len >= sizeof(key)) continue;
        memcpy(key, m[i].key, m[i].key_len);
        key[m[i].key_len] = 0;
        json_t *v = json_object_get(j, key);
        if (!v) abort();
        switch (m[i].type) {
        case BX_JSCAN_STRING:
            if (!json_is_string(v)) abort();
            if (!m[i].escaped && (json_string_length(v) != m[i].val_len ||
                                  memcmp(json_string_value(v), m[i].val, m[i].val_len) != 0))
                abort();
            break;
        case BX_JSCAN_NUMBER:
            if (m[i].integer) {
                if (!json_is_integer(v)) abort();
                char t[40];
                memcpy(t, m[i].val, m[i].val_len);
                t[m[i].val_len] = 0;
                if (strtoll(t, NULL, 10) != json_integer_value(v)) abort();
                int64_t iv;
                if (bx_jscan_int(&m[i], &iv) != 0 || iv != json_integer_value(v)) abort();
            } else if (!json_is_real(v)) {
                abort();
            }
            break;
        case BX_JSCAN_TRUE:
            if (!json_is_true(v)) abort();
            break;
        case BX_JSCAN_FALSE:
            if (!json_is_false(v)) abort();
            break;
        case BX_JSCAN_NULL:
            if (!json_is_null(v)) abort();
            break;
        case BX_JSCAN_OBJECT:
            if (!json_is_object(v) || (json_object_size(v) == 0) != m[i].empty) abort();
            break;
        case BX_JSCAN_ARRAY:
            if (!json_is_array(v) || (json_array_size(v) == 0) != m[i].empty) abort();
            break;
        }
    }
    json_decref(j);
    return 0;
}
