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

const char *bx_apikey_arg(const char *prev, const char *arg)
{
    static const char flag[] = "--api-key";
    if (!arg) return NULL;
    if (prev && !strcmp(prev, flag)) return arg;
    if (!strncmp(arg, flag, sizeof(flag) - 1) && arg[sizeof(flag) - 1] == '=')
        return arg + sizeof(flag);
    return NULL;
}

int bx_apikey_header_safe(const char *key, size_t max)
{
    if (!key || !*key) return 0;
    size_t n = 0;
    for (const char *p = key; *p; p++, n++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) return 0;
    return n < max;
}

int bx_apikey_from_words(const char *const *words, size_t n, char *out, size_t outlen)
{
    char prev[16] = "", word[1024];
    if (outlen) out[0] = '\0';
    for (size_t i = 0; i < n && words[i]; i++) {
        const char *p = words[i];
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            if (!*p) break;
            size_t l = strcspn(p, " \t\n\r");
            if (l < sizeof(word)) {
                memcpy(word, p, l);
                word[l] = '\0';
                const char *k = bx_apikey_arg(prev, word);
                if (k && *k) {
                    if (strlen(k) >= outlen) return 0;
                    memcpy(out, k, strlen(k) + 1);
                    return 1;
                }
                if (l < sizeof(prev))
                    memcpy(prev, word, l + 1);
                else
                    prev[0] = '\0';
            } else {
                prev[0] = '\0';
            }
            p += l;
        }
    }
    return 0;
}

void bx_apikey_redact(const char *in, const char *key, char *out, size_t outlen)
{
    if (!outlen) return;
    size_t o = 0, kl = key ? strlen(key) : 0;
    while (*in && o + 1 < outlen) {
        if (kl && !strncmp(in, key, kl)) {
            size_t rl = sizeof(BX_APIKEY_REDACTED) - 1;
            if (rl > outlen - 1 - o) rl = outlen - 1 - o;
            memcpy(out + o, BX_APIKEY_REDACTED, rl);
            o += rl;
            in += kl;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}
