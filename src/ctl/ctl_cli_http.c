/* ctl_cli_http: the CLI's client of brix up's admin API. ctl_cli_request
 * is one blocking libcurl request with a bounded answer (ctl_cli.h);
 * ctl_cli_call (ctl_cli_int.h) wraps it for the commands: JSON in on 2xx,
 * else kubectl's "Error from server (NotFound): ..." line from the API's
 * OpenAI-style error body. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "common/bx_json.h"
#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"

typedef struct ctl_cli_rbuf {
    char *p;
    size_t len, cap;
    int too_big;
} ctl_cli_rbuf;

static size_t ctl_cli_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    ctl_cli_rbuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > CTL_CLI_MAX_RESPONSE) {
        b->too_big = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

int ctl_cli_request(const char *server, const char *method, const char *path,
                    const char *content_type, const char *body, size_t body_len, long *status,
                    char **resp, size_t *resp_len, char *err, size_t errlen)
{
    *resp = NULL;
    *resp_len = 0;
    *status = 0;
    char url[2048];
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/')
        sl--;
    if ((size_t)snprintf(url, sizeof(url), "%.*s%s", (int)sl, server, path) >= sizeof(url)) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    ctl_cli_rbuf b = {0};
    struct curl_slist *hdrs = NULL, *h2;
    char ct[128];
    int rc = -1;
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        if (!(h2 = curl_slist_append(hdrs, ct))) goto oom;
        hdrs = h2;
    }
    if (!(h2 = curl_slist_append(hdrs, "Expect:"))) goto oom;
    hdrs = h2;
    if (!(h2 = curl_slist_append(hdrs, "Accept: application/json"))) goto oom;
    hdrs = h2;
    CURLcode cc = CURLE_OK;
#define SETOPT(o, v)                                                                               \
    if (cc == CURLE_OK) cc = curl_easy_setopt(c, o, v)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_CUSTOMREQUEST, method);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    SETOPT(CURLOPT_TIMEOUT_MS, 60000L);
    SETOPT(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    SETOPT(CURLOPT_WRITEFUNCTION, ctl_cli_on_body);
    SETOPT(CURLOPT_WRITEDATA, &b);
    if (body) {
        SETOPT(CURLOPT_POSTFIELDS, body);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
#undef SETOPT
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(cc));
        goto done;
    }
    cc = curl_easy_perform(c);
    if (b.too_big) {
        snprintf(err, errlen, "answer from %s larger than %u bytes", url,
                 (unsigned)CTL_CLI_MAX_RESPONSE);
        goto done;
    }
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "cannot reach the brix admin API at %.*s: %s (is `brix up` running?)",
                 (int)sl, server, curl_easy_strerror(cc));
        goto done;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
        snprintf(err, errlen, "no HTTP status");
        goto done;
    }
    if (!b.p && !(b.p = calloc(1, 1))) goto oom;
    *resp = b.p;
    *resp_len = b.len;
    b.p = NULL;
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    free(b.p);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

static const char *ctl_cli_status_reason(long st)
{
    switch (st) {
    case 400:
        return "BadRequest";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "Conflict";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    default:
        return "Unknown";
    }
}

/* Prints the server's error message; always returns 1. */
static int ctl_cli_server_error(FILE *errf, long st, const char *body, size_t len)
{
    char e[256];
    json_t *j = bx_json_parse(body, len, 0, e, sizeof(e));
    const char *msg = ctl_cli_jstr(ctl_cli_jget(j, "error", "message", NULL), NULL);
    if (msg)
        fprintf(errf, "Error from server (%s): %s\n", ctl_cli_status_reason(st), msg);
    else
        fprintf(errf, "Error from server (%s): HTTP %ld: %.200s\n", ctl_cli_status_reason(st), st,
                len ? body : "(no body)");
    json_decref(j);
    return 1;
}

/* GET/POST/DELETE returning parsed JSON on 2xx. Returns 0 with *out (new
 * reference), 1 after printing an error; *st gets the HTTP status (0 when
 * unreachable). quiet404: a 404 prints nothing. */
int ctl_cli_call(const ctl_cli_client *c, const char *method, const char *path, const char *ctype,
                 const char *body, size_t blen, json_t **out, long *st, int quiet404)
{
    char err[CTL_CLI_ERR_MAX];
    char *resp = NULL;
    size_t rlen = 0;
    long status = 0;
    *out = NULL;
    if (st) *st = 0;
    if (ctl_cli_request(c->server, method, path, ctype, body, blen, &status, &resp, &rlen, err,
                        sizeof(err)) < 0) {
        fprintf(c->err, "error: %s\n", err);
        return 1;
    }
    if (st) *st = status;
    if (status < 200 || status >= 300) {
        int r = quiet404 && status == 404 ? 1 : ctl_cli_server_error(c->err, status, resp, rlen);
        free(resp);
        return r;
    }
    *out = bx_json_parse(resp, rlen, CTL_CLI_MAX_RESPONSE, err, sizeof(err));
    free(resp);
    if (!*out) {
        fprintf(c->err, "error: bad answer from the server: %s\n", err);
        return 1;
    }
    return 0;
}
