/* bx_json: see bx_json.h. */
#include "common/bx_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *bx_json_parse(const char *body, size_t len, size_t max_bytes, char *err, size_t errlen)
{
    if (!max_bytes) max_bytes = BX_JSON_MAX_BODY_DEFAULT;
    if (len > max_bytes) {
        snprintf(err, errlen, "request body larger than %zu bytes", max_bytes);
        return NULL;
    }
    if (!body || !len) {
        snprintf(err, errlen, "Invalid JSON: empty body (line 1, column 0)");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j)
        snprintf(err, errlen, "Invalid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    return j;
}

json_t *bx_json_parse_object(const char *body, size_t len, size_t max_bytes, char *err,
                             size_t errlen)
{
    json_t *j = bx_json_parse(body, len, max_bytes, err, errlen);
    if (j && !json_is_object(j)) {
        snprintf(err, errlen, "request body must be a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Looks key up: 1 present, 0 absent or null, -1 obj is not an object. */
static int bj_field(const json_t *obj, const char *key, json_t **v, char *err, size_t errlen)
{
    *v = NULL;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "expected a JSON object holding '%.64s'", key);
        return -1;
    }
    *v = json_object_get(obj, key);
    return *v && !json_is_null(*v);
}

static int bj_wrong(const char *key, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "'%.64s' must be %s", key, what);
    return -1;
}

int bx_json_get_str(const json_t *obj, const char *key, const char *def, const char **out,
                    char *err, size_t errlen)
{
    json_t *v;
    *out = def;
    int rc = bj_field(obj, key, &v, err, errlen);
    if (rc <= 0) return rc;
    if (!json_is_string(v)) return bj_wrong(key, "a string", err, errlen);
    *out = json_string_value(v);
    return 1;
}

int bx_json_get_int(const json_t *obj, const char *key, int64_t def, int64_t *out, char *err,
                    size_t errlen)
{
    json_t *v;
    *out = def;
    int rc = bj_field(obj, key, &v, err, errlen);
    if (rc <= 0) return rc;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* -2^63 <= d < 2^63, both exact in a double */
        if (d == trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            *out = (int64_t)d;
            return 1;
        }
    }
    return bj_wrong(key, "an integer", err, errlen);
}

int bx_json_get_double(const json_t *obj, const char *key, double def, double *out, char *err,
                       size_t errlen)
{
    json_t *v;
    *out = def;
    int rc = bj_field(obj, key, &v, err, errlen);
    if (rc <= 0) return rc;
    if (!json_is_number(v)) return bj_wrong(key, "a number", err, errlen);
    *out = json_number_value(v);
    return 1;
}

int bx_json_get_bool(const json_t *obj, const char *key, int def, int *out, char *err,
                     size_t errlen)
{
    json_t *v;
    *out = def;
    int rc = bj_field(obj, key, &v, err, errlen);
    if (rc <= 0) return rc;
    if (!json_is_boolean(v)) return bj_wrong(key, "a boolean", err, errlen);
    *out = json_is_true(v);
    return 1;
}

const char *bx_json_error_type(int status)
{
    switch (status) {
    case 400:
        return "BadRequestError";
    case 401:
        return "AuthenticationError";
    case 403:
        return "PermissionDeniedError";
    case 404:
        return "NotFoundError";
    case 429:
        return "RateLimitError";
    case 503:
        return "ServiceUnavailableError";
    default:
        return status >= 500 ? "InternalServerError" : "Error";
    }
}

static char *bj_dump(json_t *o)
{
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

/* The message as a JSON string; bytes that are not valid UTF-8 (a name
 * taken from a URL, say) become '?' rather than failing the whole body. */
static json_t *bj_message(const char *m)
{
    if (!m) m = "";
    json_t *s = json_string(m);
    if (s) return s;
    size_t n = strlen(m);
    char *c = malloc(n + 1);
    if (!c) return NULL;
    for (size_t i = 0; i <= n; i++)
        c[i] = (unsigned char)m[i] >= 0x80 ? '?' : m[i];
    s = json_string(c);
    free(c);
    return s;
}

char *bx_json_error_body(int status, const char *type, const char *message)
{
    return bj_dump(json_pack("{s:{s:o, s:s, s:n, s:i}}", "error", "message", bj_message(message),
                             "type", type ? type : bx_json_error_type(status), "param", "code",
                             status));
}

char *bx_json_error_body_flat(int status, const char *type, const char *message)
{
    return bj_dump(json_pack("{s:s, s:o, s:s, s:n, s:i}", "object", "error", "message",
                             bj_message(message), "type", type ? type : bx_json_error_type(status),
                             "param", "code", status));
}
