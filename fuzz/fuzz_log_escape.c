/* libFuzzer target: bx_log_escape over any bytes and any output size (the
 * first input byte): the result is NUL-terminated within cap, holds only
 * printable ASCII (no byte can end a log line or reach a terminal raw),
 * and, when it was not cut, decodes back to the input. */
#include "common/bx_log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cap = data[0] ? (size_t)data[0] * 4 : 4096;
    data++;
    size--;
    char *out = malloc(cap);
    if (!out) return 0;
    bx_log_escape(out, cap, (const char *)data, size);
    size_t n = strnlen(out, cap);
    if (n >= cap) abort();
    for (size_t i = 0; i < n; i++)
        if (out[i] < 0x20 || out[i] >= 0x7f) abort();
    int cut = n >= 3 && !memcmp(out + n - 3, "...", 3);
    size_t k = 0; /* decode and compare */
    for (size_t i = 0; i < n && !cut; k++) {
        unsigned char b;
        if (out[i] != '\\') {
            b = (unsigned char)out[i++];
        } else if (i + 1 < n && (out[i + 1] == '"' || out[i + 1] == '\\')) {
            b = (unsigned char)out[i + 1];
            i += 2;
        } else if (i + 1 < n && (out[i + 1] == 'n' || out[i + 1] == 'r' || out[i + 1] == 't')) {
            b = out[i + 1] == 'n' ? '\n' : out[i + 1] == 'r' ? '\r' : '\t';
            i += 2;
        } else if (i + 3 < n && out[i + 1] == 'x' && hexval(out[i + 2]) >= 0 &&
                   hexval(out[i + 3]) >= 0) {
            b = (unsigned char)(hexval(out[i + 2]) * 16 + hexval(out[i + 3]));
            i += 4;
        } else {
            abort(); /* a lone backslash */
        }
        if (k >= size || b != data[k]) abort();
    }
    if (!cut && k != size) abort();
    free(out);
    return 0;
}
