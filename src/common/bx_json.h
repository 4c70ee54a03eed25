/* bx_json: JSON helpers every brix HTTP surface shares: OpenAI-style error
 * bodies exactly as vLLM writes them,
 *   {"error":{"message":"...","type":"BadRequestError","param":null,"code":400}}
 * and the usual type name for each status. Built with jansson, so messages
 * are escaped correctly. The returned string is malloc'd: the caller frees. */
#ifndef BX_JSON_H
#define BX_JSON_H

/* BadRequestError (400), AuthenticationError (401), PermissionDeniedError
 * (403), NotFoundError (404), RateLimitError (429), ServiceUnavailableError
 * (503), InternalServerError (other 5xx), else "Error". */
const char *bx_json_error_type(int status);
/* type NULL: bx_json_error_type(status). Returns NULL only when out of
 * memory. */
char *bx_json_error_body(int status, const char *type, const char *message);

#endif
