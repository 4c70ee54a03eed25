/* ctl_podview: what the controllers (adapters, autoscaler, admin API) see
 * of one engine replica: a read-only snapshot an orchestrator (ctl_orch.h)
 * produces and `brix up` hands to each controller on every change and tick.
 * The replica is reached at host:port (url says the same); the local
 * orchestrator's engines listen on 127.0.0.1, another backend's on the
 * pod's own address.
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
    const char *name;       /* unique: "<deployment>-<replica>" (a key, ctl_key.h, locally) */
    const char *deployment; /* the Deployment object's name (its key locally) */
    const char *model;      /* its served model (model.aibrix.ai/name) */
    const char *url;        /* "http://<host>:<port>" */
    const char *host;       /* address the replica serves on: "127.0.0.1" locally */
    const json_t *labels;   /* the pod's labels (template labels + model label) */
    const char *api_key;    /* its engine's key (ctl_deployment.api_key); NULL: none. A
                               secret: for the gateway, never in output */
    int replica;
    int port;
    int pid; /* local: its process id; 0 where the backend has none */
    ctl_pod_phase phase;
    int restarts;
    int64_t ready_since_ms; /* Unix ms of the last transition to Ready, 0 if never */
} ctl_podview;

#endif
