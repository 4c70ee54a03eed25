/* ctl_cli: `brix apply | get | describe | delete | logs`, a client of the
 * admin API (ctl_api) in kubectl's habits:
 *
 *   brix apply -f FILE|- [-n NS]              created / configured / unchanged
 *   brix get KIND[,KIND...]|all [NAME...] [-n NS|-A] [-l SEL] [-w]
 *            [-o wide|json|yaml|name]
 *   brix describe KIND [NAME...] [-n NS|-A]
 *   brix delete -f FILE|-  |  brix delete KIND NAME... [-n NS] [--ignore-not-found]
 *   brix logs POD [-n NS] [-f] [--tail N]
 *
 * KIND: pods (po), deployments (deploy, deployments.apps), models,
 * modeladapters (ma, adapters, modeladapters.model.aibrix.ai),
 * podautoscalers (pa, autoscalers, podautoscalers.autoscaling.aibrix.ai),
 * events (ev); singular forms too (the table in ctl_cli_get.c). Global flag
 * --server URL (or -s; env BRIX_SERVER; default http://127.0.0.1:8889).
 * Exit status 0, or 1 with the reason on the error stream ("Error from
 * server (NotFound): deployment \"x\" not found"). -w and logs -f ask the
 * API every CTL_CLI_POLL_MS until interrupted (env BRIX_CLI_MAX_POLLS=N
 * stops them after N polls, for tests).
 *
 * The printers are pure functions of the API's JSON (see ctl_api.h for its
 * shapes) and a clock value, writing to a FILE*, so tests can check them
 * byte for byte. The HTTP client is libcurl (blocking); responses are
 * bounded in size.
 *
 * Files: ctl_cli.c (commands, arguments), ctl_cli_get.c (get, the kinds),
 * ctl_cli_logs.c (logs), ctl_cli_http.c (the request),
 * ctl_cli_print.c (tables), ctl_cli_describe.c, ctl_cli_yaml.c, and
 * ctl_cli_fmt.c below them; ctl_cli_int.h is what they share.
 *
 * Ownership: nothing returned here is kept by the module; the buffer
 * ctl_cli_request returns is the caller's to free(). No global state
 * besides libcurl's (curl_global_init/cleanup around each run). */
#ifndef CTL_CLI_H
#define CTL_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_CLI_DEFAULT_SERVER "http://127.0.0.1:8889"
#define CTL_CLI_MAX_RESPONSE (64u << 20) /* bytes of one API answer */
#define CTL_CLI_MAX_FILE (4u << 20)      /* bytes of one -f input */

/* argv[0] is the subcommand ("apply", "get", "describe", "delete"), as
 * src/cli/main.c dispatches it. Writes to stdout/stderr. */
int ctl_cli_main(int argc, char **argv);
/* The same with injectable output streams. Reads stdin only for "-f -". */
int ctl_cli_run(int argc, char **argv, FILE *out, FILE *err);

/* One request to the API: server is the base URL, path starts with '/'.
 * body may be NULL. On success (any HTTP status) returns 0 with *status,
 * and *resp (NUL-terminated, malloc'd, caller frees) / *resp_len; -1 with a
 * message when the request could not be made or the answer was too big. */
int ctl_cli_request(const char *server, const char *method, const char *path,
                    const char *content_type, const char *body, size_t body_len, long *status,
                    char **resp, size_t *resp_len, char *err, size_t errlen);

/* kubectl's short ages: "0s".."59s", "1m".."59m", "1h".."23h", "1d"..
 * "364d", then years. Negative (clock skew) prints "0s". */
void ctl_cli_format_age(int64_t ms, char *buf, size_t len);
/* "2024-05-01T10:00:00Z" (fraction and +hh:mm offsets accepted) -> Unix
 * ms, or -1. */
int64_t ctl_cli_parse_time(const char *s);

typedef enum ctl_cli_table {
    CTL_CLI_TABLE_DEPLOYMENTS = 0, /* NAME READY UP-TO-DATE AVAILABLE AGE */
    CTL_CLI_TABLE_MODELS,          /* NAME MODEL READY UP-TO-DATE AVAILABLE AGE */
    CTL_CLI_TABLE_ADAPTERS,        /* NAME PHASE DESIRED READY CANDIDATES MODEL PATH AGE */
    CTL_CLI_TABLE_AUTOSCALERS,     /* NAME MINPODS MAXPODS REPLICAS STRATEGY AGE */
    CTL_CLI_TABLE_PODS,            /* NAME READY STATUS RESTARTS AGE */
    CTL_CLI_TABLE_EVENTS,          /* LAST SEEN TYPE REASON OBJECT COUNT MESSAGE */
    CTL_CLI_TABLE_SERVICES,        /* NAME TYPE ENDPOINT MODELS PORT(S) AGE */
    CTL_CLI_TABLE_OBJECTS,         /* NAME AGE (kinds only stored) */
    CTL_CLI_TABLE_FLEETS,          /* NAME READY UP-TO-DATE AVAILABLE AGE */
    CTL_CLI_TABLE_RAY_REPLICASETS, /* NAME DESIRED CURRENT READY AGE */
    CTL_CLI_TABLE_RAYCLUSTERS,     /* NAME DESIRED-WORKERS AVAILABLE-WORKERS STATUS AGE */
} ctl_cli_table;
#define CTL_CLI_TABLE_LAST CTL_CLI_TABLE_RAYCLUSTERS

/* Prints items (objects, pods or events as the API answers them) as an
 * aligned table with a header line; wide adds columns. Ages are relative
 * to now_ms. 0, or -1 when out of memory. */
int ctl_cli_print_table(FILE *out, ctl_cli_table t, const json_t *items, int wide, int64_t now_ms);
/* How a table is printed: -o wide; -A (a NAMESPACE column first: the
 * objects' metadata.namespace, the pods' and events' namespace); `get all`
 * (name_prefix "deployment.apps" gives deployment.apps/NAME); no_header
 * (the rows `get -w` prints after the first table). */
typedef struct ctl_cli_print_opts {
    int wide, ns_column, no_header;
    const char *name_prefix;
} ctl_cli_print_opts;
int ctl_cli_print_table_opts(FILE *out, ctl_cli_table t, const json_t *items,
                             const ctl_cli_print_opts *opt, int64_t now_ms);
/* kubectl-describe text for one object, its events (array, may be NULL)
 * and what belongs to it (array, may be NULL): a Deployment's or a
 * RayCluster's pods (as GET /v1/pods answers them), a RayClusterFleet's
 * RayClusterReplicaSets, a RayClusterReplicaSet's RayClusters (objects). */
int ctl_cli_print_describe(FILE *out, const json_t *object, const json_t *events,
                           const json_t *pods, int64_t now_ms);
/* 1 when labels (an object, or NULL) match a label selector as -l takes
 * it: "k=v,k==v,k!=v,k,!k" (every term must hold). 0 when not, -1 when the
 * selector does not parse. */
int ctl_cli_selector_match(const char *sel, const json_t *labels);
/* One JSON value as a YAML document (strings that would read back as
 * another type are quoted). 0 or -1. */
int ctl_cli_print_yaml(FILE *out, const json_t *v);

#endif
