/* ctl_local_vllm: `brix up --engine simulator` (see ctl_local_int.h): a
 * rendered vLLM command line becomes brix's engine command line, so an
 * AIBrix Deployment written for vLLM runs where vLLM is not installed.
 * Recognised: `vllm serve [MODEL] ...`, `python[3] -m
 * vllm.entrypoints.openai.api_server ...`, and either as the one line of
 * `sh -c` / `bash -c` when that line is plain words (no quotes, $, ;, &,
 * |, <, >, backquotes; backslash-newlines allowed). What changes:
 *   MODEL (vllm serve's positional)   --model MODEL
 *   --served-model-name A B ...        --served-model-name A (the first;
 *                                      the simulator serves one name)
 *   --lora-modules a=p b=q ...         --lora-modules a=p --lora-modules b=q;
 *                                      a JSON {"name","path"} form -> name=path
 *   --host H                           dropped (engines listen on loopback)
 * Everything else passes as written: brix engine acts on --max-model-len,
 * --enable-lora, --max-loras, --port, ... and names the options it does not
 * act on (--max-lora-rank, --gpu-memory-utilization, ...) in one warning. */
#include "ctl/ctl_local_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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

/* sh -c LINE with LINE plain words: those words (malloc'd array of
 * malloc'd strings), else NULL. */
static char **ctl_local_vllm_shell_words(char *const *argv)
{
    if (!argv[0] || !argv[1] || !argv[2] || argv[3]) return NULL;
    const char *sh = ctl_local_vllm_base(argv[0]);
    if ((strcmp(sh, "sh") && strcmp(sh, "bash")) || strcmp(argv[1], "-c")) return NULL;
    const char *line = argv[2];
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
