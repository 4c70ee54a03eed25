/* bx_reply: whole JSON answers on a bx_http response, shared by every brix
 * HTTP surface: an OpenAI-style error (bx_json_error_body) or a jansson
 * value. Each finishes the response; a body that cannot be built becomes a
 * plain 500. */
#ifndef BX_REPLY_H
#define BX_REPLY_H

#include <jansson.h>

#include "common/bx_http.h"

/* type NULL: the usual type for status (bx_json_error_type). */
void bx_reply_error(bx_http_res *res, int status, const char *type, const char *msg);
/* Takes the reference o (NULL answers 500). */
void bx_reply_json(bx_http_res *res, int status, json_t *o);

#endif
