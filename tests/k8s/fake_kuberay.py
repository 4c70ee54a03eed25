#!/usr/bin/env python3
"""A fake KubeRay operator for brix's tests: a test fixture, not a feature, and not KubeRay.

brix's RayClusterFleet and RayClusterReplicaSet controllers create ray.io/v1 RayClusters for
KubeRay to run. No KubeRay can run on the machines brix is tested on, so this plain API client
of the fake API server (fake_apiserver.py) plays the part of the operator that brix depends on,
and the fake kubelet (fake_kubelet.py) runs the pods it creates as local `brix engine` processes:

  - for each RayCluster (not being deleted, not suspended): one head Pod (generateName
    <cluster>-head-) and, per workerGroupSpecs[i], replicas x numOfHosts worker Pods
    (<cluster>-<group>-worker-), replicas clamped to [minReplicas, maxReplicas]; each carries
    the template's labels and annotations plus KubeRay's labels (ray.io/cluster,
    ray.io/node-type head|worker, ray.io/group headgroup|<groupName>, ray.io/is-ray-node=yes,
    ray.io/identifier <cluster>-head|<cluster>-worker, app.kubernetes.io/created-by=
    kuberay-operator; the template cannot override the first three) and a controller
    ownerReference to the RayCluster (the fake API server's garbage collector deletes the pods
    with it);
  - brix's engine group contract instead of Ray's: the head's containers[0] gets env
    BRIX_GROUP_SIZE = 1 + the desired workers; each worker gets BRIX_GROUP_LEADER =
    http://<head podIP>:<head port> and BRIX_GROUP_RANK (1..N-1, annotation brix.ai/group-rank
    on the pod). Workers are created once the head pod has its podIP (the fake kubelet
    publishes it when it starts the process; real Ray workers find the head through its
    Service name instead), and a worker whose leader is no longer the head's address (the head
    pod was replaced) is deleted and created again;
  - a deleted pod (head or worker) is created again, as KubeRay does; surplus workers (a
    smaller replicas) are deleted, highest rank first;
  - the RayCluster's status in KubeRay's shape, written through /status when it changes:
    desiredWorkerReplicas, readyWorkerReplicas, availableWorkerReplicas, min/maxWorkerReplicas,
    head {podIP, podName}, observedGeneration, state "ready" while every pod is Ready (absent
    otherwise), conditions HeadPodReady (reasons HeadPodRunningAndReady / HeadPodNotFound /
    HeadPodNotReady) and RayClusterProvisioned (False, RayClusterPodsProvisioning, until every
    pod was Ready once; then True, AllPodRunningAndReadyFirstTime, for good), each with
    lastTransitionTime changed only when its status does.

Not done: autoscaling (enableInTreeAutoscaling, scaleStrategy.workersToDelete), suspend (a
suspended cluster is left alone), the head Service, GCS fault tolerance, resource counts.

It watches (list then watch, relist on 410) with the fake kubelet's informer; its requests carry
User-Agent fake-kuberay.

    python3 tests/k8s/fake_kuberay.py --server http://127.0.0.1:PORT [--ready-file F]
"""

import argparse
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ left in tests/k8s by the import below
import fake_kubelet  # noqa: E402  (the same directory: its API client and informer)
from fake_kubelet import Api, Informer, now_iso  # noqa: E402

fake_kubelet.UA = "fake-kuberay/1.0"

RC_PATH = "/apis/ray.io/v1/rayclusters"
RANK_ANN = "brix.ai/group-rank"
LEADER_ENV = "BRIX_GROUP_LEADER"
INT32_MAX = 2147483647


def workers_of(spec):
    """[(groupName, template, count)] of a RayClusterSpec: replicas (clamped) x numOfHosts."""
    out = []
    for g in spec.get("workerGroupSpecs") or []:
        lo = g.get("minReplicas", 0) or 0
        hi = g.get("maxReplicas", INT32_MAX)
        hi = INT32_MAX if hi is None else hi
        r = max(lo, min(g.get("replicas", 0) or 0, hi))
        out.append((g.get("groupName", ""), g.get("template") or {},
                    r * (g.get("numOfHosts", 1) or 1)))
    return out


def pod_port(pod_md, c):
    """The port the fake kubelet gives a pod: label model.aibrix.ai/port, else the first
    containerPort, else 8000."""
    return int((pod_md.get("labels") or {}).get("model.aibrix.ai/port") or next(
        (x.get("containerPort") for x in c.get("ports") or []), 8000))


def is_ready(p):
    return fake_kubelet.Kubelet.is_ready(p)


def env_of(p, name):
    c = ((p.get("spec") or {}).get("containers") or [{}])[0]
    return next((e.get("value") for e in c.get("env") or [] if e.get("name") == name), None)


def cond(conds, typ, status, reason, message, t):
    """A condition, keeping lastTransitionTime while its status holds."""
    old = next((c for c in conds if c.get("type") == typ), None)
    ltt = old["lastTransitionTime"] if old and old.get("status") == status and \
        old.get("lastTransitionTime") else t
    return {"type": typ, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": ltt}


class KubeRay:
    def __init__(self, opts):
        self.o = opts
        self.api = Api(opts.server, opts.token, opts.ca)
        self.kick = threading.Event()
        self.rcs = Informer(self.api, RC_PATH, self.kick.set)
        self.pods = Informer(self.api, "/api/v1/pods", self.kick.set)
        self.expect = {}  # (cluster uid, rank) -> time of the create not yet seen
        self.deleted = {}  # pod uid -> time of our delete

    def owner_ref(self, rc):
        return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": rc["metadata"]["name"],
                "uid": rc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def pod_body(self, rc, tmpl, node_type, group, rank, env):
        md = rc["metadata"]
        name = md["name"]
        t = tmpl or {}
        pm = dict(t.get("metadata") or {})
        labels = dict(pm.get("labels") or {})
        labels.update({"ray.io/cluster": name, "ray.io/node-type": node_type,
                       "ray.io/group": group, "ray.io/is-ray-node": "yes",
                       "ray.io/identifier": "%s-%s" % (name, node_type),
                       "app.kubernetes.io/created-by": "kuberay-operator"})
        ann = dict(pm.get("annotations") or {})
        ann[RANK_ANN] = str(rank)
        prefix = "%s-head-" % name if node_type == "head" else "%s-%s-worker-" % (name, group)
        spec = dict(t.get("spec") or {})
        conts = [dict(c) for c in spec.get("containers") or [{"name": "ray"}]]
        c0 = conts[0]
        c0["env"] = [e for e in c0.get("env") or [] if e.get("name") not in env] + \
            [{"name": k, "value": v} for k, v in env.items()]
        spec["containers"] = conts
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": prefix, "namespace": md["namespace"],
                             "labels": labels, "annotations": ann,
                             "ownerReferences": [self.owner_ref(rc)]},
                "spec": spec}

    def create(self, rc, body, rank, now):
        code, _ = self.api.req("POST", "/api/v1/namespaces/%s/pods" % rc["metadata"]["namespace"],
                               body)
        if code == 201:
            self.expect[(rc["metadata"]["uid"], rank)] = now
        elif code:
            print("fake-kuberay: create %s: %d" % (body["metadata"]["generateName"], code),
                  file=sys.stderr)

    def delete(self, p, now):
        self.deleted[p["metadata"]["uid"]] = now
        self.api.req("DELETE", "/api/v1/namespaces/%s/pods/%s" % (
            p["metadata"]["namespace"], p["metadata"]["name"]))

    def sync(self):
        pods = self.pods.items()
        now = time.time()
        for k, t in list(self.expect.items()):
            if now - t > 5:
                del self.expect[k]
        for k, t in list(self.deleted.items()):
            if now - t > 30:
                del self.deleted[k]
        for rc in self.rcs.items():
            md = rc["metadata"]
            if md.get("deletionTimestamp"):
                continue  # the garbage collector takes the pods
            mine = [p for p in pods if fake_kubelet.owned_by(p, md["uid"])]
            self.sync_one(rc, mine, now)

    def sync_one(self, rc, mine, now):
        md, spec = rc["metadata"], rc.get("spec") or {}
        uid = md["uid"]
        live = [p for p in mine if not p["metadata"].get("deletionTimestamp")
                and p["metadata"]["uid"] not in self.deleted]
        by_rank = {}
        for p in live:
            r = int((p["metadata"].get("annotations") or {}).get(RANK_ANN, "-1"))
            by_rank.setdefault(r, []).append(p)
        for r, ps in by_rank.items():
            if (uid, r) in self.expect:
                del self.expect[(uid, r)]
        groups = workers_of(spec)
        desired = sum(n for _, _, n in groups)
        if spec.get("suspend"):
            return
        head_t = (spec.get("headGroupSpec") or {}).get("template") or {}
        heads = by_rank.get(0, [])
        if not heads and (uid, 0) not in self.expect:
            self.create(rc, self.pod_body(rc, head_t, "head", "headgroup", 0,
                                          {"BRIX_GROUP_SIZE": str(1 + desired)}), 0, now)
        head = heads[0] if heads else None
        hip = ((head or {}).get("status") or {}).get("podIP")
        leader = None
        if hip:
            c = ((head.get("spec") or {}).get("containers") or [{}])[0]
            leader = "http://%s:%d" % (hip, pod_port(head["metadata"], c))
        # workers: ranks 1..desired, in the order of workerGroupSpecs
        rank = 0
        wanted = set()
        for gname, tmpl, n in groups:
            for _ in range(n):
                rank += 1
                wanted.add(rank)
                ps = by_rank.get(rank, [])
                stale = [p for p in ps if leader and env_of(p, LEADER_ENV) != leader]
                for p in stale:
                    self.delete(p, now)
                if ps and len(stale) < len(ps):
                    continue
                if leader and (uid, rank) not in self.expect:
                    self.create(rc, self.pod_body(rc, tmpl, "worker", gname, rank,
                                                  {LEADER_ENV: leader,
                                                   "BRIX_GROUP_RANK": str(rank)}), rank, now)
        for r in sorted((r for r in by_rank if r > 0 and r not in wanted), reverse=True):
            for p in by_rank[r]:
                self.delete(p, now)
        self.write_status(rc, head, [p for r, ps in by_rank.items() if r in wanted for p in ps],
                          desired, groups)

    def write_status(self, rc, head, workers, desired, groups):
        md, old = rc["metadata"], rc.get("status") or {}
        t = now_iso()
        conds = old.get("conditions") or []
        head_ready = head is not None and is_ready(head)
        ready_w = sum(1 for p in workers if is_ready(p))
        all_ready = head_ready and ready_w == desired
        was = any(c.get("type") == "RayClusterProvisioned" and c.get("status") == "True"
                  for c in conds)
        if head is None:
            hc = cond(conds, "HeadPodReady", "False", "HeadPodNotFound", "no head pod", t)
        elif head_ready:
            hc = cond(conds, "HeadPodReady", "True", "HeadPodRunningAndReady",
                      "the head pod is running and ready", t)
        else:
            hc = cond(conds, "HeadPodReady", "False", "HeadPodNotReady",
                      "the head pod is not ready", t)
        if was or all_ready:
            pc = cond(conds, "RayClusterProvisioned", "True", "AllPodRunningAndReadyFirstTime",
                      "all Ray pods were running and ready once", t)
        else:
            pc = cond(conds, "RayClusterProvisioned", "False", "RayClusterPodsProvisioning",
                      "RayCluster pods are being provisioned for the first time", t)
        mins = sum(max(0, (g.get("minReplicas", 0) or 0)) * (g.get("numOfHosts", 1) or 1)
                   for g in (rc.get("spec") or {}).get("workerGroupSpecs") or [])
        maxs = 0
        for g in (rc.get("spec") or {}).get("workerGroupSpecs") or []:
            hi = g.get("maxReplicas", INT32_MAX)
            maxs = min(INT32_MAX, maxs + (INT32_MAX if hi is None else hi) *
                       (g.get("numOfHosts", 1) or 1))
        st = {"desiredWorkerReplicas": desired, "readyWorkerReplicas": ready_w,
              "availableWorkerReplicas": ready_w, "minWorkerReplicas": mins,
              "maxWorkerReplicas": maxs, "observedGeneration": md.get("generation", 1),
              "conditions": [pc, hc]}
        if head is not None:
            h = {"podName": head["metadata"]["name"]}
            if (head.get("status") or {}).get("podIP"):
                h["podIP"] = head["status"]["podIP"]
            st["head"] = h
        if all_ready:
            st["state"] = "ready"
        if st == old:
            return
        code, _ = self.api.req("PUT", "/apis/ray.io/v1/namespaces/%s/rayclusters/%s/status" % (
            md["namespace"], md["name"]), {
                "apiVersion": "ray.io/v1", "kind": "RayCluster",
                "metadata": {"name": md["name"], "namespace": md["namespace"],
                             "resourceVersion": md["resourceVersion"]},
                "status": st})
        # 409: a newer RayCluster comes through the watch; 404: it was deleted (its DELETED
        # event is on its way)
        if code not in (200, 404, 409):
            print("fake-kuberay: status of %s: %d" % (md["name"], code), file=sys.stderr)

    def run(self):
        for inf in (self.rcs, self.pods):
            inf.start()
        for inf in (self.rcs, self.pods):
            inf.synced.wait(10)
        if self.o.ready_file:
            with open(self.o.ready_file, "w") as f:
                f.write("ready\n")
        while True:
            self.kick.wait(timeout=0.5)
            self.kick.clear()
            try:
                self.sync()
            except Exception as e:  # pragma: no cover - keep going; a test sees the effect
                print("fake-kuberay: %r" % e, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description="A fake KubeRay operator for the fake Kubernetes "
                                 "API server (tests): RayClusters -> head and worker pods")
    ap.add_argument("--server", required=True, help="http(s)://127.0.0.1:PORT of the fake")
    ap.add_argument("--token", help="bearer token")
    ap.add_argument("--ca", help="CA file of an https server")
    ap.add_argument("--ready-file", help="written once the informers have synced")
    opts = ap.parse_args()
    k = KubeRay(opts)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    k.run()


if __name__ == "__main__":
    main()
