/* ctl_cli_int: what the files of the `brix apply | get | describe |
 * delete` client share, and nothing outside them includes (the public
 * contract is ctl_cli.h). The client is five files, each a layer that calls
 * only the ones below it:
 *
 *   ctl_cli.c           commands and argument parsing (apply, describe,
 *                       delete)
 *   ctl_cli_get.c       get: the resource table (names, short names,
 *                       resource.group), -l selectors, -A, get all, -w
 *   ctl_cli_logs.c      logs POD [-f] [--tail N]
 *     ctl_cli_http.c    the admin API client: libcurl request, JSON answer,
 *                       kubectl-style error lines
 *     ctl_cli_print.c   the `get` tables
 *     ctl_cli_describe.c  the `describe` text
 *     ctl_cli_yaml.c    `-o yaml`: a JSON value as a YAML document
 *       ctl_cli_fmt.c   times and ages, JSON field access, the aligned
 *                       table every printer fills
 *
 * Ownership: the JSON getters return borrowed pointers into the value they
 * are given (or def); a ctl_cli_tbl owns its cells until ctl_cli_tbl_print
 * frees them. */
#ifndef CTL_CLI_INT_H
#define CTL_CLI_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_CLI_ERR_MAX 1024 /* bytes of one error message */
#define CTL_CLI_CELL_MAX 512 /* bytes of one joined table cell */
#define CTL_CLI_POLL_MS 500  /* how often -w and logs -f ask the API again */

#include "ctl/ctl_obj.h"

/* Where API calls go, and where their errors are printed. */
typedef struct ctl_cli_client {
    const char *server; /* base URL of the admin API */
    FILE *err;
} ctl_cli_client;

/* One run of a command: the parsed arguments and where output goes. */
typedef struct ctl_cli_ctx {
    FILE *out, *err;
    ctl_cli_client api; /* --server, and err */
    const char *output; /* -o */
    const char *files[16];
    size_t nfiles;
    int ignore_not_found;
    char *pos[64]; /* positional arguments after the subcommand */
    size_t npos;
    int help;
    int64_t now;
    const char *ns;       /* -n/--namespace; NULL: default */
    int all_ns;           /* -A/--all-namespaces */
    const char *selector; /* -l/--selector */
    int watch;            /* -w/--watch */
    int follow;           /* logs -f/--follow */
    long tail;            /* logs --tail N; -1: everything */
    int max_polls;        /* -w / -f: stop after this many polls (0: never; tests) */
} ctl_cli_ctx;

/* ------------------------------------------------------------ ctl_cli_get.c */

typedef enum ctl_cli_what { CTL_CLI_W_OBJECT, CTL_CLI_W_PODS, CTL_CLI_W_EVENTS } ctl_cli_what;

/* One row of the resource table (ctl_cli_get.c): how `get`, `describe` and
 * `delete` name a kind, and where the API keeps it. */
typedef struct ctl_cli_res {
    const char *plural, *singular;
    const char *aliases; /* short names and others, ","-separated */
    const char *group;   /* API group for "plural.group"; NULL: core */
    ctl_cli_what w;
    ctl_kind kind;   /* CTL_CLI_W_OBJECT: the stored kind */
    int table;       /* ctl_cli_table */
    const char *all; /* in `get all`: the kind/ prefix of its names; NULL: not */
} ctl_cli_res;

/* The resource a word names (pods, po, deploy, deployments.apps,
 * modeladapters.model.aibrix.ai, ...), or NULL after printing kubectl's
 * error. */
const ctl_cli_res *ctl_cli_res_find(ctl_cli_ctx *c, const char *word);
/* "&namespace=NS" or "&allNamespaces=true" for c (to add after a '?'
 * query's first parameter). */
const char *ctl_cli_ns_query(const ctl_cli_ctx *c, char *buf, size_t len);
/* brix get. */
int ctl_cli_cmd_get(ctl_cli_ctx *c);
/* GET /v1/pods in c's namespace (deployment: only its pods). 0 or 1. */
int ctl_cli_get_pods(ctl_cli_ctx *c, const char *deployment, json_t **items);
/* Keeps only the pods named in names; prints the missing ones. 0 or 1. */
int ctl_cli_pick_pods(ctl_cli_ctx *c, json_t *all, char **names, size_t n, json_t *picked);
/* Sleeps ms (the -w and -f polls). */
void ctl_cli_sleep_ms(int ms);

/* ------------------------------------------------------------ ctl_cli_logs.c */

/* brix logs POD [-f] [--tail N]. */
int ctl_cli_cmd_logs(ctl_cli_ctx *c);

/* ------------------------------------------------------------ ctl_cli_fmt.c */

/* The wall clock in Unix ms (ages are relative to it). */
int64_t ctl_cli_wall_ms(void);
/* Age of an RFC 3339 time, or "<unknown>". */
void ctl_cli_age_of(const json_t *ts, int64_t now_ms, char *buf, size_t len);

/* obj[k1][k2]... (NULL-terminated keys); NULL when any step is missing. */
const json_t *ctl_cli_jget(const json_t *j, ...);
/* The string value of j, or def. */
const char *ctl_cli_jstr(const json_t *j, const char *def);
/* Integers (and integral strings, as AIBrix writes some) into buf; def
 * when absent. */
const char *ctl_cli_jnum(const json_t *j, const char *def, char *buf, size_t len);
/* kubectl's lower-case kind ("deployment") of a kind name. */
const char *ctl_cli_kind_lower(const char *kind);
/* A Deployment's model label (metadata, else the pod template's), or
 * "<none>". */
const char *ctl_cli_deployment_model(const json_t *o);
/* The model of a RayClusterFleet or RayClusterReplicaSet (its template's
 * model label, else its own) or of a RayCluster (its own, else its head
 * template's), as ctl_obj_model reads it; "<none>". */
const char *ctl_cli_ray_model(const json_t *o);
/* The strings of arr (or its items' name/pod) joined by ",", "..." when
 * cut, "<none>" when empty. */
void ctl_cli_join_strings(const json_t *arr, char *buf, size_t len);

/* The cells of a pod's row in `get pods` and in `describe deployment`;
 * def stands for a missing phase or port. The pointers may point into the
 * struct itself: fill it where it is used, do not copy it. */
typedef struct ctl_cli_pod_row {
    const char *name, *phase, *ready, *restarts, *port, *pid, *age;
    char restarts_buf[24], port_buf[24], pid_buf[24], age_buf[24];
} ctl_cli_pod_row;
void ctl_cli_pod_row_fill(ctl_cli_pod_row *r, const json_t *p, const char *def, int64_t now);

/* An aligned text table: set ncol, add rows (the first is the header),
 * print once. Out of memory is remembered and reported by the print. */
typedef struct ctl_cli_tbl {
    size_t ncol, nrow, cap; /* rows include the header */
    char **cells;           /* nrow * ncol, malloc'd strings */
    int oom;
} ctl_cli_tbl;

/* Adds a row of ncol cells (NULL prints as empty). */
void ctl_cli_tbl_row(ctl_cli_tbl *t, const char *const *cells);
/* Prints with columns padded to the widest cell plus 3 spaces (kubectl's
 * tabwriter), the last column unpadded, each line after indent; frees the
 * table. 0, or -1 when a row was lost to out of memory. */
int ctl_cli_tbl_print(ctl_cli_tbl *t, FILE *out, const char *indent);

/* ------------------------------------------------------------ ctl_cli_describe.c */

/* kubectl-describe text for one pod as GET /v1/pods answers it. */
void ctl_cli_describe_pod(FILE *out, const json_t *p, int64_t now);

/* ------------------------------------------------------------ ctl_cli_http.c */

/* GET/POST/DELETE returning parsed JSON on 2xx. Returns 0 with *out (new
 * reference), 1 after printing an error; *st gets the HTTP status (0 when
 * unreachable). quiet404: a 404 prints nothing. */
int ctl_cli_call(const ctl_cli_client *c, const char *method, const char *path, const char *ctype,
                 const char *body, size_t blen, json_t **out, long *st, int quiet404);

#endif
