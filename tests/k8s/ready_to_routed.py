#!/usr/bin/env python3
"""Pod Ready -> first routed request, through `brix gateway --kubernetes` (a test helper).

Against the fake API server (tests/k8s/fake_apiserver.py) and its cluster stand-in
(fake_kubelet.py): for each of --rounds rounds, scale the Deployment up by one through its
/scale subresource, watch the pods for the new pod's Ready=True event (the same event stream
the gateway watches), and keep --senders threads sending small chat completions to the gateway;
the latency is the time from seeing that event to the first answer whose `target-pod-ip` header
is the new pod's address (an upper bound: it includes the answer's round trip). Then scale
back down and wait until the pod is gone. Prints one line per round and, at the end, a JSON
line {"rounds": N, "median_ms": .., "p99_ms": .., "max_ms": .., "samples_ms": [..]}.

    python3 tests/k8s/ready_to_routed.py --api http://127.0.0.1:PORT --gateway \
        http://127.0.0.1:GWPORT --deployment llama --model llama --rounds 5
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def api_req(api, method, path, body=None, ctype="application/json", timeout=10):
    u = urllib.parse.urlsplit(api)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    h = {"Accept": "application/json", "Authorization": "Bearer fake-token",
         "User-Agent": "ready-to-routed"}
    data = None
    if body is not None:
        data = json.dumps(body)
        h["Content-Type"] = ctype
    c.request(method, path, data, h)
    r = c.getresponse()
    out = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, out[:300]))
    return json.loads(out) if out else None


def is_ready(p):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


class PodWatch(threading.Thread):
    """Pods of the selector: name -> {ip, ready_at (monotonic, first Ready event), gone}."""

    def __init__(self, api, ns, selector):
        super().__init__(daemon=True)
        self.api, self.ns, self.sel = api, ns, selector
        self.pods, self.mu = {}, threading.Condition()
        lst = api_req(api, "GET", "/api/v1/namespaces/%s/pods?labelSelector=%s" % (
            ns, urllib.parse.quote(selector)))
        now = time.monotonic()
        for p in lst["items"]:
            self.note("ADDED", p, now)
        self.rv = lst["metadata"]["resourceVersion"]

    def note(self, typ, p, now):
        name = p["metadata"]["name"]
        with self.mu:
            st = self.pods.setdefault(name, {"ip": None, "ready_at": None, "gone": False})
            st["ip"] = (p.get("status") or {}).get("podIP") or st["ip"]
            if typ == "DELETED":
                st["gone"] = True
            elif is_ready(p) and not p["metadata"].get("deletionTimestamp") and \
                    st["ready_at"] is None:
                st["ready_at"] = now
            self.mu.notify_all()

    def run(self):
        u = urllib.parse.urlsplit(self.api)
        while True:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            c.request("GET", "/api/v1/namespaces/%s/pods?watch=1&resourceVersion=%s&"
                      "labelSelector=%s" % (self.ns, self.rv, urllib.parse.quote(self.sel)),
                      headers={"Authorization": "Bearer fake-token"})
            r = c.getresponse()
            for line in r:
                now = time.monotonic()
                ev = json.loads(line)
                if ev["type"] == "ERROR":
                    break
                self.rv = ev["object"]["metadata"].get("resourceVersion", self.rv)
                if ev["type"] != "BOOKMARK":
                    self.note(ev["type"], ev["object"], now)
            c.close()


class Senders:
    """Threads sending chat completions back to back; the first answer time per target."""

    def __init__(self, gateway, model, n):
        self.u = urllib.parse.urlsplit(gateway)
        self.model, self.first, self.mu = model, {}, threading.Lock()
        self.stop = False
        self.count = 0
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def loop(self):
        body = json.dumps({"model": self.model, "max_tokens": 1,
                           "messages": [{"role": "user", "content": "hi"}]})
        c = None
        while not self.stop:
            try:
                if c is None:
                    c = http.client.HTTPConnection(self.u.hostname, self.u.port, timeout=10)
                c.request("POST", "/v1/chat/completions", body,
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                now = time.monotonic()
                tp = r.getheader("target-pod-ip")
                with self.mu:
                    self.count += 1
                    if tp and tp not in self.first:
                        self.first[tp] = now
            except (OSError, http.client.HTTPException):
                c = None
                time.sleep(0.01)

    def reset(self, addr):
        with self.mu:
            self.first.pop(addr, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--api", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--deployment", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--port", type=int, default=8000, help="the pods' model.aibrix.ai/port")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=20, help="seconds per wait")
    o = ap.parse_args()

    dpath = "/apis/apps/v1/namespaces/%s/deployments/%s" % (o.namespace, o.deployment)
    dep = api_req(o.api, "GET", dpath)
    base = dep["spec"]["replicas"]
    sel = ",".join("%s=%s" % kv for kv in dep["spec"]["selector"]["matchLabels"].items())
    w = PodWatch(o.api, o.namespace, sel)
    w.start()
    s = Senders(o.gateway, o.model, o.senders)
    samples = []
    try:
        for i in range(o.rounds):
            with w.mu:
                before = {n for n, st in w.pods.items() if not st["gone"]}
            api_req(o.api, "PATCH", dpath + "/scale", {"spec": {"replicas": base + 1}},
                    "application/merge-patch+json")
            deadline = time.monotonic() + o.timeout
            new = None
            with w.mu:
                while time.monotonic() < deadline:
                    cand = [n for n, st in w.pods.items()
                            if n not in before and not st["gone"] and
                            st["ready_at"] is not None and st["ip"]]
                    if cand:
                        new = cand[0]
                        break
                    w.mu.wait(0.05)
            if new is None:
                print("round %d: no new Ready pod within %.0f s" % (i + 1, o.timeout))
                return 1
            addr = "%s:%d" % (w.pods[new]["ip"], o.port)
            ready_at = w.pods[new]["ready_at"]
            routed = None
            while time.monotonic() < deadline:
                with s.mu:
                    routed = s.first.get(addr)
                if routed is not None and routed >= ready_at - 1:
                    break
                routed = None
                time.sleep(0.002)
            if routed is None:
                print("round %d: pod %s (%s) Ready but got no request within %.0f s" % (
                    i + 1, new, addr, o.timeout))
                return 1
            ms = max(0.0, (routed - ready_at) * 1000)
            samples.append(ms)
            print("round %d: pod %s at %s: Ready -> first routed answer %.1f ms" % (
                i + 1, new, addr, ms), flush=True)
            api_req(o.api, "PATCH", dpath + "/scale", {"spec": {"replicas": base}},
                    "application/merge-patch+json")
            with w.mu:
                while time.monotonic() < deadline + o.timeout and \
                        len([n for n, st in w.pods.items() if not st["gone"]]) > base:
                    w.mu.wait(0.05)
            s.reset(addr)  # an address may come back with the next pod
    finally:
        s.stop = True
    samples_sorted = sorted(samples)
    n = len(samples_sorted)
    med = samples_sorted[n // 2] if n % 2 else (samples_sorted[n // 2 - 1] +
                                                samples_sorted[n // 2]) / 2
    p99 = samples_sorted[min(n - 1, int(0.99 * n))]
    print(json.dumps({"rounds": n, "median_ms": round(med, 1), "p99_ms": round(p99, 1),
                      "max_ms": round(samples_sorted[-1], 1), "requests": s.count,
                      "samples_ms": [round(x, 1) for x in samples]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
