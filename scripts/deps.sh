#!/usr/bin/env bash
# Installs everything brix needs to build and test on Debian 12: compilers,
# the Debian -dev libraries, tzdata (PodAutoscaler schedules' time zones),
# test tools (cmocka, promtool, redis-server, jq, benchmark peers wrk, nginx
# and hyperfine, valgrind and strace for counted benchmarks, node) and the e2e
# tests' npm packages. Idempotent, silent when all is present,
# non-interactive (works as root with CI=true and no stdin).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PKGS=(
    build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
    libuv1-dev libhttp-parser-dev libjansson-dev libyaml-dev libcurl4-openssl-dev
    libhiredis-dev libsqlite3-dev libxxhash-dev libcmocka-dev libzmq3-dev
    libmsgpack-dev libcbor-dev libssl-dev libglpk-dev
    tzdata
    curl jq python3 python3-yaml prometheus redis-server
    wrk nginx hyperfine gnuplot-nox valgrind strace
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${PKGS[@]}"; do
    installed "$p" || missing+=("$p")
done
# Node may come from Debian (nodejs + npm) or from NodeSource (nodejs alone,
# which bundles npm and conflicts with Debian's npm): ask only for what is absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Packages such as redis-server and prometheus start a daemon from their
    # postinst; a policy-rc.d that says "no" keeps them from doing so.
    policy=/usr/sbin/policy-rc.d
    added_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
        added_policy=1
    fi
    rc=0
    {
        "${SUDO[@]}" apt-get update -qq &&
            "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
                -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                "${missing[@]}"
    } </dev/null >/tmp/brix-deps-apt.log 2>&1 || rc=$?
    [ "$added_policy" -eq 0 ] || "${SUDO[@]}" rm -f "$policy"
    if [ "$rc" -ne 0 ]; then
        tail -n 40 /tmp/brix-deps-apt.log >&2
        echo "deps: apt-get failed (exit $rc), full log in /tmp/brix-deps-apt.log" >&2
        exit "$rc"
    fi
fi

for tool in cmake clang promtool jq node npm curl; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "deps: '$tool' still missing after install" >&2
        exit 1
    }
done

# npm packages of the e2e tests (the official openai client, @kubernetes/client-node),
# pinned in tests/e2e/package-lock.json. Reinstall only when the installed tree is older
# than the lock file or lacks a pinned package at its pinned version.
E2E="$ROOT/tests/e2e"
stamp="$E2E/node_modules/.package-lock.json"
pinned=$(node -e '
const path = require("path"), dir = process.argv[1];
let ok = "yes";
for (const [n, v] of Object.entries(require(path.join(dir, "package.json")).dependencies)) {
    try { if (require(path.join(dir, "node_modules", n, "package.json")).version !== v) ok = "no"; }
    catch (e) { ok = "no"; }
}
console.log(ok);' "$E2E" 2>/dev/null || echo no)
if [ ! -f "$stamp" ] || [ "$E2E/package-lock.json" -nt "$stamp" ] || [ "$pinned" != yes ]; then
    echo "deps: npm ci in tests/e2e"
    (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error </dev/null >/tmp/brix-deps-npm.log 2>&1) || {
        cat /tmp/brix-deps-npm.log >&2
        echo "deps: npm ci failed" >&2
        exit 1
    }
fi
