/* gw_session: the session-affinity identifiers (docs/gateway.md "Strategies").
 *
 * An `x-session-id` is the standard base64 (RFC 4648, with padding) of an
 * engine's "host:port" address, exactly as AIBrix writes it
 * (base64(net.JoinHostPort(ip, port))); the proxy sets a fresh one for the
 * chosen engine on every answer routed with session-affinity (as AIBrix's
 * router does, even when it fell back) with gw_session_id_encode, and the
 * session-affinity strategy decodes the one a client sends back. An
 * `x-aibrix-session-key` is mapped to an engine by rendezvous hashing.
 *
 * Memory: every function writes only into buffers the caller passes (with
 * their capacity) and keeps no pointer past the call; nothing allocates. */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_engine.h"

/* Room for the base64 of any engine address plus the NUL. */
#define GW_SESSION_ID_MAX (4 * ((GW_NAME_MAX + 2) / 3) + 1)
/* Longest x-aibrix-session-key honoured (AIBrix's limit); longer keys are
 * ignored and the request is routed as if it had none. */
#define GW_SESSION_KEY_MAX 256

/* Writes base64(e->addr) and a NUL into out. Returns the length (without
 * the NUL), or -1 when cap is too small. */
int gw_session_id_encode(const gw_engine *e, char *out, size_t cap);

/* Decodes a session id (untrusted bytes, len of them) into out as a
 * NUL-terminated address. Accepts the standard and URL-safe alphabets, with
 * or without padding; surrounding whitespace is not accepted. Returns the
 * decoded length, or -1 when the input is not valid base64, decodes to a
 * NUL byte, or does not fit in cap (including the NUL). */
int gw_session_id_decode(const char *id, size_t len, char *out, size_t cap);

/* Rendezvous weight of (key, addr): FNV-1a-64 over the key bytes, one 0
 * byte, then the address bytes. The engine with the largest weight owns the
 * key; ties go to the lexicographically smaller address. */
uint64_t gw_session_rendezvous(const char *key, size_t klen, const char *addr);

#endif
