/* brix: one binary, one subcommand per role. This file only dispatches; each
 * component owns its own flag parsing (eng_main, loadgen_main, ...). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "ctl/ctl_cli.h"
#include "ctl/ctl_controller.h"
#include "ctl/ctl_up.h"
#include "engine/eng_main.h"
#include "gateway/gw_main.h"
#include "loadgen/loadgen.h"

struct brix_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* The functions here carry the program's prefix, brix_. */
static int brix_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("brix %s\n", BRIX_VERSION);
    return 0;
}

static const struct brix_cmd brix_cmds[] = {
    {"engine", "run a vLLM-compatible engine simulator (no GPU)", eng_main},
    {"gateway", "run the OpenAI-compatible, LLM-aware gateway", gw_main},
    {"bench", "load generator and benchmarks (brix bench run --help)", loadgen_main},
    {"up", "run the local stack: gateway, engines, adapters, autoscaler (brix up -f FILE)",
     ctl_up_main},
    {"controller", "run the controller manager on a Kubernetes cluster (brix controller --help)",
     ctl_controller_main},
    {"apply", "create or update objects from YAML (brix up's admin API)", ctl_cli_main},
    {"get", "list models, pods, adapters, autoscalers, events", ctl_cli_main},
    {"describe", "show an object with its status, conditions and events", ctl_cli_main},
    {"delete", "delete objects by file or by kind and name", ctl_cli_main},
    {"logs", "print a pod's output (brix logs POD [-f] [--tail N])", ctl_cli_main},
    {"version", "print the version", brix_version},
};

static void brix_usage(FILE *f)
{
    fprintf(f, "usage: brix <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(brix_cmds) / sizeof(brix_cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", brix_cmds[i].name, brix_cmds[i].summary);
    fprintf(f, "\n'brix <command> --help' describes a command's options.\n");
}

/* Every connection is a file descriptor, and a proxied request holds two:
 * the soft open-file limit (1024 on many systems) would cap a gateway near
 * 500 concurrent requests, with connections past it closed unanswered. Go
 * programs (AIBrix) get the hard limit by default; so do brix's. */
static void brix_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    /* an unlimited hard limit is not accepted as a soft one: cap at 2^20 */
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > ((rlim_t)1 << 20)
                      ? ((rlim_t)1 << 20)
                      : rl.rlim_max;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        perror("brix: cannot raise the open-file limit"); /* runs with the old one */
}

int main(int argc, char **argv)
{
    brix_raise_nofile();
    if (argc < 2) {
        brix_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        brix_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return brix_version(0, NULL);
    for (size_t i = 0; i < sizeof(brix_cmds) / sizeof(brix_cmds[0]); i++)
        if (!strcmp(argv[1], brix_cmds[i].name)) return brix_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "brix: unknown command '%s'\n\n", argv[1]);
    brix_usage(stderr);
    return 2;
}
