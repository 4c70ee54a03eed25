/* k8s_event: core/v1 Events for a controller's decisions, aggregated.
 *
 * k8s_event_emit POSTs an Event named <object name>.<hex wall nanoseconds>
 * in the object's namespace, with involvedObject (apiVersion, kind,
 * namespace, name, uid, resourceVersion), reason, message, type
 * (Normal|Warning), firstTimestamp = lastTimestamp = now, count 1 and
 * source.component. When the same (object uid or ns/name, reason, message)
 * repeats, the recorder merge-patches that Event's count and lastTimestamp
 * instead of writing a new one; if the Event is gone (404: events expire) a
 * new one is made. The cache of recent Events holds at most max_cache keys
 * (full: it is emptied, so memory is bounded). Writes are fire and forget:
 * a failure is logged, never retried beyond the transport's own 429 retry.
 * Threading: the client's loop. Close before the client. */
#ifndef K8S_EVENT_H
#define K8S_EVENT_H

#include <jansson.h>

#include "k8s/k8s_client.h"

typedef struct k8s_recorder k8s_recorder;

/* component is copied. max_cache 0: 256. NULL on out of memory. */
k8s_recorder *k8s_recorder_new(k8s_client *c, const char *component, size_t max_cache);
/* obj: the involved object (borrowed; needs metadata.name; apiVersion and
 * kind as the object carries them). type "Normal" or "Warning". 0, or -1
 * when nothing was sent. */
int k8s_event_emit(k8s_recorder *rec, const json_t *obj, const char *type, const char *reason,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Writes sent (POST and PATCH), for tests and metrics. */
unsigned long k8s_recorder_writes(const k8s_recorder *rec);
/* Drops what is in flight (no more writes) and frees. */
void k8s_recorder_close(k8s_recorder *rec);

#endif
