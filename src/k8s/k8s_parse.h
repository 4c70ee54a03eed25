/* k8s_parse: the pure parsers of API server bytes, apart from any I/O (each
 * has a fuzz target: fuzz_k8s_list.c, fuzz_k8s_watch.c).
 * - k8s_status_from: a failed reply's Status {code, reason, message,
 *   details}, or one made from the HTTP code when the body is not a Status;
 * - k8s_list_parse: a List body: items, metadata.resourceVersion, continue;
 * - k8s_lines: splits a watch stream into lines (one event per line, each
 *   ending in \n), with a bound on a line's length;
 * - k8s_watch_parse: one watch line: {"type": ADDED|MODIFIED|DELETED|
 *   BOOKMARK|ERROR, "object": {...}}; ERROR's object is a Status.
 * Ownership is stated per call. */
#ifndef K8S_PARSE_H
#define K8S_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "common/bx_buf.h"

/* A Status error. Strings are cut to fit; details_* are "" when absent. */
typedef struct k8s_status {
    long code;       /* HTTP code (the Status's own code when present) */
    char reason[48]; /* e.g. "Conflict", "AlreadyExists", "Expired", "NotFound" */
    char message[512];
    char details_name[128];
    char details_kind[64];
    long retry_after_s; /* details.retryAfterSeconds or the Retry-After header; 0 */
} k8s_status;

/* Fills st from body (a Status object, or anything else / NULL) and the HTTP
 * code. A body that is not a Status gets the reason Kubernetes uses for the
 * code (NotFound, Conflict, Expired for 410, ...) and an empty message.
 * Returns 1 when body was a Status, 0 otherwise. */
int k8s_status_from(const json_t *body, long http_code, k8s_status *st);
/* The reason Kubernetes names for an HTTP code ("InternalError" for 5xx
 * not listed, "Unknown" else). */
const char *k8s_reason_for_code(long code);

typedef struct k8s_list {
    json_t *items; /* owned array (empty when absent or null) */
    char rv[64];   /* metadata.resourceVersion ("" when absent) */
    char *cont;    /* metadata.continue, heap, NULL when absent or "" */
} k8s_list;

/* Parses a List body (at most max bytes). On success fills out (the caller
 * calls k8s_list_free). -1 with err when not a JSON object, items is not an
 * array, an item is not an object, or the RV is over-long. */
int k8s_list_parse(const char *buf, size_t len, size_t max, k8s_list *out, char *err,
                   size_t errlen);
/* The same over a parsed body (borrowed; items gets a new reference). */
int k8s_list_from(const json_t *body, k8s_list *out, char *err, size_t errlen);
void k8s_list_free(k8s_list *l);

/* Line splitter: feed bytes as they come; on_line is called once per whole
 * line (without the \n; a \r before it is dropped; empty lines skipped).
 * A line longer than max_line fails the feed (-1); on_line returning
 * non-zero stops it and is returned. The caller owns the struct. */
typedef struct k8s_lines {
    bx_buf buf;
    size_t max_line;
} k8s_lines;
void k8s_lines_init(k8s_lines *l, size_t max_line);
void k8s_lines_reset(k8s_lines *l);
void k8s_lines_free(k8s_lines *l);
int k8s_lines_feed(k8s_lines *l, const char *data, size_t len,
                   int (*on_line)(void *ud, const char *line, size_t len), void *ud);

enum k8s_ev_type { K8S_EV_ADDED, K8S_EV_MODIFIED, K8S_EV_DELETED, K8S_EV_BOOKMARK, K8S_EV_ERROR };

typedef struct k8s_watch_event {
    enum k8s_ev_type type;
    json_t *object;    /* owned (k8s_watch_event_free) */
    const char *rv;    /* the object's metadata.resourceVersion, into object; "" when none */
    k8s_status status; /* for ERROR */
} k8s_watch_event;

/* Parses one watch line. -1 with err for anything that is not an event of
 * a known type with an object (ADDED/MODIFIED/DELETED objects need
 * metadata.name; BOOKMARK needs a resourceVersion). */
int k8s_watch_parse(const char *line, size_t len, k8s_watch_event *ev, char *err, size_t errlen);
void k8s_watch_event_free(k8s_watch_event *ev);

/* An object's metadata.<key> string, or "" (never NULL). */
const char *k8s_meta(const json_t *obj, const char *key);

#endif
