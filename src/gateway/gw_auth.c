/* gw_auth: see gw_auth.h. */
#include "gateway/gw_auth.h"

#include <string.h>

#include "common/bx_reply.h"

int gw_auth_public(const char *path)
{
    return !strcmp(path, "/healthz") || !strcmp(path, "/readyz");
}

int gw_auth_step(const bx_apikeys *keys, const bx_http_req *hr, bx_http_res *res)
{
    if (keys->n == 0 || gw_auth_public(hr->path) ||
        bx_apikeys_check_bearer(keys, bx_http_req_header(hr, "authorization")))
        return 1;
    bx_http_res_header(res, "WWW-Authenticate", "Bearer");
    bx_reply_error(res, 401, "AuthenticationError", "Incorrect API key provided");
    return 0;
}
