#!/usr/bin/env python3
"""Creates many Pod objects in the fake API server (a benchmark helper, not a feature).

The pods are shaped like a vLLM Deployment's (a container with command, args, env, resources,
probes, volume mounts), labelled model.aibrix.ai/name=<prefix>-<i % models>, with
schedulerName "none" so the cluster stand-in (fake_kubelet.py) leaves them alone. With
--ready-ip-base A.B each pod also gets, through its /status subresource, phase Running, a Ready
condition and podIP A.B.<i / 250>.<i % 250 + 1>: a Ready pod whose address nothing answers
(the gateway marks it down; the controller's adapters never select it). No ownerReferences:
the fake's garbage collector would delete pods of a missing owner.

Prints one JSON line: {"created": N, "pod_bytes": <one stored pod's JSON>, "seconds": S}.

    python3 tests/k8s/bulk_pods.py --api http://127.0.0.1:PORT --count 900 --start 0 \
        --prefix bare --models 40 [--ready-ip-base 127.2] [--namespace default]
"""

import argparse
import http.client
import json
import sys
import time
import urllib.parse


def pod(name, ns, model):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns,
            "labels": {"model.aibrix.ai/name": model, "model.aibrix.ai/port": "8000",
                       "adapter.model.aibrix.ai/enabled": "true",
                       "pod-template-hash": "7d9f8c6b5", "app.kubernetes.io/name": model},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8000",
                            "kubectl.kubernetes.io/restartedAt": "2026-12-01T00:00:00Z"}},
        "spec": {
            "schedulerName": "none",
            "containers": [{
                "name": "vllm-openai", "image": "vllm/vllm-openai:v0.11.0",
                "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
                "args": ["--host", "0.0.0.0", "--port", "8000", "--model", "/models/" + model,
                         "--served-model-name", model, "--enable-lora", "--max-loras", "4"],
                "env": [{"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"},
                        {"name": "HF_HOME", "value": "/models/.cache"}],
                "ports": [{"containerPort": 8000, "protocol": "TCP", "name": "http"}],
                "resources": {"limits": {"nvidia.com/gpu": "1", "memory": "64Gi"},
                              "requests": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "64Gi"}},
                "readinessProbe": {"httpGet": {"path": "/health", "port": 8000},
                                   "periodSeconds": 5, "failureThreshold": 3},
                "volumeMounts": [{"name": "models", "mountPath": "/models"},
                                 {"name": "dshm", "mountPath": "/dev/shm"}]}],
            "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}},
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}]},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--api", required=True)
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0, help="index of the first pod")
    ap.add_argument("--prefix", default="bare")
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--ready-ip-base", help="A.B: make each pod Ready at A.B.x.y")
    o = ap.parse_args()
    u = urllib.parse.urlsplit(o.api)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = {"Content-Type": "application/json", "Authorization": "Bearer fake-token",
         "User-Agent": "bulk-pods"}
    coll = "/api/v1/namespaces/%s/pods" % o.namespace

    def call(method, path, body, ctype="application/json"):
        c.request(method, path, json.dumps(body), dict(h, **{"Content-Type": ctype}))
        r = c.getresponse()
        out = r.read()
        if r.status >= 300:
            sys.exit("bulk_pods: %s %s: %d %s" % (method, path, r.status, out[:200]))
        return out

    t0 = time.monotonic()
    size = 0
    for i in range(o.start, o.start + o.count):
        model = "%s-%d" % (o.prefix, i % o.models)
        name = "%s-7d9f8c6b5-%05d" % (model, i)
        out = call("POST", coll, pod(name, o.namespace, model))
        if o.ready_ip_base:
            ip = "%s.%d.%d" % (o.ready_ip_base, i // 250, i % 250 + 1)
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            st = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                             "conditions": [{"type": "Ready", "status": "True",
                                             "lastTransitionTime": now}]}}
            out = call("PATCH", "%s/%s/status" % (coll, name), st,
                       "application/merge-patch+json")
        if not size:
            size = len(out)
    print(json.dumps({"created": o.count, "pod_bytes": size,
                      "seconds": round(time.monotonic() - t0, 2)}))


if __name__ == "__main__":
    main()
