/* ctl_podview: what the controllers (adapters, autoscaler, admin API) see
 * of one engine replica: a read-only snapshot the supervisor (ctl_sup)
 * produces and `brix up` hands to each controller on every change and tick.
 *
 * Ownership: the strings and labels belong to the producer and stay valid
 * only for the duration of the call they are passed to; a controller that
 * keeps anything copies it (json_incref for labels). */
#ifndef CTL_PODVIEW_H
#define CTL_PODVIEW_H

#include <jansson.h>
#include <stdint.h>

typedef enum ctl_pod_phase {
    CTL_POD_STARTING = 0, /* launched, not yet answering its readiness probe */
    CTL_POD_READY,        /* serving: the gateway routes to it */
    CTL_POD_DRAINING,     /* no new requests; in-flight ones finish */
    CTL_POD_STOPPING,     /* SIGTERM sent, waiting for exit (SIGKILL after grace) */
    CTL_POD_BACKOFF,      /* exited or failed; restart scheduled */
    CTL_POD_GONE,         /* stopped for good (scale-down, delete) */
} ctl_pod_phase;

/* "Starting", "Ready", "Draining", "Stopping", "Backoff", "Gone". */
const char *ctl_pod_phase_name(ctl_pod_phase p);

typedef struct ctl_podview {
    const char *name;       /* unique: "<deployment>-<replica>" */
    const char *deployment; /* the Deployment object's name */
    const char *model;      /* its served model (model.aibrix.ai/name) */
    const char *url;        /* "http://127.0.0.1:<port>" */
    const json_t *labels;   /* the pod's labels (template labels + model label) */
    int replica;
    int port;
    int pid;
    ctl_pod_phase phase;
    int restarts;
    int64_t ready_since_ms; /* Unix ms of the last transition to Ready, 0 if never */
} ctl_podview;

#endif
