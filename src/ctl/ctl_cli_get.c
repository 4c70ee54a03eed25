/* ctl_cli_get: `brix get` (ctl_cli_int.h): the resource table, -n/-A,
 * -l selectors, `get all`, comma lists of kinds and -w. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"

/* Every kind the CLI knows, one row each: another kind (Service,
 * ConfigMap, ...) is one more row here. */
static const ctl_cli_res ctl_cli_resources[] = {
    {"pods", "pod", "po", NULL, CTL_CLI_W_PODS, CTL_KIND_NONE, CTL_CLI_TABLE_PODS, "pod"},
    {"deployments", "deployment", "deploy", "apps", CTL_CLI_W_OBJECT, CTL_KIND_DEPLOYMENT,
     CTL_CLI_TABLE_DEPLOYMENTS, "deployment.apps"},
    {"models", "model", "", NULL, CTL_CLI_W_OBJECT, CTL_KIND_DEPLOYMENT, CTL_CLI_TABLE_MODELS,
     NULL},
    {"modeladapters", "modeladapter", "ma,adapters,adapter", "model.aibrix.ai", CTL_CLI_W_OBJECT,
     CTL_KIND_MODEL_ADAPTER, CTL_CLI_TABLE_ADAPTERS, "modeladapter.model.aibrix.ai"},
    {"podautoscalers", "podautoscaler", "pa,autoscalers,autoscaler", "autoscaling.aibrix.ai",
     CTL_CLI_W_OBJECT, CTL_KIND_POD_AUTOSCALER, CTL_CLI_TABLE_AUTOSCALERS,
     "podautoscaler.autoscaling.aibrix.ai"},
    {"events", "event", "ev", NULL, CTL_CLI_W_EVENTS, CTL_KIND_NONE, CTL_CLI_TABLE_EVENTS, NULL},
    {"services", "service", "svc", NULL, CTL_CLI_W_OBJECT, CTL_KIND_SERVICE, CTL_CLI_TABLE_SERVICES,
     "service"},
    /* multi-node replicas: no short names (AIBrix and KubeRay define none);
     * RayCluster is in KubeRay's category all */
    {"rayclusterfleets", "rayclusterfleet", "", "orchestration.aibrix.ai", CTL_CLI_W_OBJECT,
     CTL_KIND_RAYCLUSTER_FLEET, CTL_CLI_TABLE_FLEETS, NULL},
    {"rayclusterreplicasets", "rayclusterreplicaset", "", "orchestration.aibrix.ai",
     CTL_CLI_W_OBJECT, CTL_KIND_RAYCLUSTER_REPLICASET, CTL_CLI_TABLE_RAY_REPLICASETS, NULL},
    {"rayclusters", "raycluster", "", "ray.io", CTL_CLI_W_OBJECT, CTL_KIND_RAYCLUSTER,
     CTL_CLI_TABLE_RAYCLUSTERS, "raycluster.ray.io"},
    /* Kubernetes kinds stored, not acted on locally (ctl_obj_core.c) */
    {"serviceaccounts", "serviceaccount", "sa", NULL, CTL_CLI_W_OBJECT, CTL_KIND_SERVICE_ACCOUNT,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"configmaps", "configmap", "cm", NULL, CTL_CLI_W_OBJECT, CTL_KIND_CONFIG_MAP,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"secrets", "secret", "", NULL, CTL_CLI_W_OBJECT, CTL_KIND_SECRET, CTL_CLI_TABLE_OBJECTS, NULL},
    {"namespaces", "namespace", "ns", NULL, CTL_CLI_W_OBJECT, CTL_KIND_NAMESPACE,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"persistentvolumeclaims", "persistentvolumeclaim", "pvc", NULL, CTL_CLI_W_OBJECT, CTL_KIND_PVC,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"horizontalpodautoscalers", "horizontalpodautoscaler", "hpa", "autoscaling", CTL_CLI_W_OBJECT,
     CTL_KIND_HPA, CTL_CLI_TABLE_OBJECTS, NULL},
    {"roles", "role", "", "rbac.authorization.k8s.io", CTL_CLI_W_OBJECT, CTL_KIND_ROLE,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"clusterroles", "clusterrole", "", "rbac.authorization.k8s.io", CTL_CLI_W_OBJECT,
     CTL_KIND_CLUSTER_ROLE, CTL_CLI_TABLE_OBJECTS, NULL},
    {"rolebindings", "rolebinding", "", "rbac.authorization.k8s.io", CTL_CLI_W_OBJECT,
     CTL_KIND_ROLE_BINDING, CTL_CLI_TABLE_OBJECTS, NULL},
    {"clusterrolebindings", "clusterrolebinding", "", "rbac.authorization.k8s.io", CTL_CLI_W_OBJECT,
     CTL_KIND_CLUSTER_ROLE_BINDING, CTL_CLI_TABLE_OBJECTS, NULL},
    {"ingresses", "ingress", "ing", "networking.k8s.io", CTL_CLI_W_OBJECT, CTL_KIND_INGRESS,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"httproutes", "httproute", "", "gateway.networking.k8s.io", CTL_CLI_W_OBJECT,
     CTL_KIND_HTTP_ROUTE, CTL_CLI_TABLE_OBJECTS, NULL},
    {"gateways", "gateway", "gtw", "gateway.networking.k8s.io", CTL_CLI_W_OBJECT, CTL_KIND_GATEWAY,
     CTL_CLI_TABLE_OBJECTS, NULL},
    {"statefulsets", "statefulset", "sts", "apps", CTL_CLI_W_OBJECT, CTL_KIND_STATEFUL_SET,
     CTL_CLI_TABLE_OBJECTS, "statefulset.apps"},
};
#define NRES (sizeof(ctl_cli_resources) / sizeof(ctl_cli_resources[0]))

/* 1 when word (n bytes) is one of the ","-separated names of list. */
static int ctl_cli_in_list(const char *list, const char *word, size_t n)
{
    while (list && *list) {
        size_t l = strcspn(list, ",");
        if (l == n && strncasecmp(list, word, n) == 0) return 1;
        list += l;
        if (*list == ',') list++;
    }
    return 0;
}

const ctl_cli_res *ctl_cli_res_find(ctl_cli_ctx *c, const char *word)
{
    size_t n = strcspn(word, ".");
    const char *group = word[n] == '.' ? word + n + 1 : NULL;
    for (size_t i = 0; i < NRES; i++) {
        const ctl_cli_res *r = &ctl_cli_resources[i];
        if (!ctl_cli_in_list(r->plural, word, n) && !ctl_cli_in_list(r->singular, word, n) &&
            !ctl_cli_in_list(r->aliases, word, n))
            continue;
        if (!group) return r;
        /* resource.group or resource.version.group */
        const char *g = r->group ? r->group : "";
        const char *dot = strchr(group, '.');
        if (!strcasecmp(group, g) || (dot && !strcasecmp(dot + 1, g)) ||
            (!r->group && !strcasecmp(group, "v1")))
            return r;
    }
    /* kind names as the manifests spell them (Deployment, ModelAdapter) */
    ctl_kind k = ctl_kind_parse(word);
    for (size_t i = 0; k != CTL_KIND_NONE && i < NRES; i++)
        if (ctl_cli_resources[i].kind == k) return &ctl_cli_resources[i];
    fprintf(
        c->err,
        "error: the server doesn't have a resource type \"%s\" (try pods (po), deployments "
        "(deploy), models, modeladapters (ma), podautoscalers (pa), services (svc), events (ev), "
        "rayclusterfleets, rayclusterreplicasets, rayclusters, all, or a Kubernetes kind brix "
        "stores: configmaps (cm), secrets, ...)\n",
        word);
    return NULL;
}

const char *ctl_cli_ns_query(const ctl_cli_ctx *c, char *buf, size_t len)
{
    if (c->all_ns)
        snprintf(buf, len, "allNamespaces=true");
    else
        snprintf(buf, len, "namespace=%s", c->ns ? c->ns : "default");
    return buf;
}

void ctl_cli_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- selectors ---- */

int ctl_cli_selector_match(const char *sel, const json_t *labels)
{
    int all = 1;
    while (sel && *sel) {
        size_t l = strcspn(sel, ",");
        char term[512];
        if (l == 0 || l >= sizeof(term)) return -1;
        memcpy(term, sel, l);
        term[l] = 0;
        sel += l;
        if (*sel == ',') sel++;
        char *op = strpbrk(term, "!=");
        if (!op) { /* k: present */
            all &= json_object_get(labels, term) != NULL;
            continue;
        }
        if (op == term && term[0] == '!') { /* !k: absent */
            if (!term[1] || strpbrk(term + 1, "!=")) return -1;
            all &= json_object_get(labels, term + 1) == NULL;
            continue;
        }
        int neg = op[0] == '!';
        if (neg && op[1] != '=') return -1;
        char *val = op + (neg ? 2 : (op[1] == '=' ? 2 : 1));
        *op = 0;
        if (!term[0] || strpbrk(val, "!=")) return -1;
        const char *have = json_string_value(json_object_get(labels, term));
        int eq = have && !strcmp(have, val);
        all &= neg ? !eq : eq;
    }
    return all;
}

static const json_t *ctl_cli_labels_of(const ctl_cli_res *r, const json_t *it)
{
    if (r->w == CTL_CLI_W_PODS) return json_object_get(it, "labels");
    if (r->w == CTL_CLI_W_EVENTS) return NULL;
    return ctl_cli_jget(it, "metadata", "labels", NULL);
}

/* items without those -l does not select; a new reference. */
static json_t *ctl_cli_filter(ctl_cli_ctx *c, const ctl_cli_res *r, json_t *items)
{
    if (!c->selector) return json_incref(items);
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i,
                       it) if (ctl_cli_selector_match(c->selector, ctl_cli_labels_of(r, it)) == 1)
        json_array_append(out, it);
    return out;
}

/* ---- fetching ---- */

int ctl_cli_get_pods(ctl_cli_ctx *c, const char *deployment, json_t **items)
{
    char path[256], q[96];
    ctl_cli_ns_query(c, q, sizeof(q));
    if (deployment)
        snprintf(path, sizeof(path), "/v1/pods?%s&deployment=%s", q, deployment);
    else
        snprintf(path, sizeof(path), "/v1/pods?%s", q);
    json_t *ans = NULL;
    *items = NULL;
    if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    *items = json_incref(json_object_get(ans, "items"));
    json_decref(ans);
    if (!json_is_array(*items)) {
        json_decref(*items);
        *items = NULL;
        fprintf(c->err, "error: bad answer from the server\n");
        return 1;
    }
    return 0;
}

int ctl_cli_pick_pods(ctl_cli_ctx *c, json_t *all, char **names, size_t n, json_t *picked)
{
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        int found = 0;
        size_t i;
        json_t *p;
        json_array_foreach(all, i, p)
        {
            if (strcmp(ctl_cli_jstr(json_object_get(p, "name"), ""), names[k]) == 0) {
                json_array_append(picked, p);
                found = 1;
                break;
            }
        }
        if (!found) {
            fprintf(c->err, "Error from server (NotFound): pod \"%s\" not found\n", names[k]);
            rc = 1;
        }
    }
    return rc;
}

static int ctl_cli_check_name(ctl_cli_ctx *c, const char *name)
{
    if (ctl_name_valid(name)) return 0;
    fprintf(c->err, "error: invalid name \"%s\": must be a DNS-1123 label\n", name);
    return 1;
}

/* The items of r (names: only those; quiet: no error lines, for -w).
 * *items gets an array (new reference) even after errors; 0 or 1. */
static int ctl_cli_fetch(ctl_cli_ctx *c, const ctl_cli_res *r, char **names, size_t nn,
                         json_t **items)
{
    char path[256], q[96];
    ctl_cli_ns_query(c, q, sizeof(q));
    json_t *ans = NULL, *got = NULL;
    int rc = 0;
    *items = NULL;
    if (r->w == CTL_CLI_W_PODS) {
        json_t *all;
        if (ctl_cli_get_pods(c, NULL, &all)) return 1;
        if (nn) {
            got = json_array();
            rc = ctl_cli_pick_pods(c, all, names, nn, got);
            json_decref(all);
        } else {
            got = all;
        }
    } else if (r->w == CTL_CLI_W_EVENTS || nn == 0) {
        if (r->w == CTL_CLI_W_EVENTS)
            snprintf(path, sizeof(path), "/v1/events?%s", q);
        else
            snprintf(path, sizeof(path), "/v1/objects/%s?%s", ctl_kind_name(r->kind), q);
        if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
        got = json_incref(json_object_get(ans, "items"));
        json_decref(ans);
    } else {
        got = json_array();
        for (size_t i = 0; got && i < nn; i++) {
            if (ctl_cli_check_name(c, names[i])) {
                rc = 1;
                continue;
            }
            snprintf(path, sizeof(path), "/v1/objects/%s/%s?%s", ctl_kind_name(r->kind), names[i],
                     q);
            if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) {
                rc = 1;
                continue;
            }
            json_array_append(got, json_object_get(ans, "object"));
            json_decref(ans);
        }
    }
    if (!json_is_array(got)) {
        json_decref(got);
        fprintf(c->err, "error: bad answer from the server\n");
        return 1;
    }
    *items = ctl_cli_filter(c, r, got);
    json_decref(got);
    return rc;
}

/* ---- printing ---- */

/* "kind/name" as -o name prints it. */
static void ctl_cli_name_of(const ctl_cli_res *r, const json_t *it, char *buf, size_t len)
{
    if (r->w == CTL_CLI_W_PODS)
        snprintf(buf, len, "pod/%s", ctl_cli_jstr(json_object_get(it, "name"), ""));
    else if (r->w == CTL_CLI_W_EVENTS)
        snprintf(buf, len, "event/%s.%s",
                 ctl_cli_jstr(ctl_cli_jget(it, "involvedObject", "name", NULL), ""),
                 ctl_cli_jstr(json_object_get(it, "reason"), ""));
    else
        snprintf(buf, len, "%s/%s", r->all ? r->all : ctl_kind_lower(r->kind),
                 ctl_cli_jstr(ctl_cli_jget(it, "metadata", "name", NULL), ""));
}

/* Prints items in the chosen format. single: one named object. prefix:
 * the names' kind/ (several kinds). header: the table's header line. */
static int ctl_cli_print_items(ctl_cli_ctx *c, const ctl_cli_res *r, json_t *items, int single,
                               int prefix, int header)
{
    const char *o = c->output ? c->output : "";
    if (!strcmp(o, "json") || !strcmp(o, "yaml")) {
        json_t *doc = single ? json_incref(json_array_get(items, 0))
                             : json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List",
                                         "items", items);
        if (!doc) return 1;
        int rc = 0;
        if (!strcmp(o, "json")) {
            rc = json_dumpf(doc, c->out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
            fputc('\n', c->out);
        } else {
            rc = ctl_cli_print_yaml(c->out, doc);
        }
        json_decref(doc);
        return rc < 0 ? 1 : 0;
    }
    if (!strcmp(o, "name")) {
        size_t i;
        const json_t *it;
        char name[512];
        json_array_foreach(items, i, it)
        {
            ctl_cli_name_of(r, it, name, sizeof(name));
            fprintf(c->out, "%s\n", name);
        }
        return 0;
    }
    ctl_cli_print_opts po = {.wide = !strcmp(o, "wide"),
                             .ns_column = c->all_ns,
                             .no_header = !header,
                             .name_prefix =
                                 prefix ? (r->all ? r->all : ctl_kind_lower(r->kind)) : NULL};
    return ctl_cli_print_table_opts(c->out, (ctl_cli_table)r->table, items, &po, c->now) < 0;
}

/* ---- watch ---- */

/* A row's identity (-w): namespace/name. */
static void ctl_cli_item_key(const ctl_cli_res *r, const json_t *it, char *buf, size_t len)
{
    char name[512];
    ctl_cli_name_of(r, it, name, sizeof(name));
    const char *ns = r->w == CTL_CLI_W_PODS ? ctl_cli_jstr(json_object_get(it, "namespace"), "")
                     : r->w == CTL_CLI_W_EVENTS
                         ? ctl_cli_jstr(ctl_cli_jget(it, "involvedObject", "namespace", NULL), "")
                         : ctl_cli_jstr(ctl_cli_jget(it, "metadata", "namespace", NULL), "");
    snprintf(buf, len, "%s/%s", ns, name);
}

/* {key: item} of items. New reference. */
static json_t *ctl_cli_index(const ctl_cli_res *r, const json_t *items)
{
    json_t *m = json_object();
    size_t i;
    json_t *it;
    char key[600];
    json_array_foreach(items, i, it)
    {
        ctl_cli_item_key(r, it, key, sizeof(key));
        json_object_set(m, key, it);
    }
    return m;
}

/* kubectl get -w: the table, then a row for every change (a new, changed
 * or deleted object: its last state), until interrupted. */
static int ctl_cli_watch(ctl_cli_ctx *c, const ctl_cli_res *r, char **names, size_t nn,
                         json_t *items)
{
    json_t *seen = ctl_cli_index(r, items);
    int header = json_array_size(items) == 0; /* no table yet */
    fflush(c->out);
    for (int polls = 0; !c->max_polls || polls < c->max_polls; polls++) {
        ctl_cli_sleep_ms(CTL_CLI_POLL_MS);
        json_t *now = NULL;
        if (ctl_cli_fetch(c, r, names, nn, &now) != 0 && !now) continue; /* try again */
        c->now = ctl_cli_wall_ms();
        json_t *cur = ctl_cli_index(r, now), *changed = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(cur, k, v)
        {
            if (!json_equal(json_object_get(seen, k), v)) json_array_append(changed, v);
        }
        json_object_foreach(seen, k, v)
        {
            if (!json_object_get(cur, k)) json_array_append(changed, v);
        }
        if (json_array_size(changed)) {
            ctl_cli_print_items(c, r, changed, 0, 0, header);
            header = 0;
            fflush(c->out);
        }
        json_decref(changed);
        json_decref(seen);
        json_decref(now);
        seen = cur;
    }
    json_decref(seen);
    return 0;
}

/* ---- get ---- */

int ctl_cli_cmd_get(ctl_cli_ctx *c)
{
    if (c->npos < 1 || c->nfiles) {
        fprintf(c->err, "error: usage: brix get KIND[,KIND...]|all [NAME...] [-n NS|-A] [-l "
                        "SELECTOR] [-w] [-o wide|json|yaml|name]\n");
        return 1;
    }
    const char *o = c->output;
    if (o && strcmp(o, "wide") && strcmp(o, "json") && strcmp(o, "yaml") && strcmp(o, "name")) {
        fprintf(c->err, "error: unknown output format \"%s\" (wide, json, yaml, name)\n", o);
        return 1;
    }
    char **names = c->pos + 1;
    size_t nn = c->npos - 1;
    if (nn && c->selector) {
        fprintf(c->err, "error: name cannot be provided when a selector is specified\n");
        return 1;
    }
    if (nn && c->all_ns) {
        fprintf(c->err, "error: a resource cannot be retrieved by name across all namespaces\n");
        return 1;
    }
    if (c->selector && ctl_cli_selector_match(c->selector, NULL) < 0) {
        fprintf(c->err, "error: unable to parse requirement: selector \"%s\"\n", c->selector);
        return 1;
    }
    /* the kinds: a comma list, or all */
    const ctl_cli_res *rs[NRES * 2];
    size_t nr = 0;
    char list[256];
    snprintf(list, sizeof(list), "%s", c->pos[0]);
    for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcasecmp(w, "all")) {
            for (size_t i = 0; i < NRES && nr < NRES * 2; i++)
                if (ctl_cli_resources[i].all) rs[nr++] = &ctl_cli_resources[i];
            continue;
        }
        const ctl_cli_res *r = ctl_cli_res_find(c, w);
        if (!r) return 1;
        if (nr < NRES * 2) rs[nr++] = r;
    }
    int several = nr > 1 || !strcasecmp(c->pos[0], "all");
    if (!nr || (c->watch && several)) {
        fprintf(c->err, "error: %s\n", nr ? "-w watches one kind" : "no kind given");
        return 1;
    }
    int rc = 0, printed = 0;
    for (size_t k = 0; k < nr; k++) {
        json_t *items = NULL;
        rc |= ctl_cli_fetch(c, rs[k], names, nn, &items);
        if (!items) continue;
        int fmt = o && strcmp(o, "wide");
        if (json_array_size(items) || fmt) {
            if (printed++ && !fmt) fputc('\n', c->out);
            if (ctl_cli_print_items(c, rs[k], items, nn == 1 && !several, several, 1)) rc = 1;
        }
        if (c->watch) rc |= ctl_cli_watch(c, rs[k], names, nn, items);
        json_decref(items);
    }
    if (!printed && !rc && !c->watch) {
        if (c->all_ns)
            fprintf(c->err, "No resources found\n");
        else
            fprintf(c->err, "No resources found in %s namespace.\n", c->ns ? c->ns : "default");
    }
    return rc;
}
