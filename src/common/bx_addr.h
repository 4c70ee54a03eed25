/* bx_addr: facts about host strings that more than one server checks. Pure
 * functions, no I/O, no name resolution. */
#ifndef BX_ADDR_H
#define BX_ADDR_H

/* 1 when host names the loopback interface without resolving anything:
 * "localhost" (any case), "::1", or an IPv4 literal in 127.0.0.0/8 (a
 * well-formed dotted quad: "127.evil.example" is not one). NULL or anything
 * else: 0. Brackets and ports are the caller's to strip. */
int bx_addr_is_loopback(const char *host);

#endif
