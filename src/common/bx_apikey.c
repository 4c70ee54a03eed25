/* bx_apikey: see bx_apikey.h. */
#include "common/bx_apikey.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void bx_apikey_err(char *err, size_t errlen, const char *msg, size_t line)
{
    if (!err || !errlen) return;
    if (line)
        snprintf(err, errlen, "line %zu: %s", line, msg);
    else
        snprintf(err, errlen, "%s", msg);
}

void bx_apikeys_init(bx_apikeys *k)
{
    memset(k, 0, sizeof(*k));
}

/* Adds a digest unless the set has it. 0 or -1 (full). */
static int bx_apikeys_put(bx_apikeys *k, const unsigned char d[32])
{
    for (int i = 0; i < k->n; i++)
        if (memcmp(k->digest[i], d, 32) == 0) return 0; /* at load time: no secret to keep */
    if (k->n == BX_APIKEYS_MAX) return -1;
    memcpy(k->digest[k->n++], d, 32);
    return 0;
}

/* The add of one key, with the line number for the message (0: none). */
static int bx_apikeys_add_line(bx_apikeys *k, const char *key, size_t len, size_t line, char *err,
                               size_t errlen)
{
    if (len == 0) {
        bx_apikey_err(err, errlen, "empty API key", line);
        return -1;
    }
    if (len > BX_APIKEY_MAX_LEN) {
        char m[64];
        snprintf(m, sizeof(m), "API key longer than %d bytes", BX_APIKEY_MAX_LEN);
        bx_apikey_err(err, errlen, m, line);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x21 || c > 0x7e) {
            bx_apikey_err(err, errlen,
                          "API key with a blank, control or non-ASCII byte (one key per line, "
                          "comments on lines of their own)",
                          line);
            return -1;
        }
    }
    unsigned char d[32];
    SHA256((const unsigned char *)key, len, d);
    if (bx_apikeys_put(k, d) != 0) {
        char m[64];
        snprintf(m, sizeof(m), "more than %d API keys", BX_APIKEYS_MAX);
        bx_apikey_err(err, errlen, m, line);
        return -1;
    }
    return 0;
}

int bx_apikeys_add(bx_apikeys *k, const char *key, size_t len, char *err, size_t errlen)
{
    return bx_apikeys_add_line(k, key, len, 0, err, errlen);
}

static int bx_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* [*s, *e) without blanks at either end. */
static void bx_trim(const char **s, const char **e)
{
    while (*s < *e && bx_blank(**s))
        (*s)++;
    while (*e > *s && bx_blank((*e)[-1]))
        (*e)--;
}

int bx_apikeys_add_list(bx_apikeys *k, const char *list, char *err, size_t errlen)
{
    int n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *s = p, *e = comma ? comma : p + strlen(p);
        bx_trim(&s, &e);
        if (e > s) {
            if (bx_apikeys_add_line(k, s, (size_t)(e - s), 0, err, errlen) != 0) return -1;
            n++;
        }
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

int bx_apikeys_parse_text(bx_apikeys *k, const char *buf, size_t len, char *err, size_t errlen)
{
    int n = 0;
    size_t line = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *s = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        bx_trim(&s, &e);
        if (s == e || *s == '#') continue;
        if (memchr(s, '\0', (size_t)(e - s))) {
            bx_apikey_err(err, errlen, "NUL byte in the key file", line);
            return -1;
        }
        if (bx_apikeys_add_line(k, s, (size_t)(e - s), line, err, errlen) != 0) return -1;
        n++;
    }
    return n;
}

int bx_apikeys_load_file(bx_apikeys *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(BX_APIKEY_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t len = fread(buf, 1, BX_APIKEY_FILE_MAX + 1, f);
    int rerr = ferror(f);
    fclose(f);
    int rc = -1;
    char e[256];
    if (rerr) {
        if (err && errlen) snprintf(err, errlen, "%s: read error", path);
    } else if (len > BX_APIKEY_FILE_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "%s: larger than %d bytes", path, BX_APIKEY_FILE_MAX);
    } else if ((rc = bx_apikeys_parse_text(k, buf, len, e, sizeof(e))) < 0) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, e);
    } else if (rc == 0) {
        rc = -1;
        if (err && errlen) snprintf(err, errlen, "%s: no API key in it", path);
    }
    OPENSSL_cleanse(buf, len < BX_APIKEY_FILE_MAX ? len : BX_APIKEY_FILE_MAX);
    free(buf);
    return rc;
}

int bx_apikeys_check(const bx_apikeys *k, const char *token, size_t len)
{
    unsigned char d[32];
    SHA256((const unsigned char *)token, len, d);
    int ok = 0;
    for (int i = 0; i < k->n; i++) /* every key, whatever matched before */
        ok |= CRYPTO_memcmp(d, k->digest[i], 32) == 0;
    return ok;
}

int bx_apikeys_check_bearer(const bx_apikeys *k, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 0;
    const char *t = authorization + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    const char *e = t + strlen(t);
    while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e == t) return 0;
    return bx_apikeys_check(k, t, (size_t)(e - t));
}
