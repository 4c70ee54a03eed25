/* ctl_local_vllm: `brix up --engine simulator` (see ctl_local_int.h): a
 * rendered vLLM command line becomes brix's engine command line, so an
 * AIBrix Deployment written for vLLM runs where vLLM is not installed.
 * Recognised: `vllm serve [MODEL] ...`, `python[3] -m
 * vllm.entrypoints.openai.api_server ...`, and either as the one line of
 * `sh -c` / `bash -c` when that line is plain words (no quotes, $, ;, &,
 * |, <, >, backquotes; backslash-newlines allowed), or as the last command
 * of such a script when that command is plain words (a RayCluster head's
 * script starts Ray and polls its dashboard first: the simulator needs
 * neither, the commands before are dropped). What changes:
 *   MODEL (vllm serve's positional)   --model MODEL
 *   --served-model-name A B ...        --served-model-name A (the first;
 *                                      the simulator serves one name)
 *   --lora-modules a=p b=q ...         --lora-modules a=p --lora-modules b=q;
 *                                      a JSON {"name","path"} form -> name=path
 *   --host H                           dropped (engines listen on loopback)
 * Everything else passes as written: brix engine acts on --max-model-len,
 * --enable-lora, --max-loras, --port, ... and names the options it does not
 * act on (--max-lora-rank, --gpu-memory-utilization, ...) in one warning;
 * --tensor-parallel-size and --pipeline-parallel-size pass through too.
 *
 * A Ray node that is no vLLM server (`ray start ...`, or a sh -c script
 * that runs `ray start` or evals $KUBERAY_GEN_RAY_START_CMD: a RayCluster
 * worker's) runs `brix engine --port PORT` (ctl_local_vllm_ray_worker): a
 * group worker, its leader and rank in its env (BRIX_GROUP_LEADER,
 * BRIX_GROUP_RANK). Without the simulator, a script that needs `ray` or
 * `vllm` where PATH has none is named by ctl_local_vllm_missing, so that
 * the launch fails with the switch's hint instead of a script that waits
 * forever for a Ray dashboard. */
#include "ctl/ctl_local_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *ctl_local_vllm_base(const char *s)
{
    const char *b = strrchr(s, '/');
    return b ? b + 1 : s;
}

static int ctl_local_vllm_is_python(const char *s)
{
    const char *b = ctl_local_vllm_base(s);
    return !strncmp(b, "python", 6) && strspn(b + 6, "0123456789.") == strlen(b + 6);
}

/* Words of argv after the server's start: *skip of them are the start
 * (vllm serve / python -m module); 0 when argv is no vLLM server. */
static size_t ctl_local_vllm_start(char *const *argv)
{
    if (!argv[0]) return 0;
    if (!strcmp(ctl_local_vllm_base(argv[0]), "vllm") && argv[1] && !strcmp(argv[1], "serve"))
        return 2;
    if (ctl_local_vllm_is_python(argv[0]) && argv[1] && !strcmp(argv[1], "-m") && argv[2] &&
        !strcmp(argv[2], "vllm.entrypoints.openai.api_server"))
        return 3;
    return 0;
}

/* The words of line when it is plain words (malloc'd array of malloc'd
 * strings), else NULL. */
static char **ctl_local_vllm_split(const char *line)
{
    if (strpbrk(line, "'\"$;&|<>`(){}*?")) return NULL;
    size_t cap = strlen(line) / 2 + 2, n = 0;
    char **w = calloc(cap, sizeof(char *));
    if (!w) return NULL;
    const char *s = line;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\n' || (*s == '\\' && s[1] == '\n'))
            s += *s == '\\' ? 2 : 1;
        if (!*s) break;
        size_t len = strcspn(s, " \t\n\\");
        if (s[len] == '\\' && s[len + 1] != '\n') { /* a backslash escape: not plain */
            for (size_t i = 0; i < n; i++)
                free(w[i]);
            free(w);
            return NULL;
        }
        if (!(w[n] = strndup(s, len))) {
            for (size_t i = 0; i < n; i++)
                free(w[i]);
            free(w);
            return NULL;
        }
        n++;
        s += len;
    }
    return w;
}

/* The script of `sh -c SCRIPT` / `bash -c SCRIPT`, else NULL. */
static const char *ctl_local_vllm_script(char *const *argv)
{
    if (!argv[0] || !argv[1] || !argv[2] || argv[3]) return NULL;
    const char *sh = ctl_local_vllm_base(argv[0]);
    if ((strcmp(sh, "sh") && strcmp(sh, "bash")) || strcmp(argv[1], "-c")) return NULL;
    return argv[2];
}

/* The last command of a script (malloc'd), split at the separators outside
 * quotes and parentheses: ; & && | || and newlines (a backslash-newline
 * continues the line); NULL when none or out of memory. */
static char *ctl_local_vllm_last_command(const char *script)
{
    const char *seg = script, *last = NULL;
    size_t last_len = 0;
    char quote = 0;
    int depth = 0;
    for (const char *p = script;; p++) {
        int sep = 0;
        if (*p == '\0') {
            sep = 1;
        } else if (quote) {
            if (*p == '\\' && quote == '"' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
            continue;
        } else if (*p == '\\' && p[1]) {
            p++;
            continue;
        } else if (*p == '\'' || *p == '"' || *p == '`') {
            quote = *p;
            continue;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            depth -= depth > 0;
        } else if (depth == 0 && (*p == ';' || *p == '&' || *p == '|' || *p == '\n')) {
            sep = 1;
        }
        if (!sep) continue;
        if (strspn(seg, " \t\n") < (size_t)(p - seg)) {
            last = seg;
            last_len = (size_t)(p - seg);
        }
        if (*p == '\0') break;
        seg = p + 1;
    }
    return last ? strndup(last, last_len) : NULL;
}

/* sh -c LINE with LINE plain words, or whose last command is: those words
 * (malloc'd array of malloc'd strings), else NULL. */
static char **ctl_local_vllm_shell_words(char *const *argv)
{
    const char *line = ctl_local_vllm_script(argv);
    if (!line) return NULL;
    char **w = ctl_local_vllm_split(line);
    if (w) return w;
    char *last = ctl_local_vllm_last_command(line);
    if (!last) return NULL;
    w = ctl_local_vllm_split(last);
    free(last);
    return w;
}

static void ctl_local_vllm_free_words(char **w)
{
    for (size_t i = 0; w && w[i]; i++)
        free(w[i]);
    free(w);
}

int ctl_local_vllm_is_server(char *const *argv)
{
    if (ctl_local_vllm_start(argv)) return 1;
    char **w = ctl_local_vllm_shell_words(argv);
    int r = w && ctl_local_vllm_start(w);
    ctl_local_vllm_free_words(w);
    return r;
}

static int ctl_local_vllm_push(char **out, size_t *n, const char *s)
{
    if (!(out[*n] = strdup(s))) return -1;
    (*n)++;
    return 0;
}

/* One --lora-modules value as name=path: as written, or from vLLM's JSON
 * form; NULL when out of memory. */
static char *ctl_local_vllm_lora(const char *v)
{
    if (v[0] != '{') return strdup(v);
    json_t *j = json_loads(v, 0, NULL);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *path = json_string_value(json_object_get(j, "path"));
    char *r = NULL;
    if (name && path) {
        size_t len = strlen(name) + strlen(path) + 2;
        if ((r = malloc(len))) snprintf(r, len, "%s=%s", name, path);
    } else {
        r = strdup(v); /* the engine says what is wrong with it */
    }
    json_decref(j);
    return r;
}

static int ctl_local_vllm_is_value(const char *s)
{
    return s && !(s[0] == '-' && s[1] == '-');
}

int ctl_local_vllm_translate(char *const *argv, const char *brix, char ***out)
{
    *out = NULL;
    char **words = NULL;
    size_t skip = ctl_local_vllm_start(argv);
    if (!skip) {
        words = ctl_local_vllm_shell_words(argv);
        if (!words || !(skip = ctl_local_vllm_start(words))) {
            ctl_local_vllm_free_words(words);
            return 0;
        }
        argv = words;
    }
    size_t argc = 0;
    while (argv[argc])
        argc++;
    /* each word at most twice (--lora-modules a b -> two flags), plus
     * brix engine --model */
    char **o = calloc(2 * argc + 4, sizeof(char *));
    if (!o) {
        ctl_local_vllm_free_words(words);
        return -1;
    }
    size_t n = 0;
    int rc = ctl_local_vllm_push(o, &n, brix);
    if (!rc) rc = ctl_local_vllm_push(o, &n, "engine");
    size_t i = skip;
    if (!rc && skip == 2 && argv[i] && argv[i][0] != '-') { /* vllm serve MODEL */
        rc = ctl_local_vllm_push(o, &n, "--model");
        if (!rc) rc = ctl_local_vllm_push(o, &n, argv[i]);
        i++;
    }
    for (; !rc && i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--served-model-name") && ctl_local_vllm_is_value(argv[i + 1])) {
            rc = ctl_local_vllm_push(o, &n, a);
            if (!rc) rc = ctl_local_vllm_push(o, &n, argv[++i]);
            while (ctl_local_vllm_is_value(argv[i + 1]))
                i++; /* further names: the simulator serves one */
        } else if (!strcmp(a, "--lora-modules")) {
            while (!rc && ctl_local_vllm_is_value(argv[i + 1])) {
                char *v = ctl_local_vllm_lora(argv[++i]);
                rc = v ? ctl_local_vllm_push(o, &n, a) : -1;
                if (!rc) {
                    o[n++] = v;
                } else {
                    free(v);
                }
            }
        } else if (!strcmp(a, "--host")) {
            if (ctl_local_vllm_is_value(argv[i + 1])) i++;
        } else if (!strncmp(a, "--host=", 7)) {
            continue;
        } else {
            rc = ctl_local_vllm_push(o, &n, a);
        }
    }
    ctl_local_vllm_free_words(words);
    if (rc) {
        ctl_local_vllm_free(o);
        return -1;
    }
    *out = o;
    return 1;
}

void ctl_local_vllm_free(char **argv)
{
    ctl_local_vllm_free_words(argv);
}

/* 1 when argv starts a Ray node: `ray start ...`, or a sh -c script that
 * runs `ray start` or evals $KUBERAY_GEN_RAY_START_CMD. */
int ctl_local_vllm_is_ray(char *const *argv)
{
    if (argv[0] && !strcmp(ctl_local_vllm_base(argv[0]), "ray") && argv[1] &&
        !strcmp(argv[1], "start"))
        return 1;
    const char *script = ctl_local_vllm_script(argv);
    return script && (strstr(script, "KUBERAY_GEN_RAY_START_CMD") || strstr(script, "ray start"));
}

int ctl_local_vllm_ray_worker(char *const *argv, const char *brix, int port, char ***out)
{
    *out = NULL;
    if (ctl_local_vllm_is_server(argv) || !ctl_local_vllm_is_ray(argv)) return 0;
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    char **o = calloc(5, sizeof(char *));
    if (!o || !(o[0] = strdup(brix)) || !(o[1] = strdup("engine")) || !(o[2] = strdup("--port")) ||
        !(o[3] = strdup(p))) {
        ctl_local_vllm_free(o);
        return -1;
    }
    *out = o;
    return 1;
}

/* 1 when prog is an executable on PATH (or, with a '/', that file). */
static int ctl_local_vllm_on_path(const char *prog)
{
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) return 0;
    while (*path) {
        size_t n = strcspn(path, ":");
        char f[4096];
        if (snprintf(f, sizeof(f), "%.*s/%s", (int)n, n ? path : ".", prog) < (int)sizeof(f) &&
            access(f, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

const char *ctl_local_vllm_missing(char *const *argv)
{
    if (!ctl_local_vllm_script(argv)) return NULL; /* a program: uv_spawn says ENOENT */
    if (ctl_local_vllm_is_ray(argv) && !ctl_local_vllm_on_path("ray")) return "ray";
    char **w = ctl_local_vllm_shell_words(argv);
    const char *miss = NULL;
    if (w && ctl_local_vllm_start(w) == 2 && !ctl_local_vllm_on_path(w[0])) miss = "vllm";
    ctl_local_vllm_free_words(w);
    return miss;
}
