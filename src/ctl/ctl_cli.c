/* ctl_cli: `brix apply | get | describe | delete` (ctl_cli.h): argument
 * parsing and the commands, nothing else. Each command reads its files,
 * calls the admin API through ctl_cli_http.c and hands the answer to a
 * printer (ctl_cli_print.c, ctl_cli_describe.c, ctl_cli_yaml.c);
 * ctl_cli_int.h says how the files divide the work. */
#include "ctl/ctl_cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bx_yaml.h"
#include "ctl/ctl_api.h"
#include "ctl/ctl_cli_int.h"
#include "ctl/ctl_obj.h"

static int ctl_cli_check_name(ctl_cli_ctx *c, const char *name)
{
    if (ctl_name_valid(name)) return 0;
    fprintf(c->err, "error: invalid name \"%s\": must be a DNS-1123 label\n", name);
    return 1;
}

/* Reads a file ("-" = stdin) into a malloc'd NUL-terminated buffer. */
static char *ctl_cli_read_input(ctl_cli_ctx *c, const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(c->err, "error: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > CTL_CLI_MAX_FILE) {
                fprintf(c->err, "error: %s: larger than %u bytes\n", path,
                        (unsigned)CTL_CLI_MAX_FILE);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                fprintf(c->err, "error: %s: read failed\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin) fclose(f);
    if (!buf) return NULL;
    if (n > CTL_CLI_MAX_FILE) {
        fprintf(c->err, "error: %s: larger than %u bytes\n", path, (unsigned)CTL_CLI_MAX_FILE);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

static int ctl_cli_cmd_apply(ctl_cli_ctx *c)
{
    if (!c->nfiles || c->npos) {
        fprintf(c->err, "error: usage: brix apply -f FILE|- [-f FILE...]\n");
        return 1;
    }
    int rc = 0;
    for (size_t f = 0; f < c->nfiles; f++) {
        size_t len = 0;
        char *buf = ctl_cli_read_input(c, c->files[f], &len);
        if (!buf) return 1;
        json_t *ans = NULL;
        char path[128];
        if (c->ns)
            snprintf(path, sizeof(path), "/v1/apply?namespace=%s", c->ns);
        else
            snprintf(path, sizeof(path), "/v1/apply");
        int r = ctl_cli_call(&c->api, "POST", path, "application/yaml", buf, len, &ans, NULL, 0);
        free(buf);
        if (r) return 1;
        size_t i;
        const json_t *it;
        json_array_foreach(json_object_get(ans, "items"), i, it)
        {
            const char *kind = ctl_cli_kind_lower(ctl_cli_jstr(json_object_get(it, "kind"), ""));
            const char *name = ctl_cli_jstr(json_object_get(it, "name"), "");
            const char *notes = ctl_cli_jstr(json_object_get(it, "notes"), "");
            if (c->output && strcmp(c->output, "name") == 0)
                fprintf(c->out, "%s/%s\n", kind, name);
            else
                fprintf(c->out, "%s/%s %s\n", kind, name,
                        ctl_cli_jstr(json_object_get(it, "result"), "applied"));
            if (*notes) fprintf(c->err, "Warning: %s/%s: %s\n", kind, name, notes);
        }
        json_array_foreach(json_object_get(ans, "warnings"), i, it)
            fprintf(c->err, "Warning: %s: %s\n", c->files[f], ctl_cli_jstr(it, ""));
        json_decref(ans);
    }
    return rc;
}

/* 1 when the object it names (metadata.ownerReferences) as its controller
 * is kind/name. */
static int ctl_cli_owned_by(const json_t *o, const char *kind, const char *name)
{
    size_t i;
    const json_t *r;
    json_array_foreach(ctl_cli_jget(o, "metadata", "ownerReferences", NULL), i, r)
    {
        if (!strcmp(ctl_cli_jstr(json_object_get(r, "kind"), ""), kind) &&
            !strcmp(ctl_cli_jstr(json_object_get(r, "name"), ""), name))
            return 1;
    }
    return 0;
}

/* What a describe of a multi-node kind lists under it (namespace ns): a
 * fleet's replica sets, a replica set's RayClusters (the objects naming
 * it as owner), a RayCluster's pods (label ray.io/cluster). *items gets a
 * new array, NULL for the other kinds; 0 or 1. */
static int ctl_cli_describe_owned(ctl_cli_ctx *c, ctl_kind kind, const char *ns, const char *name,
                                  json_t **items)
{
    *items = NULL;
    ctl_kind child = kind == CTL_KIND_RAYCLUSTER_FLEET        ? CTL_KIND_RAYCLUSTER_REPLICASET
                     : kind == CTL_KIND_RAYCLUSTER_REPLICASET ? CTL_KIND_RAYCLUSTER
                                                              : CTL_KIND_NONE;
    json_t *all = NULL, *ans = NULL;
    if (kind == CTL_KIND_RAYCLUSTER) {
        ctl_cli_ctx in = *c;
        in.ns = ns;
        in.all_ns = 0;
        if (ctl_cli_get_pods(&in, NULL, &all)) return 1;
    } else if (child != CTL_KIND_NONE) {
        char path[256];
        snprintf(path, sizeof(path), "/v1/objects/%s?namespace=%s", ctl_kind_name(child), ns);
        if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
        all = json_incref(json_object_get(ans, "items"));
        json_decref(ans);
    } else {
        return 0;
    }
    *items = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(all, i, it)
    {
        int mine =
            kind == CTL_KIND_RAYCLUSTER
                ? !strcmp(ctl_cli_jstr(ctl_cli_jget(it, "labels", "ray.io/cluster", NULL), ""),
                          name)
                : ctl_cli_owned_by(it, ctl_kind_name(kind), name);
        if (mine && *items) json_array_append(*items, it);
    }
    json_decref(all);
    return *items ? 0 : 1;
}

static int ctl_cli_describe_one(ctl_cli_ctx *c, const ctl_cli_res *t, const char *ns,
                                const char *name, int first)
{
    if (ctl_cli_check_name(c, name)) return 1;
    char path[256];
    snprintf(path, sizeof(path), "/v1/objects/%s/%s?namespace=%s", ctl_kind_name(t->kind), name,
             ns);
    json_t *ans;
    if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    json_t *pods = NULL;
    int rc = 0;
    ctl_cli_ctx in = *c; /* the pods of the object's namespace */
    in.ns = ns;
    in.all_ns = 0;
    if (t->kind == CTL_KIND_DEPLOYMENT && ctl_cli_get_pods(&in, name, &pods)) rc = 1;
    if (t->kind != CTL_KIND_DEPLOYMENT && ctl_cli_describe_owned(c, t->kind, ns, name, &pods))
        rc = 1;
    if (!first) fputc('\n', c->out);
    if (ctl_cli_print_describe(c->out, json_object_get(ans, "object"),
                               json_object_get(ans, "events"), pods, c->now) < 0)
        rc = 1;
    json_decref(pods);
    json_decref(ans);
    return rc;
}

static int ctl_cli_cmd_describe(ctl_cli_ctx *c)
{
    if (c->npos < 1 || c->nfiles || c->output) {
        fprintf(c->err, "error: usage: brix describe KIND [NAME...]\n");
        return 1;
    }
    const ctl_cli_res *tp = ctl_cli_res_find(c, c->pos[0]);
    if (!tp) return 1;
    const ctl_cli_res t = *tp;
    if (t.w == CTL_CLI_W_EVENTS) {
        fprintf(c->err, "error: events cannot be described; use brix get events\n");
        return 1;
    }
    int rc = 0;
    if (t.w == CTL_CLI_W_PODS) {
        json_t *all, *items;
        if (ctl_cli_get_pods(c, NULL, &all)) return 1;
        if (c->npos > 1) {
            items = json_array();
            rc = ctl_cli_pick_pods(c, all, c->pos + 1, c->npos - 1, items);
            json_decref(all);
        } else {
            items = all;
        }
        size_t i;
        const json_t *p;
        json_array_foreach(items, i, p)
        {
            if (i) fputc('\n', c->out);
            ctl_cli_describe_pod(c->out, p, c->now);
        }
        if (!json_array_size(items) && !rc) fprintf(c->err, "No resources found.\n");
        json_decref(items);
        return rc;
    }
    if (c->npos > 1) {
        for (size_t i = 1; i < c->npos; i++)
            rc |= ctl_cli_describe_one(c, &t, c->ns ? c->ns : "default", c->pos[i], i == 1);
        return rc;
    }
    /* No name: every object of the kind, as kubectl does. */
    char path[256], q[96];
    snprintf(path, sizeof(path), "/v1/objects/%s?%s", ctl_kind_name(t.kind),
             ctl_cli_ns_query(c, q, sizeof(q)));
    json_t *ans;
    if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    const json_t *items = json_object_get(ans, "items");
    if (!json_array_size(items)) fprintf(c->err, "No resources found.\n");
    size_t i;
    const json_t *o;
    json_array_foreach(items, i, o) rc |= ctl_cli_describe_one(
        c, &t, ctl_cli_jstr(ctl_cli_jget(o, "metadata", "namespace", NULL), "default"),
        ctl_cli_jstr(ctl_cli_jget(o, "metadata", "name", NULL), ""), i == 0);
    json_decref(ans);
    return rc;
}

static int ctl_cli_delete_one(ctl_cli_ctx *c, ctl_kind kind, const char *ns, const char *name)
{
    if (ctl_cli_check_name(c, name)) return 1;
    if (!ns) ns = c->ns ? c->ns : "default";
    if (!ctl_name_valid(ns)) {
        fprintf(c->err, "error: invalid namespace \"%s\"\n", ns);
        return 1;
    }
    char path[256];
    snprintf(path, sizeof(path), "/v1/objects/%s/%s?namespace=%s", ctl_kind_name(kind), name, ns);
    json_t *ans;
    long st = 0;
    if (ctl_cli_call(&c->api, "DELETE", path, NULL, NULL, 0, &ans, &st, c->ignore_not_found)) {
        return st == 404 && c->ignore_not_found ? 0 : 1;
    }
    json_decref(ans);
    const char *kl = ctl_cli_kind_lower(ctl_kind_name(kind));
    fprintf(c->out, "%s \"%s\" deleted\n", kl, name);
    return 0;
}

static int ctl_cli_delete_files(ctl_cli_ctx *c)
{
    int rc = 0;
    for (size_t f = 0; f < c->nfiles; f++) {
        size_t len = 0;
        char *buf = ctl_cli_read_input(c, c->files[f], &len);
        if (!buf) return 1;
        json_t *docs = NULL;
        char err[CTL_CLI_ERR_MAX];
        int r = bx_yaml_load_all(buf, len, NULL, &docs, err, sizeof(err));
        free(buf);
        if (r < 0) {
            fprintf(c->err, "error: %s: %s\n", c->files[f], err);
            return 1;
        }
        size_t i;
        const json_t *d;
        json_array_foreach(docs, i, d)
        {
            if (json_is_null(d)) continue;
            const char *kind = ctl_cli_jstr(json_object_get(d, "kind"), NULL);
            const char *name = ctl_cli_jstr(ctl_cli_jget(d, "metadata", "name", NULL), NULL);
            ctl_kind k = kind ? ctl_kind_parse(kind) : CTL_KIND_NONE;
            if (kind && name && (k == CTL_KIND_NONE || strcmp(kind, ctl_kind_name(k)) != 0)) {
                /* as apply skipped it */
                fprintf(c->err, "Warning: %s: document %zu: kind %s: unknown kind, skipped\n",
                        c->files[f], i + 1, kind);
                continue;
            }
            if (k == CTL_KIND_NONE || !name) {
                fprintf(c->err, "error: %s: document %zu: needs a known kind and metadata.name\n",
                        c->files[f], i + 1);
                rc = 1;
                continue;
            }
            const char *dns = ctl_cli_jstr(ctl_cli_jget(d, "metadata", "namespace", NULL), NULL);
            if (dns && c->ns && strcmp(dns, c->ns) != 0) {
                fprintf(c->err,
                        "error: the namespace from the provided object \"%s\" does not match the "
                        "namespace \"%s\". You must pass '--namespace=%s' to perform this "
                        "operation.\n",
                        dns, c->ns, dns);
                rc = 1;
                continue;
            }
            rc |= ctl_cli_delete_one(c, k, dns, name);
        }
        json_decref(docs);
    }
    return rc;
}

static int ctl_cli_cmd_delete(ctl_cli_ctx *c)
{
    if (c->nfiles) {
        if (c->npos) {
            fprintf(c->err, "error: give either -f FILE or KIND NAME, not both\n");
            return 1;
        }
        return ctl_cli_delete_files(c);
    }
    if (c->npos < 2) {
        fprintf(c->err, "error: usage: brix delete -f FILE | brix delete KIND NAME...\n");
        return 1;
    }
    const ctl_cli_res *tp = ctl_cli_res_find(c, c->pos[0]);
    if (!tp) return 1;
    const ctl_cli_res t = *tp;
    if (t.w != CTL_CLI_W_OBJECT) {
        fprintf(c->err, "error: %s cannot be deleted (scale or delete their deployment)\n",
                c->pos[0]);
        return 1;
    }
    int rc = 0;
    for (size_t i = 1; i < c->npos; i++)
        rc |= ctl_cli_delete_one(c, t.kind, NULL, c->pos[i]);
    return rc;
}

static void ctl_cli_usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage:\n"
            "  brix apply -f FILE|-                       create or update objects\n"
            "  brix get KIND[,KIND...]|all [NAME...] [-l SELECTOR] [-w] [-o wide|json|yaml|name]\n"
            "  brix describe KIND [NAME...]               details, conditions, events\n"
            "  brix delete -f FILE|- | KIND NAME...       [--ignore-not-found]\n"
            "  brix logs POD [-f] [--tail N]              a pod's output\n"
            "\n"
            "KIND: pods (po), deployments (deploy, deployments.apps), models, modeladapters (ma,\n"
            "      adapters), podautoscalers (pa, autoscalers), events (ev)\n"
            "-n NS, --namespace NS  the namespace (default: default); -A, --all-namespaces\n"
            "--server URL, -s URL   admin API of `brix up` (env BRIX_SERVER; default %s)\n",
            CTL_CLI_DEFAULT_SERVER);
    (void)cmd;
}

/* Option value: "--opt=v", "-oV" or the next argument. NULL when missing. */
static const char *ctl_cli_optval(int argc, char **argv, int *i, const char *arg, size_t optlen)
{
    if (arg[optlen] == '=') return arg + optlen + 1;
    if (arg[optlen]) return arg + optlen; /* -ojson */
    if (*i + 1 < argc) return argv[++*i];
    return NULL;
}

static int ctl_cli_parse_args(ctl_cli_ctx *c, int argc, char **argv)
{
    int logs = !strcmp(argv[0], "logs");
    const char *tail = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        const char *v = NULL;
        size_t ol = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            c->help = 1;
            continue;
        }
        if (!strcmp(a, "--ignore-not-found")) {
            c->ignore_not_found = 1;
            continue;
        }
        if (!strcmp(a, "-A") || !strcmp(a, "--all-namespaces")) {
            c->all_ns = 1;
            continue;
        }
        if (!strcmp(a, "-w") || !strcmp(a, "--watch")) {
            c->watch = 1;
            continue;
        }
        /* logs -f is --follow; elsewhere -f names a file */
        if ((logs && !strcmp(a, "-f")) || !strcmp(a, "--follow")) {
            c->follow = 1;
            continue;
        }
        if (!strcmp(a, "-") || a[0] != '-') {
            if (c->npos == sizeof(c->pos) / sizeof(c->pos[0])) {
                fprintf(c->err, "error: too many arguments\n");
                return 1;
            }
            c->pos[c->npos++] = argv[i];
            continue;
        }
        if (!strncmp(a, "--server", 8) && (a[8] == 0 || a[8] == '=')) {
            dst = &c->api.server, ol = 8;
        } else if (!strncmp(a, "-s", 2) && strncmp(a, "--", 2)) {
            dst = &c->api.server, ol = 2;
        } else if (!strncmp(a, "--output", 8) && (a[8] == 0 || a[8] == '=')) {
            dst = &c->output, ol = 8;
        } else if (!strncmp(a, "-o", 2)) {
            dst = &c->output, ol = 2;
        } else if (!strncmp(a, "--namespace", 11) && (a[11] == 0 || a[11] == '=')) {
            dst = &c->ns, ol = 11;
        } else if (!strncmp(a, "-n", 2)) {
            dst = &c->ns, ol = 2;
        } else if (!strncmp(a, "--selector", 10) && (a[10] == 0 || a[10] == '=')) {
            dst = &c->selector, ol = 10;
        } else if (!strncmp(a, "-l", 2)) {
            dst = &c->selector, ol = 2;
        } else if (!strncmp(a, "--tail", 6) && (a[6] == 0 || a[6] == '=')) {
            dst = &tail, ol = 6;
        } else if (!strncmp(a, "--filename", 10) && (a[10] == 0 || a[10] == '=')) {
            ol = 10;
        } else if (!strncmp(a, "-f", 2)) {
            ol = 2;
        } else {
            fprintf(c->err, "error: unknown flag %s\n", a);
            return 1;
        }
        v = ctl_cli_optval(argc, argv, &i, a, ol);
        if (!v || !*v) {
            fprintf(c->err, "error: flag %.*s needs a value\n", (int)ol, a);
            return 1;
        }
        if (dst) {
            *dst = v;
        } else {
            if (c->nfiles == sizeof(c->files) / sizeof(c->files[0])) {
                fprintf(c->err, "error: too many -f files\n");
                return 1;
            }
            c->files[c->nfiles++] = v;
        }
    }
    c->tail = -1;
    if (tail) {
        char *end;
        c->tail = strtol(tail, &end, 10);
        if (*end || c->tail < -1) {
            fprintf(c->err, "error: --tail: a number of lines (-1: all)\n");
            return 1;
        }
    }
    if (c->ns && !ctl_name_valid(c->ns)) {
        fprintf(c->err, "error: invalid namespace \"%s\": must be a DNS-1123 label\n", c->ns);
        return 1;
    }
    if (c->all_ns && strcmp(argv[0], "get") && strcmp(argv[0], "describe")) {
        fprintf(c->err, "error: -A is for get and describe\n");
        return 1;
    }
    return 0;
}

int ctl_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
    ctl_cli_ctx c = {.out = out, .err = err, .api = {.err = err}};
    if (argc < 1 || !argv[0]) {
        ctl_cli_usage(err, "");
        return 1;
    }
    if (ctl_cli_parse_args(&c, argc, argv)) return 1;
    if (c.help) {
        ctl_cli_usage(out, argv[0]);
        return 0;
    }
    if (!c.api.server) c.api.server = getenv("BRIX_SERVER");
    if (!c.api.server || !*c.api.server) c.api.server = CTL_CLI_DEFAULT_SERVER;
    c.now = ctl_cli_wall_ms();
    const char *mp = getenv("BRIX_CLI_MAX_POLLS"); /* tests: -w and -f stop by themselves */
    if (mp) c.max_polls = atoi(mp);
    int (*fn)(ctl_cli_ctx *) = NULL;
    if (!strcmp(argv[0], "apply"))
        fn = ctl_cli_cmd_apply;
    else if (!strcmp(argv[0], "get"))
        fn = ctl_cli_cmd_get;
    else if (!strcmp(argv[0], "describe"))
        fn = ctl_cli_cmd_describe;
    else if (!strcmp(argv[0], "delete"))
        fn = ctl_cli_cmd_delete;
    else if (!strcmp(argv[0], "logs"))
        fn = ctl_cli_cmd_logs;
    if (!fn) {
        fprintf(err, "error: unknown command \"%s\"\n", argv[0]);
        ctl_cli_usage(err, argv[0]);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(err, "error: cannot initialise libcurl\n");
        return 1;
    }
    int rc = fn(&c);
    curl_global_cleanup();
    fflush(out);
    fflush(err);
    return rc;
}

int ctl_cli_main(int argc, char **argv)
{
    return ctl_cli_run(argc, argv, stdout, stderr);
}
