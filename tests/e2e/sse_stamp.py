#!/usr/bin/env python3
"""A streaming client that timestamps what it reads (tests/e2e/test_gateway_migrate.sh).

    sse_stamp.py URL BODY_FILE OUT_FILE [TIMEOUT_S]
    sse_stamp.py summary OUT_FILE [SINCE_MS]
    sse_stamp.py summary-each FILE...

POSTs BODY_FILE (JSON) to URL and writes OUT_FILE as it goes:
    # status CODE
    # header NAME: VALUE        (each response header, names lowercased)
    MS<TAB>LINE                 (each line of the body, MS = wall-clock ms)
flushing every line, so a test can watch the stream while it runs.
Exit 0 when the body ended, 1 on a connection error or timeout.

`summary` prints one JSON object about a recorded OpenAI stream (OUT_FILE as
written above, or a raw SSE body as curl saves it: no times then): its chunk
ids, the content chunks (tokens) and their joined text, the usage chunks,
whether it ended with [DONE] or an error event, the longest and the median
gap between content chunks and, with SINCE_MS, the time from SINCE_MS to the first
content chunk after it and the longest gap between content chunks ending
in the 5 s after it. `summary-each` writes FILE.json, the summary of each
FILE, in one run.
"""
import http.client
import json
import sys
import time
import urllib.parse


def main():
    url, body_file, out_file = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    u = urllib.parse.urlsplit(url)
    with open(body_file, "rb") as f:
        body = f.read()
    with open(out_file, "w", encoding="utf-8") as out:
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
            conn.request("POST", u.path, body=body, headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            out.write("# status %d\n" % res.status)
            for k, v in res.getheaders():
                out.write("# header %s: %s\n" % (k.lower(), v))
            out.flush()
            while True:
                line = res.readline()
                if not line:
                    break
                ms = int(time.time() * 1000)
                out.write("%d\t%s\n" % (ms, line.decode("utf-8", "replace").rstrip("\r\n")))
                out.flush()
        except (OSError, http.client.HTTPException) as e:
            out.write("# error %s\n" % e)
            return 1
    return 0


def summary(out_file, since_ms, out=sys.stdout):
    ids, text, usage, errors = set(), [], [], []
    done, status, stamps, bad = False, 0, [], 0
    for raw in open(out_file, encoding="utf-8"):
        raw = raw.rstrip("\n")
        if raw.startswith("# status "):
            status = int(raw.split()[2])
            continue
        if raw.startswith("#"):
            continue
        ms, line = raw.split("\t", 1) if "\t" in raw else ("0", raw)
        if not line.startswith("data: "):
            continue
        data = line[6:]
        if data == "[DONE]":
            done = True
            continue
        try:
            o = json.loads(data)
        except ValueError:
            bad += 1
            continue
        if "error" in o:
            errors.append(o["error"])
            continue
        ids.add(o.get("id"))
        if o.get("usage"):
            usage.append(o["usage"])
        for c in o.get("choices", []):
            t = c.get("text") if "text" in c else (c.get("delta") or {}).get("content")
            if t:
                text.append(t)
                stamps.append(int(ms))
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    itl = sorted(gaps)[len(gaps) // 2] if gaps else 0
    after = [t for t in stamps if since_ms is not None and t >= since_ms]
    # the longest wait the client had for a token that came in the 5 s after SINCE_MS
    at = [b - a for a, b in zip(stamps, stamps[1:])
          if since_ms is not None and since_ms <= b <= since_ms + 5000]
    print(json.dumps({
        "status": status, "ids": sorted(i for i in ids if i is not None), "tokens": len(text),
        "text": "".join(text), "usage": usage, "done": done, "errors": errors, "bad": bad,
        "max_gap_ms": max(gaps) if gaps else 0, "itl_p50_ms": itl,
        "gap_after_ms": (after[0] - since_ms) if after else None,
        "gap_at_ms": max(at) if at else None,
        "tokens_before": len([t for t in stamps if since_ms is not None and t < since_ms]),
    }), file=out)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "summary-each":
        for f in sys.argv[2:]:
            with open(f + ".json", "w", encoding="utf-8") as o:
                summary(f, None, o)
        sys.exit(0)
    if len(sys.argv) > 2 and sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None))
    sys.exit(main())
