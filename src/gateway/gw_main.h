/* gw_main: `brix gateway`, the gateway's entry point. */
#ifndef GW_MAIN_H
#define GW_MAIN_H
int gw_main(int argc, char **argv);
#endif
