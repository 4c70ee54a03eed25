#!/usr/bin/env bash
# brix engine against hostile clients (issue 13, finding 1): the engine's own
# HTTP server takes the gateway's deadlines and cap. A request head trickled a
# byte at a time is answered 408 and closed by --header-timeout-ms (every byte
# used to reset the idle timer), a connection past --max-connections is
# closed at once while the open ones keep being answered, and both are
# counted in the engine's /metrics (brix_engine_*).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v python3 >/dev/null || fail "needs python3"

CAP=6
start_engine e1 --model m --time-scale 10 --header-timeout-ms 1500 --max-connections "$CAP"
wait_health "$ENGINE_PORT"

python3 - "$ENGINE_PORT" "$CAP" <<'PY' || fail "raw-socket checks failed"
import socket, sys, time
port, cap = int(sys.argv[1]), int(sys.argv[2])

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

# a head trickled one byte every 100 ms: 408 and close well before it ends
s = conn()
head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
t0 = time.time()
got = b""
s.settimeout(0.1)
for i in range(len(head)):
    try:
        s.send(head[i : i + 1])
    except OSError:
        break
    try:
        d = s.recv(4096)
        got += d
        if not d or b"\r\n\r\n" in got:
            break
    except socket.timeout:
        pass
took = time.time() - t0
assert got.startswith(b"HTTP/1.1 408 "), "slow head got %r after %.1fs" % (got[:40], took)
assert took < 10, "slow head held %.1fs" % took
s.close()

# the cap: CAP open connections, each answered; the next is closed at once
held = [conn() for _ in range(cap)]
time.sleep(0.3)
extra = conn()
extra.settimeout(3)
try:
    d = extra.recv(1)
except ConnectionResetError:
    d = b""
assert d == b"", "connection past the cap got %r" % d
for h in held:  # the open ones are still served
    h.settimeout(5)
    h.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    r = h.recv(4096)
    assert r.startswith(b"HTTP/1.1 200 "), "held connection got %r" % r[:40]
for h in held:
    h.close()
print("ok")
PY
log "slow head answered 408; past the cap closed at once, the open connections served"

sleep 0.3
m=$(curl -s --max-time 5 "http://127.0.0.1:$ENGINE_PORT/metrics")
v=$(awk '/^brix_engine_request_timeouts_total\{phase="header"\}/ {print $2}' <<<"$m")
[ "${v%.*}" -ge 1 ] 2>/dev/null || fail "header timeouts not counted: '$v'"
v=$(awk '/^brix_engine_connections_rejected_total/ {print $2}' <<<"$m")
[ "${v%.*}" -ge 1 ] 2>/dev/null || fail "connections past the cap not counted: '$v'"
log "counted in /metrics"
