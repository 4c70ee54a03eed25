/* bx_apikey: a set of API keys and the check of a bearer token against it,
 * shared by the gateway (every route but its health probes: gw_auth) and
 * the engine (paths under /v1, as vLLM's --api-key).
 *
 * Only the SHA-256 digest of each key is kept, never the key. A token is
 * checked by hashing it and comparing its digest with every key's digest
 * (CRYPTO_memcmp, all of them, no early exit): the time taken depends on
 * the token's length and the number of keys, not on how much of a key
 * matched nor on how long the keys are.
 *
 * Keys come from flags (bx_apikeys_add), an environment variable
 * (bx_apikeys_add_list: comma-separated) and key files
 * (bx_apikeys_parse_text / bx_apikeys_load_file: one key per line, lines
 * whose first non-blank byte is '#' and blank lines skipped, blanks and CR
 * around a key trimmed). A key is 1..BX_APIKEY_MAX_LEN bytes of visible
 * ASCII (0x21..0x7e): a line such as "sk-1 # prod" is refused, not read as
 * a key with a space in it. The same key given twice is kept once.
 *
 * Errors: -1 with a message in err (a file's line number in it). The
 * parsers are pure functions over buffers (fuzz/fuzz_apikey.c).
 *
 * Ownership: bx_apikeys is a plain value (no heap): the caller owns it and
 * may copy it. Filling it is not thread-safe; checking a filled set is
 * (read-only). */
#ifndef BX_APIKEY_H
#define BX_APIKEY_H

#include <stddef.h>

#define BX_APIKEYS_MAX 64            /* keys in one set */
#define BX_APIKEY_MAX_LEN 1024       /* bytes of one key */
#define BX_APIKEY_FILE_MAX (1 << 20) /* bytes of one key file */

typedef struct bx_apikeys {
    int n; /* keys in the set; 0: no authentication */
    unsigned char digest[BX_APIKEYS_MAX][32];
} bx_apikeys;

void bx_apikeys_init(bx_apikeys *k);
/* Adds one key of len bytes. 0, or -1 (empty, too long, a byte outside
 * 0x21..0x7e, the set full). */
int bx_apikeys_add(bx_apikeys *k, const char *key, size_t len, char *err, size_t errlen);
/* Adds the comma-separated keys of list (blanks around each trimmed, empty
 * items skipped). The number of keys read, or -1. */
int bx_apikeys_add_list(bx_apikeys *k, const char *list, char *err, size_t errlen);
/* Adds the keys of a key file's text. The number of keys read (0 for a file
 * of comments), or -1. */
int bx_apikeys_parse_text(bx_apikeys *k, const char *buf, size_t len, char *err, size_t errlen);
/* Reads path (at most BX_APIKEY_FILE_MAX bytes) and adds its keys. The
 * number read (>= 1), or -1: unreadable, too large, bad line, no key. */
int bx_apikeys_load_file(bx_apikeys *k, const char *path, char *err, size_t errlen);

/* 1 when the token (len bytes) is one of the keys, else 0 (always 0 for an
 * empty set: callers test k->n first). Constant time, as above. */
int bx_apikeys_check(const bx_apikeys *k, const char *token, size_t len);
/* The same on an Authorization header's value: "Bearer <token>" (the
 * scheme case-insensitive, blanks after it skipped); NULL or another
 * scheme gives 0. */
int bx_apikeys_check_bearer(const bx_apikeys *k, const char *authorization);

/* An engine's key on its command line, as vLLM takes it: "--api-key K"
 * (prev is "--api-key", arg is K) or "--api-key=K". Returns the key's text
 * (inside arg) when arg holds one, else NULL; prev may be NULL. Callers
 * redact what it returns (launch log lines, describe) or read the key. */
const char *bx_apikey_arg(const char *prev, const char *arg);
/* 1 when key can go in an HTTP header as "Bearer <key>": 1..max-1 bytes
 * of printable ASCII without blanks (no CR/LF smuggling). */
int bx_apikey_header_safe(const char *key, size_t max);
#define BX_APIKEY_REDACTED "<redacted>"
/* The key of a command line: the first bx_apikey_arg hit over the words of
 * words[0..n) (n (size_t)-1: up to a NULL entry), each entry also split at
 * blanks (a `sh -c` line). Copied into out; 1 when found and it fits, else
 * 0 (out ""). */
int bx_apikey_from_words(const char *const *words, size_t n, char *out, size_t outlen);
/* in with every occurrence of key (NULL or "": none) replaced by
 * BX_APIKEY_REDACTED, into out (truncated to outlen - 1 bytes). */
void bx_apikey_redact(const char *in, const char *key, char *out, size_t outlen);

#endif
