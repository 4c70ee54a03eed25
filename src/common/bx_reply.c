/* bx_reply: see bx_reply.h. */
#include "common/bx_reply.h"

#include <stdlib.h>
#include <string.h>

#include "common/bx_json.h"

static void bx_reply_oom(bx_http_res *res)
{
    bx_http_res_send(res, 500, "text/plain", "internal error\n", 15);
}

void bx_reply_error(bx_http_res *res, int status, const char *type, const char *msg)
{
    char *body = bx_json_error_body(status, type, msg);
    if (body)
        bx_http_res_send(res, status, "application/json", body, strlen(body));
    else
        bx_reply_oom(res);
    free(body);
}

void bx_reply_json(bx_http_res *res, int status, json_t *o)
{
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (body)
        bx_http_res_send(res, status, "application/json", body, strlen(body));
    else
        bx_reply_oom(res);
    free(body);
    json_decref(o);
}
