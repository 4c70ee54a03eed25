/* libFuzzer target: the API-key parsers (bx_apikey) on arbitrary bytes: as
 * a key file's text, as a BRIX_API_KEYS list and as an Authorization
 * header's value. Checks that every key a file yields is then accepted,
 * that a parse error leaves a count within bounds, and that the header
 * check accepts "Bearer <key>" for a key of the set and nothing for an
 * empty set. */
#include "common/bx_apikey.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    bx_apikeys k;
    bx_apikeys_init(&k);
    int n = bx_apikeys_parse_text(&k, (const char *)data, size, err, sizeof(err));
    if (n > 0 && (k.n < 1 || k.n > n || k.n > BX_APIKEYS_MAX)) abort();
    if (k.n < 0 || k.n > BX_APIKEYS_MAX) abort();
    if (n > 0) { /* the first key line, trimmed as the parser does, is accepted */
        const char *p = (const char *)data, *end = p + size;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *s = p, *e = nl ? nl : end;
            while (s < e && strchr(" \t\r\v\f", *s) && *s)
                s++;
            while (e > s && strchr(" \t\r\v\f", e[-1]) && e[-1])
                e--;
            if (e > s && *s != '#') {
                if (!bx_apikeys_check(&k, s, (size_t)(e - s))) abort();
                char hdr[BX_APIKEY_MAX_LEN + 16];
                memcpy(hdr, "Bearer ", 7);
                memcpy(hdr + 7, s, (size_t)(e - s));
                hdr[7 + (e - s)] = '\0';
                if (!bx_apikeys_check_bearer(&k, hdr)) abort();
                break;
            }
            if (!nl) break;
            p = nl + 1;
        }
    }

    /* the bytes as a NUL-terminated list and header value */
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    bx_apikeys l;
    bx_apikeys_init(&l);
    int m = bx_apikeys_add_list(&l, s, err, sizeof(err));
    if (m >= 0 && l.n > m) abort();
    bx_apikeys empty;
    bx_apikeys_init(&empty);
    if (bx_apikeys_check_bearer(&empty, s)) abort();
    (void)bx_apikeys_check_bearer(&k, s);
    (void)bx_apikeys_check_bearer(&l, s);
    free(s);
    return 0;
}
