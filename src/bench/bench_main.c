/* Placeholder until the load generator lands (being written now). */
#include <stdio.h>

#include "bench/bench.h"

int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "brix bench: not built yet\n");
    return 2;
}
