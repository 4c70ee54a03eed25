/* k8s_event: see k8s_event.h. In-flight writes are tracked in a list so
 * close can cancel them; the aggregation cache is a JSON object key ->
 * {name, ns, count}. */
#include "k8s/k8s_event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bx_log.h"
#include "common/bx_queue.h"
#include "common/bx_time.h"
#include "k8s/k8s_write.h"

struct k8s_recorder {
    k8s_client *c;
    char *component;
    size_t max_cache;
    json_t *cache;
    bx_queue inflight;
    unsigned long writes;
};

struct ev_write {
    bx_queue node;
    k8s_recorder *rec;
    k8s_req *req;
    char key[600];
    json_t *event; /* a PATCH's full Event, for a re-POST on 404 */
};

k8s_recorder *k8s_recorder_new(k8s_client *c, const char *component, size_t max_cache)
{
    k8s_recorder *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    r->c = c;
    r->component = strdup(component ? component : "brix");
    r->max_cache = max_cache ? max_cache : 256;
    r->cache = json_object();
    bx_queue_init(&r->inflight);
    if (!r->component || !r->cache) {
        free(r->component);
        json_decref(r->cache);
        free(r);
        return NULL;
    }
    return r;
}

unsigned long k8s_recorder_writes(const k8s_recorder *rec)
{
    return rec->writes;
}

static void write_free(struct ev_write *w)
{
    bx_queue_remove(&w->node);
    json_decref(w->event);
    free(w);
}

static int post(k8s_recorder *rec, const char *key, json_t *event);

static void on_done(const k8s_resp *r, void *ud)
{
    struct ev_write *w = ud;
    k8s_recorder *rec = w->rec;
    w->req = NULL;
    if (r->code == 404 && w->event) {
        /* The aggregated Event expired: start a new one. */
        json_object_del(rec->cache, w->key);
        json_t *e = json_incref(w->event);
        char key[600];
        snprintf(key, sizeof(key), "%s", w->key);
        write_free(w);
        json_t *md = json_object_get(e, "metadata");
        char name[400];
        snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(md, "name")));
        char *dot = strrchr(name, '.');
        if (dot) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            snprintf(dot, sizeof(name) - (size_t)(dot - name), ".%llx",
                     (unsigned long long)ts.tv_sec * 1000000000ull +
                         (unsigned long long)ts.tv_nsec);
            json_object_set_new(md, "name", json_string(name));
        }
        json_object_set_new(e, "count", json_integer(1));
        post(rec, key, e);
        json_decref(e);
        return;
    }
    if (r->code < 200 || r->code >= 300)
        bx_warn("k8s: event %s: %ld %s: %s", w->key, r->code, r->status ? r->status->reason : "",
                r->status ? r->status->message : "");
    write_free(w);
}

static struct ev_write *write_new(k8s_recorder *rec, const char *key)
{
    struct ev_write *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->rec = rec;
    snprintf(w->key, sizeof(w->key), "%s", key);
    bx_queue_insert_tail(&rec->inflight, &w->node);
    return w;
}

static int post(k8s_recorder *rec, const char *key, json_t *event)
{
    const json_t *md = json_object_get(event, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    char coll[512];
    if (k8s_path(coll, sizeof(coll), "", "v1", ns, "events", NULL, NULL) != 0) return -1;
    struct ev_write *w = write_new(rec, key);
    if (!w) return -1;
    w->req = k8s_create(rec->c, coll, event, on_done, w);
    if (!w->req) {
        write_free(w);
        return -1;
    }
    rec->writes++;
    if (json_object_size(rec->cache) >= rec->max_cache) json_object_clear(rec->cache);
    json_object_set_new(rec->cache, key,
                        json_pack("{s:O,s:I}", "event", event, "count", (json_int_t)1));
    return 0;
}

int k8s_event_emit(k8s_recorder *rec, const json_t *obj, const char *type, const char *reason,
                   const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *name = k8s_meta(obj, "name"), *ns = k8s_meta(obj, "namespace");
    const char *uid = k8s_meta(obj, "uid");
    if (!name[0]) return -1;
    char key[600];
    snprintf(key, sizeof(key), "%s|%s|%.100s|%.300s", uid[0] ? uid : ns, uid[0] ? "" : name, reason,
             msg);
    char now[32];
    bx_time_rfc3339(bx_time_unix_ms(), now, sizeof(now));
    json_t *seen = json_object_get(rec->cache, key);
    if (seen) {
        json_t *ev = json_object_get(seen, "event");
        json_int_t count = json_integer_value(json_object_get(seen, "count")) + 1;
        json_object_set_new(seen, "count", json_integer(count));
        const json_t *md = json_object_get(ev, "metadata");
        char path[512];
        if (k8s_path(path, sizeof(path), "", "v1",
                     json_string_value(json_object_get(md, "namespace")), "events",
                     json_string_value(json_object_get(md, "name")), NULL) != 0)
            return -1;
        json_t *patch = json_pack("{s:I,s:s}", "count", count, "lastTimestamp", now);
        struct ev_write *w = patch ? write_new(rec, key) : NULL;
        if (w) {
            w->event = json_incref(ev);
            w->req = k8s_patch(rec->c, path, K8S_PATCH_MERGE, patch, on_done, w);
            if (!w->req) write_free(w);
        }
        json_decref(patch);
        if (!w || !w->req) return -1;
        rec->writes++;
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char ename[400];
    snprintf(ename, sizeof(ename), "%.200s.%llx", name,
             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
    json_t *io = json_object();
    const char *k;
    static const char *const keys[] = {"apiVersion", "kind"};
    for (size_t i = 0; i < 2; i++) {
        k = json_string_value(json_object_get(obj, keys[i]));
        if (k) json_object_set_new(io, keys[i], json_string(k));
    }
    static const char *const mkeys[] = {"namespace", "name", "uid", "resourceVersion"};
    for (size_t i = 0; i < 4; i++) {
        k = k8s_meta(obj, mkeys[i]);
        if (k[0]) json_object_set_new(io, mkeys[i], json_string(k));
    }
    json_t *e = json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:s,s:s,s:s,s:i,s:{s:s}}", "apiVersion",
                          "v1", "kind", "Event", "metadata", "name", ename, "namespace",
                          ns[0] ? ns : "default", "involvedObject", io, "reason", reason, "message",
                          msg, "type", type ? type : "Normal", "firstTimestamp", now,
                          "lastTimestamp", now, "count", 1, "source", "component", rec->component);
    if (!e) return -1;
    int r = post(rec, key, e);
    json_decref(e);
    return r;
}

void k8s_recorder_close(k8s_recorder *rec)
{
    while (!bx_queue_empty(&rec->inflight)) {
        struct ev_write *w = bx_container_of(bx_queue_head(&rec->inflight), struct ev_write, node);
        k8s_cancel(w->req);
        write_free(w);
    }
    json_decref(rec->cache);
    free(rec->component);
    free(rec);
}
