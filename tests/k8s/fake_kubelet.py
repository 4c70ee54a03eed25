#!/usr/bin/env python3
"""A stand-in for the cluster side of Kubernetes in brix's tests: a test fixture, not a feature.

The fake API server (fake_apiserver.py) runs no controllers, like envtest. This process is a
plain API client that plays the parts of a cluster that brix's Kubernetes-mode tests need:

  - Deployment controller: each Deployment gets a ReplicaSet <deploy>-<template hash> (owned by
    it) and the ReplicaSet gets spec.replicas Pods <rs>-<5 chars> (owned by it); a template
    change makes a new ReplicaSet and scales the old ones to 0 (Recreate, not a rolling update);
    Deployment and ReplicaSet status (replicas, readyReplicas, availableReplicas,
    updatedReplicas, observedGeneration) follow the pods.
  - StatefulSet controller: each StatefulSet gets Pods <sts>-0..<replicas-1> owned by it
    directly, with the template's labels plus statefulset.kubernetes.io/pod-name and
    apps.kubernetes.io/pod-index; podManagementPolicy OrderedReady (the default) creates the
    next ordinal once the lower ones are Ready and removes the highest first, one at a time;
    Parallel does all at once; status (replicas, readyReplicas, availableReplicas,
    currentReplicas, updatedReplicas, observedGeneration) follows the pods. No revisions (a
    template change does not replace pods) and no volume claims.
  - scheduler + kubelet of one node: a pod without spec.nodeName is bound to --node; a bound pod
    whose container runs brix (its command or image names brix) becomes a local `brix engine`
    process on its own loopback address 127.0.0.N at the pod's port (label
    model.aibrix.ai/port, else the first containerPort, else 8000), with the container's args;
    its status gets podIP (Running, not Ready) when the process starts and, once GET /health
    answers 200 (the readinessProbe's httpGet.path when given), Ready=True; with a
    readinessProbe it is probed again every periodSeconds and leaves Ready after
    failureThreshold failures (back once it answers); with a livenessProbe (httpGet, after
    initialDelaySeconds, every periodSeconds) failureThreshold failures kill the process, which is
    restarted as below; an exited process is
    restarted (restartCount) and the pod is not Ready meanwhile; a pod being deleted has its
    process stopped (after its preStop sleep action, lifecycle.preStop.sleep.seconds, if any;
    then SIGTERM, SIGKILL after the grace period) and is then deleted with gracePeriodSeconds 0.
    Pods of other images are bound and marked Running/Ready at once.

It watches (list then watch, relist on 410) rather than polls, so the fake's request counters
show what brix itself does; its requests carry User-Agent fake-kubelet.

    python3 tests/k8s/fake_kubelet.py --server http://127.0.0.1:PORT --brix build/brix \
        --workdir /tmp/kubelet
"""

import argparse
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

UA = "fake-kubelet/1.0"


class Api:
    def __init__(self, server, token=None, ca=None):
        u = urllib.parse.urlsplit(server)
        self.tls = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.tls else 80)
        self.token = token
        self.ctx = ssl.create_default_context(cafile=ca) if self.tls else None

    def conn(self, timeout):
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def req(self, method, path, body=None, ctype="application/json", timeout=10):
        c = self.conn(timeout)
        h = {"User-Agent": UA, "Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = ctype
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
        except (OSError, http.client.HTTPException, ValueError) as e:
            return 0, {"message": str(e)}
        finally:
            c.close()

    def patch(self, path, body):
        return self.req("PATCH", path, body, "application/merge-patch+json")


class Informer(threading.Thread):
    """List + watch of one collection into a dict uid -> object; calls changed() after each
    change."""

    def __init__(self, api, path, changed):
        super().__init__(daemon=True)
        self.api, self.path, self.changed = api, path, changed
        self.objs, self.lock, self.synced = {}, threading.Lock(), threading.Event()
        self.stop = False

    def items(self):
        with self.lock:
            return list(self.objs.values())

    def run(self):
        rv = ""
        while not self.stop:
            if not rv:
                code, lst = self.api.req("GET", self.path)
                if code != 200:
                    time.sleep(0.5)
                    continue
                with self.lock:
                    self.objs = {o["metadata"]["uid"]: o for o in lst["items"]}
                rv = lst["metadata"]["resourceVersion"]
                self.synced.set()
                self.changed()
            c = self.api.conn(90)
            h = {"User-Agent": UA}
            if self.api.token:
                h["Authorization"] = "Bearer " + self.api.token
            try:
                c.request("GET", "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=60&"
                          "resourceVersion=%s" % (self.path, rv), headers=h)
                r = c.getresponse()
                if r.status != 200:
                    rv = ""
                    r.read()
                    time.sleep(0.5)
                    continue
                while not self.stop:
                    line = r.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    o = ev["object"]
                    if ev["type"] == "ERROR":
                        rv = ""
                        break
                    rv = o["metadata"]["resourceVersion"]
                    if ev["type"] == "BOOKMARK":
                        continue
                    with self.lock:
                        if ev["type"] == "DELETED":
                            self.objs.pop(o["metadata"]["uid"], None)
                        else:
                            self.objs[o["metadata"]["uid"]] = o
                    self.changed()
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.5)
            finally:
                c.close()


def owned_by(o, uid):
    return any(r.get("uid") == uid and r.get("controller")
               for r in o["metadata"].get("ownerReferences") or [])


def owner_ref(o, kind):
    # a list's items carry no kind/apiVersion: the caller names them
    return {"apiVersion": "apps/v1", "kind": kind, "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Kubelet:
    def __init__(self, opts):
        self.o = opts
        self.api = Api(opts.server, opts.token, opts.ca)
        self.kick = threading.Event()
        self.deps = Informer(self.api, "/apis/apps/v1/deployments", self.kick.set)
        self.rss = Informer(self.api, "/apis/apps/v1/replicasets", self.kick.set)
        self.stss = Informer(self.api, "/apis/apps/v1/statefulsets", self.kick.set)
        self.pods = Informer(self.api, "/api/v1/pods", self.kick.set)
        self.procs = {}  # pod uid -> {"proc", "ip", "port", "ready", "restarts", "log"}
        self.ips = {}  # pod uid -> last octet
        self.lock = threading.Lock()
        self.expect = {}  # rs uid -> {"add": {pod name: t}, "del": {pod name: t}}

    # --- Deployment and ReplicaSet controllers
    def sync_deployments(self):
        rss, pods = self.rss.items(), self.pods.items()
        for d in self.deps.items():
            md, spec = d["metadata"], d.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            tmpl = spec.get("template") or {}
            h = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]
            name = "%s-%s" % (md["name"], h)
            mine = [r for r in rss if owned_by(r, md["uid"])]
            cur = next((r for r in mine if r["metadata"]["name"] == name), None)
            want = spec.get("replicas", 1)
            base = "/apis/apps/v1/namespaces/%s/replicasets" % md["namespace"]
            if cur is None:
                sel = json.loads(json.dumps(spec.get("selector") or {}))
                sel.setdefault("matchLabels", {})["pod-template-hash"] = h
                t = json.loads(json.dumps(tmpl))
                t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
                labels = dict((t["metadata"].get("labels") or {}))
                self.api.req("POST", base, {
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": name, "namespace": md["namespace"], "labels": labels,
                                 "ownerReferences": [owner_ref(d, "Deployment")]},
                    "spec": {"replicas": want, "selector": sel, "template": t}})
            elif (cur.get("spec") or {}).get("replicas") != want:
                self.api.patch(base + "/" + name, {"spec": {"replicas": want}})
            for r in mine:
                if r["metadata"]["name"] != name and (r.get("spec") or {}).get("replicas"):
                    self.api.patch(base + "/" + r["metadata"]["name"], {"spec": {"replicas": 0}})
            all_pods = [p for r in mine for p in pods if owned_by(p, r["metadata"]["uid"])]
            live = [p for p in all_pods if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in live if self.is_ready(p)]
            upd = [p for p in live if cur and owned_by(p, cur["metadata"]["uid"])]
            st = {"observedGeneration": md.get("generation", 1), "replicas": len(live),
                  "updatedReplicas": len(upd), "readyReplicas": len(ready),
                  "availableReplicas": len(ready),
                  "unavailableReplicas": max(want - len(ready), 0)}
            old = d.get("status") or {}
            if any(old.get(k, 0) != v for k, v in st.items()):
                self.api.patch("/apis/apps/v1/namespaces/%s/deployments/%s/status" % (
                    md["namespace"], md["name"]), {"status": st})
        for r in rss:
            self.sync_rs(r, pods)

    def sync_rs(self, r, pods):
        md, spec = r["metadata"], r.get("spec") or {}
        if md.get("deletionTimestamp"):
            return
        mine = [p for p in pods if owned_by(p, md["uid"])]
        # expectations: creates and deletes not yet seen through the informer count as done
        exp = self.expect.setdefault(md["uid"], {"add": {}, "del": {}})
        names = {p["metadata"]["name"]: p for p in mine}
        now = time.time()
        for n, t in list(exp["add"].items()):
            if n in names or now - t > 5:
                del exp["add"][n]
        for n, t in list(exp["del"].items()):
            if n not in names or names[n]["metadata"].get("deletionTimestamp") or now - t > 5:
                del exp["del"][n]
        live = [p for p in mine if not p["metadata"].get("deletionTimestamp")
                and p["metadata"]["name"] not in exp["del"]]
        pending = len(exp["add"])
        want = spec.get("replicas", 1)
        base = "/api/v1/namespaces/%s/pods" % md["namespace"]
        t = spec.get("template") or {}
        for _ in range(want - len(live) - pending):
            pm = json.loads(json.dumps(t.get("metadata") or {}))
            pm.update(name="%s-%s" % (md["name"], "".join(
                random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))),
                namespace=md["namespace"], ownerReferences=[owner_ref(r, "ReplicaSet")])
            code, _ = self.api.req("POST", base, {"apiVersion": "v1", "kind": "Pod",
                                                  "metadata": pm, "spec": json.loads(
                                                      json.dumps(t.get("spec") or {}))})
            if code == 201:
                exp["add"][pm["name"]] = now
        if len(live) > want:
            # scale down: not ready first, then the newest
            order = sorted(live, key=lambda p: (p["metadata"].get("creationTimestamp", ""),
                                                p["metadata"]["name"]), reverse=True)
            order.sort(key=self.is_ready)  # stable: not ready first, then newest first
            victims = sorted(order[:len(live) - want], key=lambda p: p["metadata"]["name"])
            for p in victims:
                self.api.req("DELETE", base + "/" + p["metadata"]["name"])
                exp["del"][p["metadata"]["name"]] = now
        ready = sum(1 for p in live if self.is_ready(p))
        st = {"replicas": len(live), "readyReplicas": ready, "availableReplicas": ready,
              "fullyLabeledReplicas": len(live), "observedGeneration": md.get("generation", 1)}
        old = r.get("status") or {}
        if any(old.get(k, 0) != v for k, v in st.items()):
            self.api.patch("/apis/apps/v1/namespaces/%s/replicasets/%s/status" % (
                md["namespace"], md["name"]), {"status": st})

    # --- StatefulSet controller
    def sync_statefulsets(self):
        pods = self.pods.items()
        for ss in self.stss.items():
            md, spec = ss["metadata"], ss.get("spec") or {}
            if md.get("deletionTimestamp"):
                continue
            want = spec.get("replicas", 1)
            parallel = spec.get("podManagementPolicy") == "Parallel"
            base = "/api/v1/namespaces/%s/pods" % md["namespace"]
            mine = {p["metadata"]["name"]: p for p in pods if owned_by(p, md["uid"])}
            live = {n: p for n, p in mine.items() if not p["metadata"].get("deletionTimestamp")}
            t = spec.get("template") or {}
            for i in range(want):
                n = "%s-%d" % (md["name"], i)
                if n in mine:
                    if not parallel and not self.is_ready(mine[n]):
                        break
                    continue
                pm = json.loads(json.dumps(t.get("metadata") or {}))
                lb = pm.setdefault("labels", {})
                lb["statefulset.kubernetes.io/pod-name"] = n
                lb["apps.kubernetes.io/pod-index"] = str(i)
                pm.update(name=n, namespace=md["namespace"],
                          ownerReferences=[owner_ref(ss, "StatefulSet")])
                self.api.req("POST", base, {"apiVersion": "v1", "kind": "Pod", "metadata": pm,
                                            "spec": json.loads(json.dumps(t.get("spec") or {}))})
                if not parallel:
                    break
            extra = sorted((n for n in live if int(n.rsplit("-", 1)[1]) >= want),
                           key=lambda n: -int(n.rsplit("-", 1)[1]))
            if extra and (parallel or len(live) == len(mine)):
                for n in (extra if parallel else extra[:1]):
                    self.api.req("DELETE", base + "/" + n)
            ready = sum(1 for p in live.values() if self.is_ready(p))
            st = {"replicas": len(live), "readyReplicas": ready, "availableReplicas": ready,
                  "currentReplicas": len(live), "updatedReplicas": len(live),
                  "observedGeneration": md.get("generation", 1)}
            old = ss.get("status") or {}
            if any(old.get(k, 0) != v for k, v in st.items()):
                self.api.patch("/apis/apps/v1/namespaces/%s/statefulsets/%s/status" % (
                    md["namespace"], md["name"]), {"status": st})

    @staticmethod
    def is_ready(p):
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (p.get("status") or {}).get("conditions") or [])

    # --- scheduler and kubelet
    def pod_path(self, p, sub=""):
        return "/api/v1/namespaces/%s/pods/%s%s" % (p["metadata"]["namespace"],
                                                    p["metadata"]["name"], sub)

    def runs_brix(self, c):
        words = (c.get("command") or []) + [c.get("image", "")]
        return any("brix" in str(w) for w in words)

    def sync_pods(self):
        seen = set()
        for p in self.pods.items():
            md, spec = p["metadata"], p.get("spec") or {}
            uid = md["uid"]
            seen.add(uid)
            if not spec.get("nodeName"):
                if spec.get("schedulerName", "default-scheduler") == "default-scheduler":
                    self.api.patch(self.pod_path(p), {"spec": {"nodeName": self.o.node}})
                continue
            if spec["nodeName"] != self.o.node:
                continue
            if md.get("deletionTimestamp"):
                if self.pre_stop_done(p):
                    self.stop_pod(p)
                continue
            self.run_pod(p)
        for uid in [u for u in self.procs if u not in seen]:
            self.kill(uid)

    def ip_for(self, uid, port):
        """The pod's loopback address: the first IP-BASE.N, N >= --ip-first, that no other pod
        holds and where PORT is free (another test on this machine may use some)."""
        if uid not in self.ips:
            used = set(self.ips.values())
            for n in range(self.o.ip_first, 255):
                if n in used:
                    continue
                s = socket.socket()
                try:
                    s.bind(("%s.%d" % (self.o.ip_base, n), port))
                except OSError:
                    continue
                finally:
                    s.close()
                self.ips[uid] = n
                break
            else:
                raise RuntimeError("no free pod address")
        return "%s.%d" % (self.o.ip_base, self.ips[uid])

    def run_pod(self, p):
        md, spec = p["metadata"], p["spec"]
        uid = md["uid"]
        c = (spec.get("containers") or [{}])[0]
        port = int((md.get("labels") or {}).get("model.aibrix.ai/port") or next(
            (x.get("containerPort") for x in c.get("ports") or []), 8000))
        ip = self.ip_for(uid, port)
        st = self.procs.get(uid)
        if not self.runs_brix(c) or not self.o.brix:
            if not self.is_ready(p):
                self.set_status(p, ip, True, 0)
            return
        if st is None or st["proc"].poll() is not None:
            restarts = 0
            if st is not None:
                restarts = st["restarts"] + 1
                if self.is_ready(p) or st.get("reported") != "down":
                    self.set_status(p, ip, False, restarts)
                    st["reported"] = "down"
                if time.time() - st["started"] < 1.0:
                    return  # restart backoff
            args = [a for a in (c.get("command") or [])[1:] + (c.get("args") or [])]
            if args and args[0] == "engine":
                args = args[1:]
            args = self.strip_flags(args, ("--host", "--port"))
            os.makedirs(self.o.workdir, exist_ok=True)
            log = open(os.path.join(self.o.workdir, "%s_%s.log" % (md["namespace"], md["name"])),
                       "ab")
            env = dict(os.environ)
            for e in c.get("env") or []:
                if "value" in e:
                    env[e["name"]] = str(e["value"])
            proc = subprocess.Popen([self.o.brix, "engine", "--host", ip, "--port", str(port)] +
                                    args, stdout=log, stderr=subprocess.STDOUT, env=env)
            log.close()
            self.procs[uid] = {"proc": proc, "ip": ip, "port": port, "ready": False,
                               "restarts": restarts, "started": time.time(), "reported": ""}
            if not (p.get("status") or {}).get("podIP"):
                # as a kubelet does once the pod's sandbox is up: the address before Ready (a
                # Ray worker pod needs its head's address to join it, and the head is not
                # Ready until its workers joined)
                self.set_status(p, ip, False, restarts)
            return
        now = time.time()
        rp, lp = c.get("readinessProbe"), c.get("livenessProbe")
        if lp and self.probe_due(st, "live", lp, now):
            st["live_fail"] = 0 if self.probe(ip, st["port"], lp) else st.get("live_fail", 0) + 1
            if st["live_fail"] >= lp.get("failureThreshold", 3):
                st["proc"].kill()  # the next pass restarts it (restartCount)
                st["proc"].wait()
                return
        if not st["ready"]:
            if self.health(ip, st["port"], self.probe_path(rp)):
                st["ready"] = True
                st["ready_fail"] = 0
                self.set_status(p, ip, True, st["restarts"])
                st["reported"] = "up"
        elif rp and self.probe_due(st, "ready", rp, now):
            st["ready_fail"] = 0 if self.probe(ip, st["port"], rp) else st.get("ready_fail", 0) + 1
            if st["ready_fail"] >= rp.get("failureThreshold", 3):
                st["ready"] = False
                self.set_status(p, ip, False, st["restarts"])
                st["reported"] = "down"

    @staticmethod
    def probe_path(pr):
        return ((pr or {}).get("httpGet") or {}).get("path") or "/health"

    @staticmethod
    def probe_due(st, key, pr, now):
        """A probe's turn: after initialDelaySeconds from the process's start, every
        periodSeconds (Kubernetes' defaults 0 and 10)."""
        if now < st["started"] + pr.get("initialDelaySeconds", 0):
            return False
        if now - st.get(key + "_at", 0) < pr.get("periodSeconds", 10):
            return False
        st[key + "_at"] = now
        return True

    def probe(self, ip, port, pr):
        # timeoutSeconds, at most 0.3 s: engines on loopback answer in milliseconds, and the
        # probes of all pods run in this one loop
        return self.health(ip, port, self.probe_path(pr), min(pr.get("timeoutSeconds", 1), 0.3))

    @staticmethod
    def strip_flags(args, names):
        out, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a in names:
                skip = True
                continue
            if any(a.startswith(n + "=") for n in names):
                continue
            out.append(a)
        return out

    @staticmethod
    def health(ip, port, path="/health", timeout=0.5):
        try:
            c = http.client.HTTPConnection(ip, port, timeout=timeout)
            c.request("GET", path)
            ok = c.getresponse().status == 200
            c.close()
            return ok
        except OSError:
            return False

    def set_status(self, p, ip, ready, restarts):
        t = now_iso()
        cond = "True" if ready else "False"
        c = (p["spec"].get("containers") or [{"name": "c"}])[0]
        self.api.patch(self.pod_path(p, "/status"), {"status": {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.0.1",
            "startTime": (p.get("status") or {}).get("startTime") or t,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
                {"type": "Initialized", "status": "True", "lastTransitionTime": t},
                {"type": "ContainersReady", "status": cond, "lastTransitionTime": t},
                {"type": "Ready", "status": cond, "lastTransitionTime": t}],
            "containerStatuses": [{"name": c.get("name", "c"), "image": c.get("image", ""),
                                   "ready": ready, "restartCount": restarts,
                                   "started": True, "state": {"running": {"startedAt": t}}}]}})

    def pre_stop_done(self, p):
        """A pod being deleted whose container has lifecycle.preStop.sleep.seconds (Kubernetes'
        sleep action) keeps running that long before its SIGTERM, without holding up the other
        pods (the time counts from the first pass that saw the deletionTimestamp)."""
        st = self.procs.get(p["metadata"]["uid"])
        c = ((p.get("spec") or {}).get("containers") or [{}])[0]
        secs = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get(
            "seconds", 0)
        if st is None or st["proc"].poll() is not None or not secs:
            return True
        st.setdefault("pre_stop_until", time.time() + min(float(secs),
                      float(p["metadata"].get("deletionGracePeriodSeconds", 30))))
        return time.time() >= st["pre_stop_until"]

    def stop_pod(self, p):
        uid = p["metadata"]["uid"]
        st = self.procs.get(uid)
        if st is not None and st["proc"].poll() is None:
            st["proc"].terminate()
            grace = p["metadata"].get("deletionGracePeriodSeconds", 30)
            try:
                st["proc"].wait(timeout=min(grace, 10))
            except subprocess.TimeoutExpired:
                st["proc"].kill()
                st["proc"].wait()
        self.procs.pop(uid, None)
        self.ips.pop(uid, None)
        self.api.req("DELETE", self.pod_path(p), {"gracePeriodSeconds": 0})

    def kill(self, uid):
        st = self.procs.pop(uid, None)
        self.ips.pop(uid, None)
        if st is not None and st["proc"].poll() is None:
            st["proc"].kill()
            st["proc"].wait()

    def run(self):
        for inf in (self.deps, self.rss, self.stss, self.pods):
            inf.start()
        for inf in (self.deps, self.rss, self.stss, self.pods):
            inf.synced.wait(10)
        if self.o.ready_file:
            with open(self.o.ready_file, "w") as f:
                f.write("ready\n")
        while True:
            self.kick.wait(timeout=0.1)  # also polls process health and exits
            self.kick.clear()
            try:
                self.sync_deployments()
                self.sync_statefulsets()
                self.sync_pods()
            except Exception as e:  # pragma: no cover - keep going; a test sees the effect
                print("fake-kubelet: %r" % e, file=sys.stderr)

    def shutdown(self, *_):
        procs = [st["proc"] for st in self.procs.values() if st["proc"].poll() is None]
        for pr in procs:
            pr.terminate()
        for pr in procs:
            try:
                pr.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pr.kill()
        os._exit(0)


def main():
    ap = argparse.ArgumentParser(description="Deployment/ReplicaSet/StatefulSet controller, "
                                 "scheduler and "
                                 "kubelet stand-in for the fake Kubernetes API server (tests)")
    ap.add_argument("--server", required=True,
                    help="http(s)://127.0.0.1:PORT of the fake")
    ap.add_argument("--token", help="bearer token")
    ap.add_argument("--ca", help="CA file of an https server")
    ap.add_argument("--brix", help="brix binary for pods whose container runs brix")
    ap.add_argument("--node", default="fake-node", help="the node's name")
    ap.add_argument("--ip-base", default="127.0.0", help="pods get IP-BASE.N")
    ap.add_argument("--ip-first", type=int, default=2, help="first N of pod addresses")
    ap.add_argument("--workdir", default=".", help="where the engines' logs go")
    ap.add_argument("--ready-file", help="written once the informers have synced")
    opts = ap.parse_args()
    k = Kubelet(opts)
    signal.signal(signal.SIGTERM, k.shutdown)
    signal.signal(signal.SIGINT, k.shutdown)
    k.run()


if __name__ == "__main__":
    main()
