/* bx_json: JSON helpers every brix HTTP surface shares, on jansson.
 *
 * - Request bodies: bx_json_parse checks a size limit, rejects duplicate
 *   keys and reports errors as "Invalid JSON: <why> (line L, column C)".
 * - Typed getters read an optional field with a default and refuse a value of
 *   the wrong type with a message naming the field ("'n' must be an
 *   integer"). JSON null counts as absent, as in vLLM's pydantic models.
 * - OpenAI-style error bodies exactly as vLLM writes them,
 *     {"error":{"message":"...","type":"BadRequestError","param":null,"code":400}}
 *   or the older flat {"object":"error","message":...,"type":...,"param":null,
 *   "code":400}. Messages are escaped by jansson.
 *
 * Ownership: bx_json_parse returns a new reference (json_decref it). Strings
 * from bx_json_get_str point into the object and live as long as it does.
 * Error bodies are malloc'd: the caller frees them. */
#ifndef BX_JSON_H
#define BX_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define BX_JSON_MAX_BODY_DEFAULT (32u << 20)

/* Parses len bytes (no NUL needed). max_bytes 0 means the default above.
 * Returns a new reference, or NULL with a message in err. */
json_t *bx_json_parse(const char *body, size_t len, size_t max_bytes, char *err, size_t errlen);
/* The same, and the value must be an object ("request body must be a JSON
 * object"). */
json_t *bx_json_parse_object(const char *body, size_t len, size_t max_bytes, char *err,
                             size_t errlen);

/* Typed getters on object obj. Return 1 when the field is present (value in
 * *out), 0 when absent or null (*out = def), -1 when it has the wrong type or
 * obj is not an object (message in err, *out = def). get_int accepts an
 * integral real within int64; get_double accepts integers. */
int bx_json_get_str(const json_t *obj, const char *key, const char *def, const char **out,
                    char *err, size_t errlen);
int bx_json_get_int(const json_t *obj, const char *key, int64_t def, int64_t *out, char *err,
                    size_t errlen);
int bx_json_get_double(const json_t *obj, const char *key, double def, double *out, char *err,
                       size_t errlen);
int bx_json_get_bool(const json_t *obj, const char *key, int def, int *out, char *err,
                     size_t errlen);

/* BadRequestError (400), AuthenticationError (401), PermissionDeniedError
 * (403), NotFoundError (404), RateLimitError (429), ServiceUnavailableError
 * (503), InternalServerError (other 5xx), else "Error". vLLM also sends
 * "InvalidUserInput" for some LoRA 400s: pass it as type. */
const char *bx_json_error_type(int status);
/* type NULL: bx_json_error_type(status). Returns NULL only when out of
 * memory. */
char *bx_json_error_body(int status, const char *type, const char *message);
/* Older vLLM's flat form. */
char *bx_json_error_body_flat(int status, const char *type, const char *message);

#endif
