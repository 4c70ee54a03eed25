/* Solve-time microbenchmark of the optimizer's ILP (driver for
 * bench/micro/opt_ilp.sh). Builds random but realistic instances: 4 GPU
 * types at published-like prices (A10G $1.0, L4 $0.8, L40S $1.9, A100 $3.7
 * per replica-hour), a grid of (input, output) buckets whose tput falls with
 * both lengths (prefill and decode cost per token per type, +-15 % noise;
 * the 24 GB types cannot hold a request over 8k tokens: tput 0), and
 * loads from a few to hundreds of requests per second (a fifth of the
 * buckets idle). Times opt_ilp_solve over N instances per size and prints
 * p50/p99/max against the 100 ms goal, with how many were proven optimal.
 * Usage: opt_ilp_bench [instances] [time_limit_ms] [total] ("total": the
 * model's whole load drawn from 5..500 rps and spread over the buckets) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt/opt_ilp.h"

#define NT 4
#define GOAL_MS 100.0

static const char *names[NT] = {"A10G", "L4", "L40S", "A100"};
static const double price[NT] = {1.0, 0.8, 1.9, 3.7};
/* relative time per prompt token and per output token of one request */
static const double prefill[NT] = {1.0, 1.3, 0.5, 0.25};
static const double decode[NT] = {30.0, 40.0, 14.0, 8.0};
static const double max_tokens[NT] = {8192, 8192, 1e9, 1e9};
#define CAP 20000.0

static int total_mode;
static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static double rnd(void) /* [0, 1) */
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

/* side x side buckets: input 32..16k tokens, output 8..4k, log-spaced */
static void instance(int side, double *tput, double *load)
{
    int nb = side * side;
    for (int i = 0; i < side; i++)
        for (int o = 0; o < side; o++) {
            int b = i * side + o;
            double in = exp2(5 + 9.0 * i / (side - 1)), out = exp2(3 + 9.0 * o / (side - 1));
            for (int g = 0; g < NT; g++) {
                double t = CAP / (in * prefill[g] + out * decode[g]);
                t *= 0.85 + 0.3 * rnd();
                tput[g * nb + b] = in + out > max_tokens[g] ? 0 : t;
            }
            load[b] = rnd() < 0.2 ? 0 : exp(log(2.0) + rnd() * (log(300.0) - log(2.0)));
        }
    if (total_mode) { /* the whole model's load 5..500 rps, spread by the draws */
        double sum = 0, want = exp(log(5.0) + rnd() * (log(500.0) - log(5.0)));
        for (int b = 0; b < nb; b++)
            sum += load[b];
        for (int b = 0; b < nb && sum > 0; b++)
            load[b] *= want / sum;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the model solved: Melange's (AIBrix: 4 slices a bucket, 1/100 replica
 * units) or brix's optimizer default (continuous shares, whole replicas) */
static int cont_mode, upg_mode;

static void run(int side, int n, double limit_ms)
{
    int nb = side * side;
    double *tput = malloc(sizeof(double) * NT * nb), *load = malloc(sizeof(double) * nb);
    double *ms = malloc(sizeof(double) * n), *share = malloc(sizeof(double) * NT * nb);
    int counts[4] = {0};
    double cost_sum = 0;
    int64_t units[NT], units_sum[NT] = {0};
    if (!tput || !load || !ms || !share) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int k = 0; k < n; k++) {
        instance(side, tput, load);
        opt_ilp_in in = {.ntypes = NT,
                         .nbuckets = nb,
                         .cost = price,
                         .tput = tput,
                         .load = load,
                         .units_per_gpu = upg_mode,
                         .continuous = cont_mode,
                         .time_limit_ms = limit_ms};
        opt_ilp_out out = {.units = units, .share = share};
        opt_ilp_status st = opt_ilp_solve(&in, &out);
        counts[st]++;
        ms[k] = out.solve_ms;
        if (st == OPT_ILP_OPTIMAL) {
            cost_sum += out.cost;
            for (int g = 0; g < NT; g++)
                units_sum[g] += units[g];
        } else if (counts[st] == 1) {
            fprintf(stderr, "  instance %d: %s: %s\n", k, opt_ilp_status_name(st), out.msg);
        }
    }
    qsort(ms, (size_t)n, sizeof(double), cmp);
    double p50 = ms[n / 2], p99 = ms[(int)(0.99 * (n - 1))], mx = ms[n - 1];
    printf("%d types x %d buckets, %d instances (time limit %g ms): optimal %d, timeout %d, "
           "infeasible %d, error %d\n",
           NT, nb, n, limit_ms, counts[OPT_ILP_OPTIMAL], counts[OPT_ILP_TIMEOUT],
           counts[OPT_ILP_INFEASIBLE], counts[OPT_ILP_ERROR]);
    printf("  solve ms: p50 %.2f  p99 %.2f  max %.2f   (p99 / %g ms goal = %.3f)\n", p50, p99, mx,
           GOAL_MS, p99 / GOAL_MS);
    if (counts[OPT_ILP_OPTIMAL]) {
        printf("  mean mix:");
        for (int g = 0; g < NT; g++)
            printf(" %s %.1f", names[g], (double)units_sum[g] / upg_mode / counts[OPT_ILP_OPTIMAL]);
        printf(" replicas, $%.1f/h\n", cost_sum / counts[OPT_ILP_OPTIMAL]);
    }
    free(tput);
    free(load);
    free(ms);
    free(share);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    double limit = argc > 2 ? atof(argv[2]) : 1000; /* the solver's default */
    if (n < 1) n = 1;
    total_mode = argc > 3 && !strcmp(argv[3], "total");
    printf("Melange's model (AIBrix: 4 slices a bucket, 1/100 replica units):\n");
    cont_mode = 0, upg_mode = 100;
    run(10, n, limit);
    run(20, n, limit);
    printf("brix's optimizer (continuous shares, whole replicas; opt_core's default):\n");
    cont_mode = 1, upg_mode = 1;
    run(10, n, limit);
    run(20, n, limit);
    return 0;
}
