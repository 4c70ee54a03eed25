/* loadgen: `brix bench`, the open-loop OpenAI load generator (the command keeps
 * its user-facing name; the code is src/loadgen, apart from the benchmark
 * scripts in bench/). */
#ifndef LOADGEN_H
#define LOADGEN_H
int loadgen_main(int argc, char **argv);
#endif
