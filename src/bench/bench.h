/* bench: `brix bench`, the open-loop OpenAI load generator. */
#ifndef BENCH_H
#define BENCH_H
int bench_main(int argc, char **argv);
#endif
