#!/usr/bin/env python3
"""Hostile and watchful clients for bench/reliability.sh (standard library only).

Each subcommand prints one line of key=value figures on stdout:

  slowheader HOST PORT N GAP_S SECS   N connections each sending a request head one
                                      byte every GAP_S seconds for SECS seconds;
                                      held=, closed=, got408=, refused=
  slowbody HOST PORT N DECLARED SEND HOLD_S
                                      N connections that announce DECLARED body bytes,
                                      send SEND of them at once and then hold HOLD_S
                                      seconds; sent_all=, got503=, got408=, other=, closed=
  flood HOST PORT N SECS              N connections opened (and re-opened when closed)
                                      that send nothing, for SECS seconds;
                                      opened=, closed_at_once=, held_at_end=
  streams HOST PORT N MODEL MAX_TOKENS MARK_FILE TIMEOUT_S
                                      N streaming completions; once MARK_FILE exists
                                      (it holds the time, in epoch seconds, the engine
                                      was stopped) the seconds from then until each
                                      stream ended; streams=, ended_with_error=,
                                      ended_clean=, still_open=, max_s=, median_s=
"""
import asyncio
import json
import os
import resource
import sys
import time


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def open_conn(host, port):
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, asyncio.TimeoutError):
        return None


async def slowheader(host, port, n, gap, secs):
    head = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4096
    stats = {"held": 0, "closed": 0, "got408": 0, "refused": 0}

    async def one():
        c = await open_conn(host, port)
        if not c:
            stats["refused"] += 1
            return
        r, w = c
        end = time.monotonic() + secs
        i = 0
        try:
            while time.monotonic() < end:
                w.write(head[i % len(head) : i % len(head) + 1])
                await w.drain()
                i += 1
                try:
                    data = await asyncio.wait_for(r.read(4096), gap)
                except asyncio.TimeoutError:
                    continue
                if b" 408 " in data[:16]:
                    stats["got408"] += 1
                stats["closed"] += 1
                return
            stats["held"] += 1
        except OSError:
            stats["closed"] += 1
        finally:
            w.close()

    await asyncio.gather(*(one() for _ in range(n)))
    return stats


async def slowbody(host, port, n, declared, send, hold):
    stats = {"sent_all": 0, "got503": 0, "got408": 0, "got413": 0, "other": 0, "closed": 0}
    chunk = b"x" * 65536

    async def one():
        c = await open_conn(host, port)
        if not c:
            stats["closed"] += 1
            return
        r, w = c
        reply = asyncio.ensure_future(r.read(4096))
        try:
            w.write(
                b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % declared
            )
            left = send
            while left > 0 and not reply.done():
                k = min(left, len(chunk))
                w.write(chunk[:k])
                await w.drain()
                left -= k
            if left <= 0:
                stats["sent_all"] += 1
            try:
                data = await asyncio.wait_for(asyncio.shield(reply), hold)
            except asyncio.TimeoutError:
                return
            code = data[9:12]
            key = {b"503": "got503", b"408": "got408", b"413": "got413"}.get(code)
            if key:
                stats[key] += 1
            elif data:
                stats["other"] += 1
            else:
                stats["closed"] += 1
        except OSError:
            stats["closed"] += 1
        finally:
            reply.cancel()
            w.close()

    await asyncio.gather(*(one() for _ in range(n)))
    return stats


async def flood(host, port, n, secs):
    stats = {"opened": 0, "closed_at_once": 0, "held_at_end": 0, "connect_failed": 0}
    end = time.monotonic() + secs

    async def one():
        while time.monotonic() < end:
            c = await open_conn(host, port)
            if not c:
                stats["connect_failed"] += 1
                await asyncio.sleep(0.05)
                continue
            stats["opened"] += 1
            r, w = c
            try:
                data = await asyncio.wait_for(r.read(1), max(0.01, end - time.monotonic()))
                if not data:
                    stats["closed_at_once"] += 1
                    await asyncio.sleep(0.05)
            except asyncio.TimeoutError:
                stats["held_at_end"] += 1
            except OSError:
                stats["closed_at_once"] += 1
                await asyncio.sleep(0.05)
            finally:
                w.close()

    await asyncio.gather(*(one() for _ in range(n)))
    return stats


async def streams(host, port, n, model, max_tokens, mark, timeout):
    body = json.dumps(
        {
            "model": model,
            "prompt": "tell me a long story",
            "max_tokens": max_tokens,
            "ignore_eos": True,
            "stream": True,
        }
    ).encode()
    ends = []  # (epoch end time, how)

    async def one():
        c = await open_conn(host, port)
        if not c:
            ends.append((time.time(), "refused"))
            return
        r, w = c
        w.write(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        seen = b""
        how = "open"
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    data = await asyncio.wait_for(r.read(65536), 0.5)
                except asyncio.TimeoutError:
                    continue
                if not data:
                    how = "closed"
                    break
                if not seen and not data.startswith(b"HTTP/1.1 200"):
                    how = "status_" + data[9:12].decode("ascii", "replace")
                    break
                seen = (seen + data)[-4096:]
                if b'"error"' in seen:
                    how = "error"
                    break
                if b"data: [DONE]" in seen:
                    how = "done"
                    break
        except OSError:
            how = "closed"
        finally:
            w.close()
        ends.append((time.time(), how))

    await asyncio.gather(*(one() for _ in range(n)))
    stopped = None
    try:
        with open(mark) as f:
            stopped = float(f.read().strip())
    except (OSError, ValueError):
        pass
    after = sorted(e - stopped for e, how in ends if stopped is not None and how != "open")
    out = {
        "streams": n,
        "ended_with_error": sum(1 for _, h in ends if h == "error"),
        "ended_clean": sum(1 for _, h in ends if h == "done"),
        "closed_without_error": sum(1 for _, h in ends if h == "closed"),
        "still_open": sum(1 for _, h in ends if h == "open"),
        "refused_with_status": ",".join(h for _, h in ends if h.startswith("status_")) or "none",
        "max_s": "%.1f" % max(after) if after else "n/a",
        "median_s": "%.1f" % after[len(after) // 2] if after else "n/a",
    }
    return out


def main():
    raise_nofile()
    cmd, args = sys.argv[1], sys.argv[2:]
    host, port = args[0], int(args[1])
    if cmd == "slowheader":
        res = slowheader(host, port, int(args[2]), float(args[3]), float(args[4]))
    elif cmd == "slowbody":
        res = slowbody(host, port, int(args[2]), int(args[3]), int(args[4]), float(args[5]))
    elif cmd == "flood":
        res = flood(host, port, int(args[2]), float(args[3]))
    elif cmd == "streams":
        res = streams(host, port, int(args[2]), args[3], int(args[4]), args[5], float(args[6]))
    else:
        sys.exit("unknown subcommand " + cmd)
    stats = asyncio.run(res)
    print(" ".join("%s=%s" % kv for kv in stats.items()))


if __name__ == "__main__":
    main()
