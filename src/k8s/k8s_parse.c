/* k8s_parse: see k8s_parse.h. Everything here is a function of its input
 * bytes; the transport and the reflector feed it. */
#include "k8s/k8s_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *k8s_meta(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
    return s ? s : "";
}

const char *k8s_reason_for_code(long code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return code >= 500 ? "InternalError" : "Unknown";
    }
}

static void cpy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s ? s : "");
}

int k8s_status_from(const json_t *body, long http_code, k8s_status *st)
{
    memset(st, 0, sizeof(*st));
    st->code = http_code;
    const char *kind = json_string_value(json_object_get(body, "kind"));
    if (!kind || strcmp(kind, "Status") != 0) {
        cpy(st->reason, sizeof(st->reason), k8s_reason_for_code(http_code));
        return 0;
    }
    json_int_t c = json_integer_value(json_object_get(body, "code"));
    if (c >= 100 && c <= 599) st->code = (long)c;
    const char *r = json_string_value(json_object_get(body, "reason"));
    cpy(st->reason, sizeof(st->reason), r && r[0] ? r : k8s_reason_for_code(st->code));
    cpy(st->message, sizeof(st->message), json_string_value(json_object_get(body, "message")));
    const json_t *d = json_object_get(body, "details");
    cpy(st->details_name, sizeof(st->details_name), json_string_value(json_object_get(d, "name")));
    cpy(st->details_kind, sizeof(st->details_kind), json_string_value(json_object_get(d, "kind")));
    json_int_t ra = json_integer_value(json_object_get(d, "retryAfterSeconds"));
    if (ra > 0 && ra < 3600) st->retry_after_s = (long)ra;
    return 1;
}

int k8s_list_from(const json_t *body, k8s_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body)) {
        snprintf(err, errlen, "list: not a JSON object");
        return -1;
    }
    json_t *items = json_object_get(body, "items");
    if (items && !json_is_null(items) && !json_is_array(items)) {
        snprintf(err, errlen, "list: items is not an array");
        return -1;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (!json_is_object(it)) {
            snprintf(err, errlen, "list: item %zu is not an object", i);
            return -1;
        }
    }
    const json_t *md = json_object_get(body, "metadata");
    const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
    if (rv && strlen(rv) >= sizeof(out->rv)) {
        snprintf(err, errlen, "list: resourceVersion too long");
        return -1;
    }
    cpy(out->rv, sizeof(out->rv), rv);
    const char *cont = json_string_value(json_object_get(md, "continue"));
    if (cont && cont[0] && !(out->cont = strdup(cont))) {
        snprintf(err, errlen, "list: out of memory");
        return -1;
    }
    out->items = json_is_array(items) ? json_incref(items) : json_array();
    if (!out->items) {
        k8s_list_free(out);
        snprintf(err, errlen, "list: out of memory");
        return -1;
    }
    return 0;
}

int k8s_list_parse(const char *buf, size_t len, size_t max, k8s_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > max) {
        snprintf(err, errlen, "list: body larger than %zu bytes", max);
        return -1;
    }
    json_error_t je;
    json_t *body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!body) {
        snprintf(err, errlen, "list: bad JSON: %s", je.text);
        return -1;
    }
    int r = k8s_list_from(body, out, err, errlen);
    json_decref(body);
    return r;
}

void k8s_list_free(k8s_list *l)
{
    json_decref(l->items);
    free(l->cont);
    memset(l, 0, sizeof(*l));
}

void k8s_lines_init(k8s_lines *l, size_t max_line)
{
    bx_buf_init(&l->buf);
    l->max_line = max_line;
}

void k8s_lines_reset(k8s_lines *l)
{
    bx_buf_reset(&l->buf);
}

void k8s_lines_free(k8s_lines *l)
{
    bx_buf_free(&l->buf);
}

static int emit(const char *s, size_t n, int (*on_line)(void *, const char *, size_t), void *ud)
{
    if (n && s[n - 1] == '\r') n--;
    return n ? on_line(ud, s, n) : 0;
}

int k8s_lines_feed(k8s_lines *l, const char *data, size_t len,
                   int (*on_line)(void *ud, const char *line, size_t len), void *ud)
{
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (l->buf.len + take > l->max_line) return -1;
        if (nl && l->buf.len == 0) {
            /* A whole line in the input: no copy. */
            int r = emit(data, take, on_line, ud);
            if (r) return r;
        } else {
            if (bx_buf_append(&l->buf, data, take) != 0) return -1;
            if (nl) {
                int r = emit(l->buf.data, l->buf.len, on_line, ud);
                bx_buf_reset(&l->buf);
                if (r) return r;
            }
        }
        if (!nl) break;
        data += take + 1;
        len -= take + 1;
    }
    return 0;
}

static const char *const ev_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

int k8s_watch_parse(const char *line, size_t len, k8s_watch_event *ev, char *err, size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    ev->rv = "";
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "watch: bad JSON: %s", je.text);
        return -1;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    json_t *obj = json_object_get(root, "object");
    int t = -1;
    for (int i = 0; type && i < 5; i++)
        if (strcmp(type, ev_names[i]) == 0) t = i;
    if (t < 0 || !json_is_object(obj)) {
        snprintf(err, errlen, "watch: not an event (type %s)", type ? "unknown" : "missing");
        json_decref(root);
        return -1;
    }
    ev->type = (enum k8s_ev_type)t;
    ev->object = json_incref(obj);
    json_decref(root);
    if (ev->type == K8S_EV_ERROR) {
        k8s_status_from(ev->object, 500, &ev->status);
        return 0;
    }
    ev->rv = k8s_meta(ev->object, "resourceVersion");
    if (ev->type == K8S_EV_BOOKMARK ? !ev->rv[0] : !k8s_meta(ev->object, "name")[0]) {
        snprintf(err, errlen, "watch: %s event without %s", ev_names[t],
                 ev->type == K8S_EV_BOOKMARK ? "a resourceVersion" : "metadata.name");
        k8s_watch_event_free(ev);
        return -1;
    }
    return 0;
}

void k8s_watch_event_free(k8s_watch_event *ev)
{
    json_decref(ev->object);
    ev->object = NULL;
    ev->rv = "";
}
