/* ctl_cli_logs: `brix logs POD [-f] [--tail N] [-n NS]` (ctl_cli_int.h):
 * a pod's output as `brix up` keeps it (one file per pod, stdout and
 * stderr, appended across restarts), through GET /v1/pods/{name}/log; -f
 * asks again from where the last answer ended, every CTL_CLI_POLL_MS. */
#include <string.h>

#include "ctl/ctl_cli.h"
#include "ctl/ctl_cli_int.h"

/* One read from offset; prints it and sets *offset to where it ended. */
static int ctl_cli_log_read(ctl_cli_ctx *c, const char *name, long tail, long long *offset)
{
    char path[512], q[96];
    ctl_cli_ns_query(c, q, sizeof(q));
    if (tail >= 0)
        snprintf(path, sizeof(path), "/v1/pods/%s/log?%s&tailLines=%ld", name, q, tail);
    else
        snprintf(path, sizeof(path), "/v1/pods/%s/log?%s&offset=%lld", name, q, *offset);
    json_t *ans = NULL;
    if (ctl_cli_call(&c->api, "GET", path, NULL, NULL, 0, &ans, NULL, 0)) return 1;
    const json_t *log = json_object_get(ans, "log");
    fwrite(json_string_value(log) ? json_string_value(log) : "", 1, json_string_length(log),
           c->out);
    fflush(c->out);
    *offset = (long long)json_integer_value(json_object_get(ans, "offset"));
    json_decref(ans);
    return 0;
}

int ctl_cli_cmd_logs(ctl_cli_ctx *c)
{
    if (c->npos != 1 || c->nfiles || c->all_ns || c->output || c->selector) {
        fprintf(c->err, "error: usage: brix logs POD [-f] [--tail N] [-n NS]\n");
        return 1;
    }
    const char *name = c->pos[0];
    if (!strncmp(name, "pod/", 4))
        name += 4;
    else if (!strncmp(name, "pods/", 5))
        name += 5;
    if (!ctl_name_valid(name)) {
        fprintf(c->err, "error: invalid pod name \"%s\"\n", name);
        return 1;
    }
    long long offset = 0;
    if (ctl_cli_log_read(c, name, c->tail, &offset)) return 1;
    for (int polls = 0; c->follow && (!c->max_polls || polls < c->max_polls); polls++) {
        ctl_cli_sleep_ms(CTL_CLI_POLL_MS);
        (void)ctl_cli_log_read(c, name, -1, &offset); /* the pod may come back */
    }
    return 0;
}
