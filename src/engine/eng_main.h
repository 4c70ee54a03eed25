/* eng_main: `brix engine`, the vLLM-compatible simulator's entry point. */
#ifndef ENG_MAIN_H
#define ENG_MAIN_H
int eng_main(int argc, char **argv);
#endif
