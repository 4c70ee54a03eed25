/* bx_json: see bx_json.h. */
#include "common/bx_json.h"

#include <jansson.h>

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

char *bx_json_error_body(int status, const char *type, const char *message)
{
    json_t *o =
        json_pack("{s:{s:s, s:s, s:n, s:i}}", "error", "message", message ? message : "", "type",
                  type ? type : bx_json_error_type(status), "param", "code", status);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
