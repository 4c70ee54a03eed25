#!/usr/bin/env python3
"""A fake Kubernetes API server: a test fixture of brix, never a brix feature.

No kube-apiserver can run on the machines brix is tested on, so the tests of Kubernetes mode
(the C client, the controllers, the gateway's discovery, kubectl and client-node oracles) talk
to this emulator instead. It keeps every object in memory and follows the rules of the API that
controllers depend on and that simpler fakes get wrong (see docs/kubernetes-fake.md):

  - one global resourceVersion counter; an item's RV is its last write, a list's RV the current one;
  - a ring of events for watch resume, ERROR 410 Expired once the asked RV is compacted away;
  - synthetic ADDED for a watch from RV unset/"0", selector transitions as ADDED/DELETED,
    DELETED stamped with the deletion RV, bookmarks, WatchList's initial-events-end bookmark,
    a clean chunked end at timeoutSeconds;
  - 409 Conflict on a stale PUT, 422 for a custom resource PUT without an RV, 409 AlreadyExists,
    no-op writes keep the RV and emit nothing;
  - generation bumped on spec changes only, status subresource separation, /scale;
  - finalizers, deletionTimestamp, delete preconditions, ownerReference garbage collection
    (Background, Foreground, Orphan), namespace termination;
  - merge, JSON (with test) and apply patches (a simple server-side apply with field managers and
    conflicts), strategic merge on built-ins (merge keys of the common lists), 415 on CRs;
  - label and field selectors, paging with continue tokens (410 once expired), legacy discovery,
    Table output with CRD printer columns, Status error bodies in Kubernetes' shape;
  - fault hooks driven over /fake/* (forced 409/429/500, dropped and half-open watches,
    compaction, a clock offset).

It runs no controllers (no Deployment/ReplicaSet controller, no scheduler, no kubelet), like
envtest, except the garbage collector and the namespace finalizer.

Python 3 standard library only (PyYAML is used when installed, for YAML request bodies).

    python3 tests/k8s/fake_apiserver.py --port 0 --port-file /tmp/port
"""

import argparse
import base64
import collections
import copy
import datetime
import json
import os
import queue
import random
import re
import select
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import yaml  # Debian python3-yaml; optional
except ImportError:  # pragma: no cover
    yaml = None

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4-fake", "gitCommit": "fake",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23",
           "compiler": "gc", "platform": "linux/amd64"}

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ApiError(Exception):
    """An error answered as a Kubernetes Status body."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason}
    if details is not None:
        s["details"] = details
    s["code"] = code
    return s


# ---------------------------------------------------------------- resources

class Resource:
    """One served resource (a built-in or a CRD's plural) in one group/version."""

    def __init__(self, group, version, plural, kind, namespaced, status=False, scale=None,
                 short=None, generation=False, custom=False, columns=None, singular=None,
                 categories=None):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.status, self.scale = namespaced, status, scale
        self.short, self.generation, self.custom = short or [], generation, custom
        self.columns, self.categories = columns, categories or []
        self.singular = singular or kind.lower()

    @property
    def key(self):  # storage key: all versions of a group/plural share objects
        return (self.group, self.plural)

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    @property
    def gr(self):  # "deployments.apps", "pods"
        return self.plural + "." + self.group if self.group else self.plural


DEPLOY_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": None}

BUILTINS = [
    Resource("", "v1", "namespaces", "Namespace", False, status=True, short=["ns"]),
    Resource("", "v1", "pods", "Pod", True, status=True, short=["po"]),
    Resource("", "v1", "services", "Service", True, status=True, short=["svc"]),
    Resource("", "v1", "endpoints", "Endpoints", True, short=["ep"], singular="endpoints"),
    Resource("", "v1", "events", "Event", True, short=["ev"]),
    Resource("", "v1", "configmaps", "ConfigMap", True, short=["cm"]),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, short=["sa"]),
    Resource("", "v1", "nodes", "Node", False, status=True, short=["no"]),
    Resource("apps", "v1", "deployments", "Deployment", True, status=True, scale=DEPLOY_SCALE,
             short=["deploy"], generation=True),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, status=True, scale=DEPLOY_SCALE,
             short=["rs"], generation=True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
             status=True, short=["hpa"], generation=True),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
             False, status=True, short=["crd", "crds"], generation=True),
    # stored only, so that manifests holding them apply
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, status=True,
             short=["pvc"]),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, status=True,
             scale=dict(DEPLOY_SCALE), short=["sts"], generation=True),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, status=True, short=["ds"],
             generation=True),
    Resource("batch", "v1", "jobs", "Job", True, status=True, generation=True),
    Resource("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
             status=True, short=["hpa"], generation=True),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, status=True,
             short=["pdb"], generation=True),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True,
             short=["netpol"], generation=True),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True, status=True,
             short=["ing"], generation=True),
    Resource("events.k8s.io", "v1", "events", "Event", True, short=["ev"]),
    Resource("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
             "ValidatingWebhookConfiguration", False, generation=True),
    Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
             "MutatingWebhookConfiguration", False, generation=True),
    Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short=["pc"]),
]

# strategic-merge keys of the lists brix and kubectl touch (built-ins only)
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "conditions": "type", "ownerReferences": "uid",
              "imagePullSecrets": "name", "ports": None, "addresses": None}
SMP_UNION = {"finalizers"}


# ---------------------------------------------------------------- helpers

def now_iso(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    try:
        return datetime.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def human_duration(sec):
    """kube's duration.HumanDuration, as in the AGE column."""
    s = int(sec)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd%dh" % (h // 24, h % 24) if h % 24 else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        return "%dy%dd" % (h // 24 // 365, (h // 24) % 365)
    return "%dy" % (h // 24 // 365)


NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
LABEL_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
LABEL_VAL = r"[-A-Za-z0-9_.]*"


def split_top(s):
    """Splits a selector on commas outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def parse_label_selector(s):
    """String form: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k. Returns a list of
    (key, op, values); raises ApiError 400 on bad input."""
    reqs = []
    for p in split_top(s or ""):
        m = re.fullmatch(r"(%s)\s+(in|notin)\s*\(([^)]*)\)" % LABEL_KEY, p)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            if not vals:
                raise ApiError(400, "BadRequest",
                               "unable to parse requirement: values: Invalid value: []: "
                               "for 'in', 'notin' operators, values set can't be empty")
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.fullmatch(r"!\s*(%s)" % LABEL_KEY, p)
        if m:
            reqs.append((m.group(1), "!", None))
            continue
        m = re.fullmatch(r"(%s)\s*(==|!=|=)\s*(%s)" % (LABEL_KEY, LABEL_VAL), p)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append((m.group(1), op, {m.group(3)}))
            continue
        m = re.fullmatch(LABEL_KEY, p)
        if m:
            reqs.append((p, "exists", None))
            continue
        raise ApiError(400, "BadRequest",
                       "unable to parse requirement: found '%s', expected a label selector" % p)
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and not (has and v in vals):
            return False
        if op == "!=" and has and v in vals:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


FIELD_PATHS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
               "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
               "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "secrets": {"type"},
}


def parse_field_selector(s, res):
    reqs = []
    for p in split_top(s or ""):
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)", p)
        if not m:
            raise ApiError(400, "BadRequest", "invalid selector: '%s'; can't understand '%s'" % (s, p))
        path = m.group(1)
        allowed = {"metadata.name", "metadata.namespace"} | FIELD_PATHS.get(res.plural, set())
        if path not in allowed:
            raise ApiError(400, "BadRequest",
                           'field label not supported: %s' % path)
        reqs.append((path, "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return reqs


def get_path(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def fields_match(reqs, obj):
    for path, op, val in reqs:
        v = get_path(obj, path)
        v = "" if v is None else str(v)
        if (v == val) != (op == "="):
            return False
    return True


def selector_string(sel):
    """A LabelSelector object as its string form (for Scale.status.selector)."""
    if not isinstance(sel, dict):
        return ""
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, vals = e.get("operator"), e.get("key"), e.get("values") or []
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(sorted(vals))))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(sorted(vals))))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    return ",".join(parts)


JP_TOKEN = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']+)'\]|"
                      r"\[\?\(@\.([A-Za-z0-9_.]+)\s*==\s*[\"']([^\"']*)[\"']\)\]|\[\*\]")


def jsonpath(obj, expr):
    """The small JSONPath subset CRD printer columns use: .a.b, [0], ['k'], [?(@.k=="v")]."""
    expr = (expr or "").strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    cur, pos = [obj], 0
    while pos < len(expr):
        m = JP_TOKEN.match(expr, pos)
        if not m:
            return None
        pos = m.end()
        nxt = []
        for c in cur:
            if m.group(1) is not None or m.group(3) is not None:
                k = m.group(1) if m.group(1) is not None else m.group(3)
                if isinstance(c, dict) and k in c:
                    nxt.append(c[k])
            elif m.group(2) is not None:
                i = int(m.group(2))
                if isinstance(c, list) and i < len(c):
                    nxt.append(c[i])
            elif m.group(4) is not None:
                if isinstance(c, list):
                    nxt.extend(e for e in c if isinstance(e, dict)
                               and str(get_path(e, m.group(4))) == m.group(5))
            elif isinstance(c, list):
                nxt.extend(c)
        cur = nxt
    if not cur:
        return None
    return cur[0] if len(cur) == 1 else cur


def set_path(obj, dotted, value):
    parts = dotted.strip(".").split(".")
    cur = obj
    for p in parts[:-1]:
        if not isinstance(cur.get(p), dict):
            cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = value


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def list_merge_key(field, items):
    key = MERGE_KEYS.get(field, "-")
    if key == "-":
        return None
    if key is None:  # ports: containerPort in containers, port in services
        if field == "ports" and items and all(isinstance(i, dict) for i in items):
            return "containerPort" if any("containerPort" in i for i in items) else "port"
        return None
    return key


def strategic_merge(target, patch, field=None):
    """A strategic merge patch for built-ins: merge patch, plus lists merged by their merge key,
    finalizers unioned, $patch/$retainKeys/$setElementOrder directives understood or dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if not k.startswith("$")}
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            out[f] = [x for x in out.get(f) or [] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in SMP_UNION and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        elif isinstance(v, list) and isinstance(out.get(k), list):
            mk = list_merge_key(k, v + out[k])
            if mk is None or not all(isinstance(i, dict) for i in v):
                out[k] = copy.deepcopy(v)
                continue
            cur = copy.deepcopy(out[k])
            for item in v:
                idx = next((i for i, c in enumerate(cur)
                            if isinstance(c, dict) and c.get(mk) == item.get(mk)), None)
                if item.get("$patch") == "delete":
                    if idx is not None:
                        del cur[idx]
                elif idx is None:
                    cur.append({a: b for a, b in item.items() if not a.startswith("$")})
                else:
                    cur[idx] = strategic_merge(cur[idx], item, k)
            out[k] = cur
        else:
            out[k] = strategic_merge(out.get(k), v, k)
    return out


class PatchError(Exception):
    pass


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError("doc is missing path: /" + "/".join(parts))
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError("doc is missing path: /" + "/".join(parts))
        else:
            raise PatchError("doc is missing path: /" + "/".join(parts))
    return cur


def _jp_get(doc, path):
    return _walk(doc, _ptr(path))


def _jp_remove(doc, path):
    parts = _ptr(path)
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("unable to remove nonexistent key: %s: missing value" % last)
        return parent.pop(last)
    try:
        return parent.pop(int(last))
    except (ValueError, IndexError):
        raise PatchError("unable to remove item at index %s" % last)


def _jp_add(doc, path, value, replace=False):
    parts = _ptr(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError("replace operation does not apply: doc is missing key: " + path)
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise PatchError("invalid index %r" % last)
            if i < 0 or i > len(parent) or (replace and i >= len(parent)):
                raise PatchError("index out of range: %d" % i)
            if replace:
                parent[i] = value
            else:
                parent.insert(i, value)
    else:
        raise PatchError("doc is missing path: " + path)
    return doc


def json_patch(doc, ops):
    """RFC 6902, with test."""
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _jp_add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _jp_remove(doc, path)
        elif kind == "replace":
            doc = _jp_add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            v = _jp_remove(doc, op.get("from", ""))
            doc = _jp_add(doc, path, v)
        elif kind == "copy":
            doc = _jp_add(doc, path, copy.deepcopy(_jp_get(doc, op.get("from", ""))))
        elif kind == "test":
            if _jp_get(doc, path) != op.get("value"):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            raise PatchError("Unexpected kind: %s" % kind)
    return doc


def leaf_paths(obj, prefix=()):
    """Field paths of an applied configuration, for server-side apply ownership. Lists of
    objects with a merge key recurse by ("k", key, value); other lists are leaves."""
    out = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            if not prefix and k in ("apiVersion", "kind"):
                continue
            if prefix == ("metadata",) and k in ("name", "namespace", "resourceVersion", "uid",
                                                 "creationTimestamp", "generation",
                                                 "managedFields"):
                continue
            p = prefix + (k,)
            mk = list_merge_key(k, v) if isinstance(v, list) else None
            if isinstance(v, list) and v and mk and all(isinstance(i, dict) and mk in i for i in v):
                for item in v:
                    out.update(leaf_paths(item, p + (("k", mk, item[mk]),)))
                    out[p + (("k", mk, item[mk]),)] = None  # the item itself
            elif isinstance(v, dict) and v:
                out.update(leaf_paths(v, p))
            else:
                out[p] = v
    return out


def path_get(obj, path):
    cur = obj
    for p in path:
        if isinstance(p, tuple):
            _, mk, kv = p
            if not isinstance(cur, list):
                return None, False
            cur = next((i for i in cur if isinstance(i, dict) and i.get(mk) == kv), None)
            if cur is None:
                return None, False
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            return None, False
    return cur, True


def path_delete(obj, path):
    parent, ok = path_get(obj, path[:-1])
    if not ok:
        return
    last = path[-1]
    if isinstance(last, tuple) and isinstance(parent, list):
        _, mk, kv = last
        parent[:] = [i for i in parent if not (isinstance(i, dict) and i.get(mk) == kv)]
    elif isinstance(parent, dict):
        parent.pop(last, None)
    if len(path) > 1 and parent in ({}, []):  # a map the deletion emptied goes too
        path_delete(obj, path[:-1])


def path_str(path):
    s = ""
    for p in path:
        s += "[%s=%s]" % (p[1], p[2]) if isinstance(p, tuple) else "." + p
    return s


# ---------------------------------------------------------------- store

Event = collections.namedtuple("Event", "rv key type obj prev t")


class Watcher:
    def __init__(self, res, ns, lsel, fsel, table=None):
        self.res, self.ns, self.lsel, self.fsel = res, ns, lsel, fsel
        self.q = queue.Queue()
        self.table = table
        self.path = ""

    def matches(self, obj):
        md = obj.get("metadata", {})
        if self.ns is not None and md.get("namespace") != self.ns:
            return False
        return labels_match(self.lsel, md.get("labels")) and fields_match(self.fsel, obj)

    def translate(self, ev):
        """The event this watcher sees of a store event, or None (selector transitions)."""
        if ev.key != self.res.key:
            return None
        if ev.type == "ADDED":
            return ("ADDED", ev.obj) if self.matches(ev.obj) else None
        if ev.type == "DELETED":
            return ("DELETED", ev.obj) if self.matches(ev.obj) else None
        was, now = self.matches(ev.prev), self.matches(ev.obj)
        if was and now:
            return ("MODIFIED", ev.obj)
        if now:
            return ("ADDED", ev.obj)
        if was:
            old = copy.deepcopy(ev.prev)
            old["metadata"]["resourceVersion"] = str(ev.rv)
            return ("DELETED", old)
        return None


class Store:
    """Every object, the global revision, the event ring and the watchers; one lock."""

    def __init__(self, ring_size=10000, continue_ttl=300.0, event_ttl=0.0):
        self.lock = threading.RLock()
        self.rv = 0
        self.compacted = 0
        self.ring = collections.deque()
        self.ring_size = ring_size
        self.continue_ttl = continue_ttl
        self.event_ttl = event_ttl
        self.objs = collections.defaultdict(dict)  # (group, plural) -> {(ns, name): obj}
        self.by_uid = {}
        self.owners = {}  # uid -> {manager: {path: value}} (server-side apply field ownership)
        self.watchers = set()
        self.resources = {}  # (group, version, plural) -> Resource
        self.clock_offset = 0.0
        self.gc_cond = threading.Condition(self.lock)
        self.gc_todo = set()  # (key, ns, name) the collector must look at
        self.dependents = collections.defaultdict(set)  # owner uid -> {(key, ns, name)}
        self.res_by_key = {}
        self.stats = collections.Counter()
        for r in BUILTINS:
            self.register(r)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(self.res("", "v1", "namespaces"), None,
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # --- time
    def now(self):
        return time.time() + self.clock_offset

    # --- resources
    def register(self, r):
        self.resources[(r.group, r.version, r.plural)] = r
        self.res_by_key[r.key] = r

    def res(self, group, version, plural):
        return self.resources.get((group, version, plural))

    def group_versions(self):
        gv = collections.OrderedDict()
        for r in self.resources.values():
            gv.setdefault(r.group, [])
            if r.version not in gv[r.group]:
                gv[r.group].append(r.version)
        return gv

    # --- commit: the only place that writes
    def _commit(self, res, ns, name, obj, etype, prev):
        self.rv += 1
        store = self.objs[res.key]
        if etype == "DELETED":
            obj = copy.deepcopy(prev)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            store.pop((ns, name), None)
            uid = prev["metadata"].get("uid")
            self.by_uid.pop(uid, None)
            self.owners.pop(uid, None)
        else:
            obj["metadata"]["resourceVersion"] = str(self.rv)
            store[(ns, name)] = obj
            self.by_uid[obj["metadata"]["uid"]] = (res, ns, name)
        ev = Event(self.rv, res.key, etype, obj, prev, time.time())
        self.ring.append(ev)
        while len(self.ring) > self.ring_size:
            self.compacted = self.ring.popleft().rv
        self.expire_events()
        for w in list(self.watchers):
            t = w.translate(ev)
            if t:
                w.q.put(("EVENT",) + t)
        self.stats["writes"] += 1
        self._gc_index(res, ns, name, obj, etype, prev)
        if self.gc_todo:
            self.gc_cond.notify_all()
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._crd_changed(obj, etype)
        return obj

    def expire_events(self):
        """Drops events older than event_ttl seconds (kube-apiserver's watch cache keeps about
        75 s); 0 keeps them until the ring is full."""
        if self.event_ttl > 0:
            old = time.time() - self.event_ttl
            while self.ring and self.ring[0].t < old:
                self.compacted = self.ring.popleft().rv

    def compact(self):
        with self.lock:
            self.compacted = self.rv
            self.ring.clear()

    def current(self, res, ns, name):
        return self.objs[res.key].get((ns, name))

    def _not_found(self, res, name):
        return ApiError(404, "NotFound", '%s "%s" not found' % (res.gr, name),
                        {"name": name, "group": res.group, "kind": res.plural})

    def _invalid(self, res, name, field, detail, reason="FieldValueInvalid", kind="Invalid value"):
        msg = "%s: %s: %s" % (field, kind, detail)
        return ApiError(422, "Invalid", '%s.%s "%s" is invalid: %s' % (
            res.kind, res.group, name, msg) if res.group else '%s "%s" is invalid: %s' % (
            res.kind, name, msg),
            {"name": name, "group": res.group, "kind": res.kind,
             "causes": [{"reason": reason, "message": "%s: %s" % (kind, detail), "field": field}]})

    def _conflict(self, res, name, why):
        return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (
            res.gr, name, why), {"name": name, "group": res.group, "kind": res.plural})

    # --- reads
    def snapshot(self, res, at_rv):
        """{(ns, name): obj} of res as it was at revision at_rv (undoing ring events)."""
        state = dict(self.objs[res.key])
        if at_rv >= self.rv:
            return state
        self.expire_events()
        if at_rv < self.compacted:
            raise ApiError(410, "Expired", "The resourceVersion for the provided list is too old.")
        for ev in reversed(self.ring):
            if ev.rv <= at_rv:
                break
            if ev.key != res.key:
                continue
            md = ev.obj["metadata"]
            k = (md.get("namespace"), md["name"])
            if ev.type == "ADDED":
                state.pop(k, None)
            else:
                state[k] = ev.prev
        return state

    # --- validation and defaults
    def _check_ns(self, res, ns, creating=True):
        if not res.namespaced:
            return
        nso = self.current(self.res("", "v1", "namespaces"), None, ns)
        if nso is None:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        if creating and nso["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content '
                           'in namespace %s because it is being terminated' % (res.gr, "", ns),
                           {"name": "", "group": res.group, "kind": res.plural,
                            "causes": [{"reason": "NamespaceTerminating", "message":
                                        "namespace %s is being terminated" % ns,
                                        "field": "metadata.namespace"}]})

    def _defaults(self, res, obj):
        spec = obj.setdefault("spec", {}) if res.plural in (
            "pods", "services", "deployments", "replicasets") else None
        if res.plural == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = \
                obj["metadata"]["name"]
        elif res.plural == "pods":
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("enableServiceLinks", True)
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif res.plural == "services":
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if "clusterIP" not in spec:
                n = self.rv + 10
                spec["clusterIP"] = "10.96.%d.%d" % ((n // 250) % 250, n % 250 + 1)
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            for p in spec.get("ports") or []:
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
            obj["status"] = {"loadBalancer": {}}
        elif res.plural in ("deployments", "replicasets") and res.group == "apps":
            spec.setdefault("replicas", 1)
            if res.plural == "deployments":
                spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {
                    "maxSurge": "25%", "maxUnavailable": "25%"}})
                spec.setdefault("revisionHistoryLimit", 10)
                spec.setdefault("progressDeadlineSeconds", 600)
            if not isinstance(spec.get("selector"), dict):
                raise self._invalid(res, obj["metadata"]["name"], "spec.selector", "null",
                                    "FieldValueRequired", "Required value")
        elif res.plural == "secrets":
            obj.setdefault("type", "Opaque")
        elif res.plural == "customresourcedefinitions":
            self._validate_crd(obj)
        if res.custom:
            self._schema_apply(res, obj)

    # --- writes
    def create(self, res, ns, body, dry_run=False, manager=None):
        with self.lock:
            obj = copy.deepcopy(body)
            if not isinstance(obj, dict):
                raise ApiError(400, "BadRequest", "the body of the request must be an object")
            self._check_kind(res, obj)
            md = obj.setdefault("metadata", {})
            if not isinstance(md, dict):
                raise ApiError(400, "BadRequest", "metadata must be an object")
            if not md.get("name"):
                gen = md.get("generateName")
                if not gen:
                    raise self._invalid(res, "", "metadata.name", "name or generateName is required",
                                        "FieldValueRequired", "Required value")
                md["name"] = gen + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789")
                                           for _ in range(5))
            name = md["name"]
            if not NAME_RE.match(name) or len(name) > 253:
                raise self._invalid(res, name, "metadata.name", '"%s": a lowercase RFC 1123 '
                                    'subdomain must consist of lower case alphanumeric characters,'
                                    " '-' or '.'" % name)
            if res.namespaced:
                if md.get("namespace") and md["namespace"] != ns:
                    raise ApiError(400, "BadRequest", "the namespace of the provided object does "
                                   "not match the namespace sent on the request")
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            self._check_ns(res, ns)
            if self.current(res, ns, name) is not None:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res.gr, name),
                               {"name": name, "group": res.group, "kind": res.plural})
            for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "managedFields", "selfLink"):
                md.pop(k, None)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_iso(self.now())
            if res.generation or res.custom:
                md["generation"] = 1
            else:
                md.pop("generation", None)
            if res.status:
                obj.pop("status", None)
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            self._defaults(res, obj)
            self._validate(res, obj)
            if dry_run:
                md["resourceVersion"] = str(self.rv)
                return obj
            if manager:
                self._own(md["uid"], manager, {}, obj)
            return self._commit(res, ns, name, obj, "ADDED", None)

    def _check_kind(self, res, obj):
        if obj.get("kind") and obj["kind"] != res.kind:
            raise ApiError(400, "BadRequest", "the object provided is unrecognized (kind %s, "
                           "expected %s)" % (obj["kind"], res.kind))
        av = obj.get("apiVersion")
        if av and av.split("/")[0] != (res.group or "v1") and av != res.api_version:
            raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match the "
                           "expected API version (%s)" % (av, res.api_version))

    def update(self, res, ns, name, mutate, sub=None, put=False, dry_run=False, manager=None):
        """Shared path of PUT, PATCH, /status and /scale writes. mutate(old) -> new object."""
        with self.lock:
            old = self.current(res, ns, name)
            if old is None:
                raise self._not_found(res, name)
            new = mutate(copy.deepcopy(old))
            if not isinstance(new, dict):
                raise ApiError(400, "BadRequest", "the body of the request must be an object")
            self._check_kind(res, new)
            md = new.setdefault("metadata", {})
            omd = old["metadata"]
            if md.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the "
                               "name on the URL (%s)" % (md.get("name"), name))
            if res.namespaced and md.get("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                               "match the namespace sent on the request")
            want_rv = md.get("resourceVersion")
            if put and not want_rv and res.custom:
                raise self._invalid(res, name, "metadata.resourceVersion",
                                    "0x0: must be specified for an update")
            if want_rv and want_rv != omd.get("resourceVersion"):
                raise self._conflict(res, name, "the object has been modified; please apply your "
                                     "changes to the latest version and try again")
            if sub == "status":
                st = new.get("status")
                new = copy.deepcopy(old)
                if st is None:
                    new.pop("status", None)
                else:
                    new["status"] = st
                md = new["metadata"]
            elif res.status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation"):
                if k in omd:
                    md[k] = omd[k]
                else:
                    md.pop(k, None)
            md["name"] = name
            if res.namespaced:
                md["namespace"] = ns
            md.pop("managedFields", None)
            new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
            if omd.get("deletionTimestamp"):
                added = [f for f in md.get("finalizers") or [] if f not in
                         (omd.get("finalizers") or [])]
                if added:
                    raise self._invalid(res, name, "metadata.finalizers",
                                        "no new finalizers can be added if the object is being "
                                        "deleted, found new finalizers %s" % json.dumps(added),
                                        "FieldValueForbidden", "Forbidden")
            if res.custom:
                self._schema_apply(res, new)
            if res.plural == "customresourcedefinitions" and sub != "status":
                self._validate_crd(new)
            self._validate(res, new)
            if "generation" in md and self._spec_changed(res, old, new):
                md["generation"] = omd["generation"] + 1
            md["resourceVersion"] = omd["resourceVersion"]
            if not md.get("finalizers"):
                md.pop("finalizers", None)
            if not md.get("labels") and "labels" not in omd:
                md.pop("labels", None)
            if not md.get("annotations") and "annotations" not in omd:
                md.pop("annotations", None)
            if new == old:
                return old  # a no-op write keeps the RV and emits nothing
            if dry_run:
                return new
            if manager:
                self._own(omd["uid"], manager, old, new)
            if (md.get("deletionTimestamp") and not md.get("finalizers")
                    and md.get("deletionGracePeriodSeconds", 0) == 0
                    and not (res.plural == "namespaces" and (new.get("spec") or {}).get(
                        "finalizers"))):
                self._commit(res, ns, name, None, "DELETED", new)
                return new
            return self._commit(res, ns, name, new, "MODIFIED", old)

    @staticmethod
    def _spec_changed(res, old, new):
        def strip(o):
            o = {k: v for k, v in o.items() if k not in ("metadata", "apiVersion", "kind")}
            if res.status:
                o.pop("status", None)
            return o
        return strip(old) != strip(new)

    def delete(self, res, ns, name, opts, dry_run=False):
        with self.lock:
            old = self.current(res, ns, name)
            if old is None:
                raise self._not_found(res, name)
            omd = old["metadata"]
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != omd["uid"]:
                raise self._conflict(res, name, "Precondition failed: UID in precondition: %s, UID "
                                     "in object meta: %s" % (pre["uid"], omd["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != omd["resourceVersion"]:
                raise self._conflict(res, name, "Precondition failed: ResourceVersion in "
                                     "precondition: %s, ResourceVersion in object meta: %s" % (
                                         pre["resourceVersion"], omd["resourceVersion"]))
            policy = opts.get("propagationPolicy")
            if policy is None and opts.get("orphanDependents") is True:
                policy = "Orphan"
            if policy not in (None, "Background", "Foreground", "Orphan"):
                raise ApiError(422, "Invalid", "DeleteOptions.meta.k8s.io \"\" is invalid: "
                               "propagationPolicy: Unsupported value: \"%s\"" % policy)
            new = copy.deepcopy(old)
            md = new["metadata"]
            fins = list(md.get("finalizers") or [])
            if policy == "Foreground" and "foregroundDeletion" not in fins:
                fins.append("foregroundDeletion")
            if policy == "Orphan" and "orphan" not in fins:
                fins.append("orphan")
            grace = 0
            if res.plural == "pods" and (old.get("spec") or {}).get("nodeName") \
                    and old.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                grace = opts.get("gracePeriodSeconds")
                if grace is None:
                    grace = old["spec"].get("terminationGracePeriodSeconds", 30)
                grace = max(int(grace), 0)
            if res.plural == "namespaces":
                fins_ns = (new.get("spec") or {}).get("finalizers") or []
                if fins_ns or fins:
                    if md.get("deletionTimestamp"):
                        return old, True
                    md["deletionTimestamp"] = now_iso(self.now())
                    md["deletionGracePeriodSeconds"] = 0
                    new["status"] = {"phase": "Terminating"}
                    md["finalizers"] = fins or None
                    if not fins:
                        md.pop("finalizers")
                    if dry_run:
                        return new, True
                    return self._commit(res, ns, name, new, "MODIFIED", old), True
            if fins or grace > 0:
                if md.get("deletionTimestamp"):
                    changed = fins != (md.get("finalizers") or [])
                    if grace == 0 and not fins:
                        pass  # a pod's final delete after its grace: fall through
                    elif not changed:
                        return old, True
                if grace > 0 or fins:
                    if not md.get("deletionTimestamp"):
                        md["deletionTimestamp"] = now_iso(self.now() + grace)
                        md["deletionGracePeriodSeconds"] = grace
                    if fins:
                        md["finalizers"] = fins
                    if "generation" in md and grace > 0:
                        md["generation"] += 1
                    if dry_run:
                        return new, True
                    return self._commit(res, ns, name, new, "MODIFIED", old), True
            if dry_run:
                return old, False
            deleted = self._commit(res, ns, name, None, "DELETED", old)
            return deleted, False

    # --- server-side apply and field ownership
    def _own(self, uid, manager, old, new):
        """Records manager as the owner of the fields an update changed."""
        owners = self.owners.setdefault(uid, {})
        po, pn = leaf_paths(old or {}), leaf_paths(new)
        changed = {p for p in pn if p not in po or po[p] != pn[p]}
        if not changed:
            return
        for m, paths in owners.items():
            if m != manager:
                for p in changed:
                    paths.pop(p, None)
        mine = owners.setdefault(manager, {})
        for p in changed:
            mine[p] = ("update", pn[p])

    def apply(self, res, ns, name, body, manager, force, sub=None, dry_run=False):
        with self.lock:
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body of the request must be an object")
            md = body.setdefault("metadata", {})
            if md.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the "
                               "name on the URL (%s)" % (md.get("name"), name))
            md["name"] = name
            applied = leaf_paths(body)
            if sub == "status":
                applied = {p: v for p, v in applied.items() if p[0] == "status"}
            elif res.status:
                applied = {p: v for p, v in applied.items() if p[0] != "status"}
            old = self.current(res, ns, name)
            if old is None:
                if sub:
                    raise self._not_found(res, name)
                obj = self.create(res, ns, body, dry_run=dry_run)
                if not dry_run:
                    self.owners.setdefault(obj["metadata"]["uid"], {})[manager] = {
                        p: ("apply", v) for p, v in applied.items()}
                return obj, True
            uid = old["metadata"]["uid"]
            owners = self.owners.setdefault(uid, {})
            conflicts = []
            for m, paths in owners.items():
                if m == manager:
                    continue
                for p in applied:
                    if p in paths:
                        cur, ok = path_get(old, p)
                        if applied[p] is not None and (not ok or cur != applied[p]):
                            conflicts.append((m, p))
            if conflicts and not force:
                causes = [{"reason": "FieldManagerConflict", "message": 'conflict with "%s"' % m,
                           "field": path_str(p)} for m, p in conflicts]
                msg = "Apply failed with %d conflict%s: %s" % (
                    len(conflicts), "" if len(conflicts) == 1 else "s",
                    "\n".join('conflict with "%s": %s' % (m, path_str(p)) for m, p in conflicts))
                raise ApiError(409, "Conflict", msg, {"causes": causes})
            before = owners.get(manager, {})
            body_clean = copy.deepcopy(body)
            body_clean.pop("apiVersion", None)
            body_clean.pop("kind", None)

            def mutate(cur):
                merged = strategic_merge(cur, body_clean)
                for p in before:
                    if p not in applied and not any(p in o for m, o in owners.items()
                                                    if m != manager):
                        path_delete(merged, p)
                return merged
            new = self.update(res, ns, name, mutate, sub=sub, dry_run=dry_run)
            if not dry_run:
                for m, paths in owners.items():
                    if m != manager:
                        for p in applied:
                            paths.pop(p, None)
                owners[manager] = {p: ("apply", v) for p, v in applied.items()}
            return new, False

    # --- validation of the built-in kinds brix writes (a subset of the API's)
    MICRO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")

    def _validate(self, res, obj):
        name = obj["metadata"].get("name", "")
        errs = []

        def err(field, detail, reason="FieldValueInvalid", kind="Invalid value"):
            errs.append((field, detail, reason, kind))

        def required(field):
            err(field, "", "FieldValueRequired", "Required value")

        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        p = res.plural
        if p == "pods" and res.group == "":
            cs = spec.get("containers")
            if not cs:
                required("spec.containers")
            for i, c in enumerate(cs or []):
                if not isinstance(c, dict) or not c.get("name"):
                    required("spec.containers[%d].name" % i)
                elif not c.get("image"):
                    required("spec.containers[%d].image" % i)
        elif p == "services" and res.group == "":
            for i, port in enumerate(spec.get("ports") or []):
                v = port.get("port") if isinstance(port, dict) else None
                if not isinstance(v, int) or not 0 < v < 65536:
                    err("spec.ports[%d].port" % i, "%s: must be between 1 and 65535, "
                        "inclusive" % json.dumps(v))
        elif p == "deployments":
            sel = spec.get("selector") or {}
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            try:
                ok = labels_match(parse_label_selector(selector_string(sel)), labels)
            except ApiError:
                ok = False
            if not (sel.get("matchLabels") or sel.get("matchExpressions")):
                err("spec.selector", "empty selector is invalid for deployment")
            elif not ok:
                err("spec.template.metadata.labels", "%s: `selector` does not match template "
                    "`labels`" % json.dumps(labels))
        elif p == "endpointslices":
            at = obj.get("addressType")
            if at is None:
                required("addressType")
            elif at not in ("IPv4", "IPv6", "FQDN"):
                err("addressType", '"%s": supported values: "FQDN", "IPv4", "IPv6"' % at,
                    "FieldValueNotSupported", "Unsupported value")
            for i, ep in enumerate(obj.get("endpoints") or []):
                if not (ep or {}).get("addresses"):
                    required("endpoints[%d].addresses" % i)
            for i, port in enumerate(obj.get("ports") or []):
                v = (port or {}).get("port")
                if v is not None and (not isinstance(v, int) or not 0 < v < 65536):
                    err("ports[%d].port" % i, "%s: must be between 1 and 65535, inclusive" % v)
        elif p == "leases":
            d = spec.get("leaseDurationSeconds")
            if d is not None and (not isinstance(d, int) or d <= 0):
                err("spec.leaseDurationSeconds", "%s: must be greater than 0" % json.dumps(d))
            for f in ("acquireTime", "renewTime"):
                v = spec.get(f)
                if v is not None and not (isinstance(v, str) and self.MICRO_RE.match(v)):
                    err("spec." + f, "%s: a MicroTime (RFC 3339 with microseconds)" %
                        json.dumps(v))
        elif p == "events" and res.group == "":
            io = obj.get("involvedObject")
            if not isinstance(io, dict) or not io.get("name") and not io.get("kind"):
                required("involvedObject")
            elif io.get("namespace") and io["namespace"] != obj["metadata"].get("namespace"):
                err("involvedObject.namespace", '"%s": does not match event.namespace' %
                    io["namespace"])
        if errs:
            causes = [{"reason": r, "message": ("%s: %s" % (k, d)) if d else k, "field": f}
                      for f, d, r, k in errs]
            gk = res.kind + ("." + res.group if res.group else "")
            raise ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (
                gk, name, ", ".join("%s: %s" % (c["field"], c["message"]) for c in causes)),
                {"name": name, "group": res.group, "kind": res.kind, "causes": causes})

    # --- CRDs
    def _validate_crd(self, obj):
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        name = obj["metadata"]["name"]
        res = self.res("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        if not spec.get("group") or not names.get("plural") or not names.get("kind"):
            raise self._invalid(res, name, "spec.names", "group, names.plural and names.kind are "
                                "required", "FieldValueRequired", "Required value")
        if name != "%s.%s" % (names["plural"], spec["group"]):
            raise self._invalid(res, name, "metadata.name", '"%s": must be spec.names.plural+"."'
                                '+spec.group' % name)
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            raise self._invalid(res, name, "spec.scope", "must be Namespaced or Cluster",
                                "FieldValueNotSupported", "Unsupported value")
        if not spec.get("versions"):
            raise self._invalid(res, name, "spec.versions", "must have exactly one version "
                                "marked as storage version", "FieldValueRequired", "Required value")

    def _crd_changed(self, crd, etype):
        spec = crd.get("spec") or {}
        group, names = spec.get("group"), spec.get("names") or {}
        plural = names.get("plural")
        for k in [k for k, r in self.resources.items() if r.custom and (r.group, r.plural) == (
                group, plural)]:
            del self.resources[k]
        self.res_by_key.pop((group, plural), None)
        if etype == "DELETED":
            # the custom resources go with their definition
            tmp = Resource(group, "-", plural, names.get("kind", "-"), True)
            for (ns, name), o in sorted(self.objs.get((group, plural), {}).items(),
                                        key=lambda kv: (kv[0][0] or "", kv[0][1])):
                self._commit(tmp, ns, name, None, "DELETED", o)
            return
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            sub = v.get("subresources") or {}
            scale = sub.get("scale")
            r = Resource(group, v["name"], plural, names["kind"], spec.get("scope") == "Namespaced",
                         status="status" in sub, scale=scale, short=names.get("shortNames"),
                         custom=True, columns=v.get("additionalPrinterColumns"),
                         singular=names.get("singular"), categories=names.get("categories"))
            r.schema = (v.get("schema") or {}).get("openAPIV3Schema")
            self.register(r)
        if etype == "ADDED" or not (crd.get("status") or {}).get("conditions"):
            st = {"acceptedNames": {k: names[k] for k in ("kind", "listKind", "plural", "singular",
                                                          "shortNames", "categories")
                                    if k in names},
                  "conditions": [
                      {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                       "message": "no conflicts found", "lastTransitionTime": now_iso(self.now())},
                      {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                       "message": "the initial names have been accepted",
                       "lastTransitionTime": now_iso(self.now())}],
                  "storedVersions": [v["name"] for v in spec.get("versions") or []
                                     if v.get("storage")]}
            st["acceptedNames"].setdefault("listKind", names["kind"] + "List")
            st["acceptedNames"].setdefault("singular", names["kind"].lower())
            new = copy.deepcopy(crd)
            new["status"] = st
            self._commit(self.res("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                         None, crd["metadata"]["name"], new, "MODIFIED", crd)

    def _schema_apply(self, res, obj):
        """Structural schema: defaults, pruning of unknown fields and the basic validations
        (type, required, enum, minimum/maximum) of a CRD's openAPIV3Schema."""
        schema = getattr(res, "schema", None)
        if not isinstance(schema, dict):
            return
        errs = []

        def walk(node, sch, path, top=False):
            if not isinstance(sch, dict):
                return node
            t = sch.get("type")
            if node is None:
                return node
            if sch.get("x-kubernetes-int-or-string"):
                if not isinstance(node, (int, str)) or isinstance(node, bool):
                    errs.append((path, "must be an integer or a string"))
                return node
            if t == "object" and isinstance(node, dict):
                props = sch.get("properties") or {}
                for k, ps in props.items():
                    if k not in node and isinstance(ps, dict) and "default" in ps:
                        node[k] = copy.deepcopy(ps["default"])
                for k in list(node):
                    if top and k in ("apiVersion", "kind", "metadata"):
                        continue
                    if k in props:
                        node[k] = walk(node[k], props[k], path + "." + k)
                    elif isinstance(sch.get("additionalProperties"), dict):
                        node[k] = walk(node[k], sch["additionalProperties"], path + "." + k)
                    elif not sch.get("x-kubernetes-preserve-unknown-fields") and \
                            sch.get("additionalProperties") is not True:
                        del node[k]
                for k in sch.get("required") or []:
                    if k not in node:
                        errs.append(((path + "." + k).lstrip("."), "Required value"))
            elif t == "object" and not isinstance(node, dict):
                errs.append((path, 'Invalid value: "%s": %s in body must be of type object' % (
                    type(node).__name__, path)))
            elif t == "array":
                if not isinstance(node, list):
                    errs.append((path, "must be of type array"))
                else:
                    node[:] = [walk(i, sch.get("items"), "%s[%d]" % (path, n))
                               for n, i in enumerate(node)]
            elif t == "string" and not isinstance(node, str):
                errs.append((path, "Invalid value: %s: must be of type string" % json.dumps(node)))
            elif t == "integer" and (not isinstance(node, int) or isinstance(node, bool)):
                errs.append((path, "Invalid value: %s: must be of type integer" % json.dumps(node)))
            elif t == "number" and (not isinstance(node, (int, float)) or isinstance(node, bool)):
                errs.append((path, "must be of type number"))
            elif t == "boolean" and not isinstance(node, bool):
                errs.append((path, "must be of type boolean"))
            if "enum" in sch and node not in sch["enum"]:
                errs.append((path, "Unsupported value: %s: supported values: %s" % (
                    json.dumps(node), ", ".join(json.dumps(e) for e in sch["enum"]))))
            if isinstance(node, (int, float)) and not isinstance(node, bool):
                if "minimum" in sch and node < sch["minimum"]:
                    errs.append((path, "Invalid value: %s: should be greater than or equal to %s"
                                 % (node, sch["minimum"])))
                if "maximum" in sch and node > sch["maximum"]:
                    errs.append((path, "Invalid value: %s: should be less than or equal to %s"
                                 % (node, sch["maximum"])))
            return node

        walk(obj, schema, "", top=True)
        if errs:
            name = obj.get("metadata", {}).get("name", "")
            causes = [{"reason": "FieldValueInvalid", "message": m, "field": p.lstrip(".")}
                      for p, m in errs]
            raise ApiError(422, "Invalid", '%s.%s "%s" is invalid: %s' % (
                res.kind, res.group, name, ", ".join("%s: %s" % (c["field"], c["message"])
                                                     for c in causes)),
                {"name": name, "group": res.group, "kind": res.kind, "causes": causes})

    # --- garbage collector and namespace finalizer
    # Asynchronous, like kube-controller-manager's: a write queues the objects it may concern
    # (gc_todo), and the collector thread checks only those, so a large store stays cheap.
    def _gc_index(self, res, ns, name, obj, etype, prev):
        """Keeps the owner uid -> dependents index and queues what the collector must look at."""
        loc = (res.key, ns, name)
        for ref in (prev or {}).get("metadata", {}).get("ownerReferences") or []:
            self.dependents.get(ref.get("uid"), set()).discard(loc)
        if etype != "DELETED":
            md = obj["metadata"]
            for ref in md.get("ownerReferences") or []:
                self.dependents[ref.get("uid")].add(loc)
            if md.get("ownerReferences") and not md.get("deletionTimestamp"):
                self.gc_todo.add(loc)
            fins = md.get("finalizers") or []
            if md.get("deletionTimestamp") and ("orphan" in fins or "foregroundDeletion" in fins
                                                or res.plural == "namespaces"):
                self.gc_todo.add(loc)
        else:
            uid = prev["metadata"].get("uid")
            self.gc_todo.update(self.dependents.pop(uid, set()))
            for ref in prev["metadata"].get("ownerReferences") or []:
                owner = self.by_uid.get(ref.get("uid"))
                if owner:
                    self.gc_todo.add((owner[0].key, owner[1], owner[2]))
        if ns is not None:
            nso = self.objs[("", "namespaces")].get((None, ns))
            if nso is not None and nso["metadata"].get("deletionTimestamp"):
                self.gc_todo.add((("", "namespaces"), None, ns))

    def gc_pass(self):
        """Checks the queued objects once; returns True when there was anything to check."""
        with self.lock:
            todo, self.gc_todo = self.gc_todo, set()
            for key, ns, name in sorted(todo, key=lambda l: (l[0], l[1] or "", l[2])):
                res = self.res_by_key.get(key)
                o = self.objs[key].get((ns, name)) if res is not None else None
                if o is not None:
                    self._gc_one(res, ns, name, o)
            return bool(todo)

    def _gc_one(self, res, ns, name, o):
        md = o["metadata"]
        fins = md.get("finalizers") or []
        deps = []
        for dkey, dns, dname in sorted(self.dependents.get(md["uid"], ()),
                                       key=lambda l: (l[0], l[1] or "", l[2])):
            dres, d = self.res_by_key.get(dkey), self.objs[dkey].get((dns, dname))
            if dres is not None and d is not None:
                ref = next(r for r in d["metadata"].get("ownerReferences") or []
                           if r.get("uid") == md["uid"])
                deps.append((dres, dns, dname, d, ref))
        if md.get("deletionTimestamp") and "orphan" in fins:
            for dres, dns, dname, d, ref in deps:
                self._try(lambda: self.update(dres, dns, dname,
                                              lambda c: self._strip_ref(c, md["uid"])))
            self._try(lambda: self.update(res, ns, name, lambda c: self._drop_fin(c, "orphan")))
            return
        if md.get("deletionTimestamp") and "foregroundDeletion" in fins:
            blocking = 0
            for dres, dns, dname, d, ref in deps:
                if ref.get("blockOwnerDeletion"):
                    blocking += 1
                if not d["metadata"].get("deletionTimestamp"):
                    self._try(lambda: self.delete(dres, dns, dname,
                                                  {"propagationPolicy": "Foreground"}))
            if blocking == 0:
                self._try(lambda: self.update(res, ns, name,
                                              lambda c: self._drop_fin(c, "foregroundDeletion")))
            return
        refs = md.get("ownerReferences") or []
        if refs and not md.get("deletionTimestamp"):
            alive = False
            for ref in refs:
                loc = self.by_uid.get(ref.get("uid"))
                if loc and (not loc[0].namespaced or loc[1] == ns):
                    alive = True
            if not alive:
                self._try(lambda: self.delete(res, ns, name, {}))
            return
        if res.plural == "namespaces" and md.get("deletionTimestamp"):
            left = 0
            for key, objs in list(self.objs.items()):
                r2 = self.res_by_key.get(key)
                if r2 is None or not r2.namespaced:
                    continue
                for (ns2, n2), o2 in sorted(objs.items(), key=lambda kv: kv[0][1]):
                    if ns2 != name:
                        continue
                    left += 1
                    if not o2["metadata"].get("deletionTimestamp"):
                        self._try(lambda: self.delete(r2, ns2, n2, {"gracePeriodSeconds": 0}))
            if not left and (o.get("spec") or {}).get("finalizers"):
                def fin(c):
                    c["spec"]["finalizers"] = []
                    return c
                self._try(lambda: self.update(res, None, name, fin, sub="finalize"))
                cur = self.current(res, None, name)
                if cur and not cur["metadata"].get("finalizers"):
                    self._commit(res, None, name, None, "DELETED", cur)

    @staticmethod
    def _try(fn):
        try:
            fn()
        except ApiError:
            pass

    @staticmethod
    def _strip_ref(c, uid):
        refs = [r for r in c["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            c["metadata"]["ownerReferences"] = refs
        else:
            c["metadata"].pop("ownerReferences", None)
        return c

    @staticmethod
    def _drop_fin(c, fin):
        c["metadata"]["finalizers"] = [f for f in c["metadata"].get("finalizers") or []
                                       if f != fin]
        return c

    def gc_loop(self, stop):
        while not stop.is_set():
            with self.lock:
                if not self.gc_todo:
                    self.gc_cond.wait(timeout=1.0)
            time.sleep(0.01)  # let a burst of writes land: the collector is asynchronous
            try:
                self.gc_pass()
            except Exception as e:  # pragma: no cover - a bug here must not kill the server
                import traceback
                traceback.print_exc()
                print("fake-apiserver: gc error: %r" % e, file=sys.stderr)


# ---------------------------------------------------------------- tables

def default_columns(res):
    name = {"name": "Name", "type": "string", "format": "name",
            "description": "Name must be unique within a namespace.", "priority": 0}
    age = {"name": "Age", "type": "string", "format": "",
           "description": "CreationTimestamp of the object.", "priority": 0}

    def col(n, t="string", p=0):
        return {"name": n, "type": t, "format": "", "description": n, "priority": p}
    extra = {
        "pods": [col("Ready"), col("Status"), col("Restarts", "string"), age, col("IP", p=1),
                 col("Node", p=1)],
        "deployments": [col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"),
                        age],
        "replicasets": [col("Desired", "integer"), col("Current", "integer"),
                        col("Ready", "integer"), age],
        "services": [col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), age],
        "namespaces": [col("Status"), age],
        "configmaps": [col("Data", "integer"), age],
        "secrets": [col("Type"), col("Data", "integer"), age],
        "leases": [col("Holder"), age],
        "endpointslices": [col("AddressType"), col("Ports"), col("Endpoints"), age],
        "customresourcedefinitions": [col("Created At", "date")],
    }
    return [name] + extra.get(res.plural, [age])


def default_cells(res, obj, now):
    md, spec, st = obj.get("metadata", {}), obj.get("spec") or {}, obj.get("status") or {}
    age = human_duration(now - (parse_iso(md.get("creationTimestamp")) or now))
    p = res.plural
    if p == "pods":
        cs = st.get("containerStatuses") or []
        ready = sum(1 for c in cs if c.get("ready"))
        total = len(spec.get("containers") or []) or len(cs)
        phase = "Terminating" if md.get("deletionTimestamp") else st.get("phase", "")
        return ["%d/%d" % (ready, total), phase, str(sum(c.get("restartCount", 0) for c in cs)),
                age, st.get("podIP", "<none>"), spec.get("nodeName", "<none>")]
    if p == "deployments":
        return ["%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 0)),
                st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age]
    if p == "replicasets":
        return [spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0), age]
    if p == "services":
        ports = ",".join("%s/%s" % (x.get("port"), x.get("protocol", "TCP"))
                         for x in spec.get("ports") or []) or "<none>"
        return [spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), "<none>", ports,
                age]
    if p == "namespaces":
        return [st.get("phase", ""), age]
    if p == "configmaps":
        return [len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age]
    if p == "secrets":
        return [obj.get("type", ""), len(obj.get("data") or {}), age]
    if p == "leases":
        return [spec.get("holderIdentity", ""), age]
    if p == "endpointslices":
        ports = ",".join(str(x.get("port")) for x in obj.get("ports") or []) or "<unset>"
        eps = ",".join(a for e in obj.get("endpoints") or [] for a in e.get("addresses") or [])
        return [obj.get("addressType", ""), ports, eps or "<unset>", age]
    if p == "customresourcedefinitions":
        return [md.get("creationTimestamp", "")]
    return [age]


def crd_cells(res, obj, now):
    cols, cells = [], []
    for c in res.columns or []:
        v = jsonpath(obj, c.get("jsonPath"))
        t = c.get("type", "string")
        if v is not None and t == "date":
            ts = parse_iso(v) if isinstance(v, str) else None
            v = human_duration(now - ts) if ts is not None else v
        elif isinstance(v, (dict, list)):
            v = json.dumps(v, separators=(",", ":"))
        elif v is not None and t == "string" and not isinstance(v, str):
            v = json.dumps(v)
        cells.append(v)
        cols.append({"name": c.get("name"), "type": t, "format": c.get("format", ""),
                     "description": c.get("description", ""), "priority": c.get("priority", 0)})
    return cols, cells


def to_table(res, objs, list_md, now, version, include="Metadata", headers=True):
    rows = []
    if res.custom and res.columns:
        cols = [{"name": "Name", "type": "string", "format": "name",
                 "description": "Name must be unique within a namespace.", "priority": 0}]
        cols += crd_cells(res, {}, now)[0]
    elif res.custom:
        cols = default_columns(Resource("", "", "-", "-", True))
    else:
        cols = default_columns(res)
    for o in objs:
        name = o["metadata"]["name"]
        if res.custom and res.columns:
            cells = [name] + crd_cells(res, o, now)[1]
        else:
            cells = [name] + default_cells(res, o, now)
        row = {"cells": cells}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + version,
                             "metadata": o["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/" + version, "metadata": list_md,
            "columnDefinitions": cols if headers else [], "rows": rows}


# ---------------------------------------------------------------- faults

class Faults:
    """Fault hooks: forced replies for the next N matching requests, and actions on watches."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rule):
        rule.setdefault("count", 1)
        with self.lock:
            self.rules.append(rule)

    def clear(self):
        with self.lock:
            self.rules = []

    def take(self, method, path, is_watch, actions=False):
        """The first rule matching a request, counted down; actions=True: the watch actions
        (drop, hang, expire), else the forced replies (code)."""
        with self.lock:
            for r in self.rules:
                if bool(r.get("action")) != actions:
                    continue
                if r.get("method") and r["method"].upper() != method:
                    continue
                if r.get("path") and r["path"] not in path:
                    continue
                if r.get("pathRegex") and not re.search(r["pathRegex"], path):
                    continue
                if "watch" in r and bool(r["watch"]) != is_watch:
                    continue
                if r.get("action") in ("drop", "hang", "expire") and not is_watch:
                    continue
                r["count"] -= 1
                if r["count"] <= 0:
                    self.rules.remove(r)
                return dict(r)
        return None


REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
           504: "Timeout"}


# ---------------------------------------------------------------- HTTP

class Server(ThreadingHTTPServer):
    daemon_threads = True
    # kube-apiserver listens with the kernel's full backlog (Go uses somaxconn); socketserver's 5
    # would drop a client's burst of connections at the handshake (the client then waits for a
    # reply to a request the server never accepted)
    request_queue_size = 4096
    allow_reuse_address = True

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.store = Store(ring_size=opts.ring_size, continue_ttl=opts.continue_ttl,
                           event_ttl=getattr(opts, "event_ttl", 0.0))
        self.faults = Faults()
        self.stop_evt = threading.Event()
        self.watch_cmds = []  # (path substring, action) applied to open watches
        self.gc = threading.Thread(target=self.store.gc_loop, args=(self.stop_evt,), daemon=True)
        self.gc.start()
        self.tls = None
        if getattr(opts, "tls_cert", None):
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(opts.tls_cert, opts.tls_key)
            if getattr(opts, "client_ca", None):
                self.tls.load_verify_locations(opts.client_ca)
                self.tls.verify_mode = ssl.CERT_OPTIONAL

    def finish_request(self, request, client_address):
        # TLS handshakes happen here, in the connection's thread, not in the accept loop
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
            try:
                super().finish_request(request, client_address)
            finally:
                request.close()  # the wrapped socket: shutdown_request sees a detached one
            return
        super().finish_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed ACKs

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("fake-apiserver: %s\n" % (fmt % args))

    # --- plumbing
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                n = int(line.strip().split(b";")[0] or b"0", 16)
                if n == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(n)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj, headers=None, ctype="application/json"):
        data = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_status(self, e):
        h = dict(e.headers)
        self.send_json(e.code, e.status(), h)

    def decode(self, raw, ctype):
        if not raw:
            return None
        if "protobuf" in ctype or "cbor" in ctype:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                           "unknown format - accepted media types include: application/json, "
                           "application/yaml")
        try:
            if "yaml" in ctype and yaml is not None:
                return yaml.safe_load(raw.decode())
            return json.loads(raw)
        except Exception as e:
            if "yaml" in ctype and yaml is None:
                raise ApiError(415, "UnsupportedMediaType", "YAML bodies need python3-yaml; send "
                               "JSON (JSON is YAML)")
            raise ApiError(400, "BadRequest", "the body of the request could not be decoded: %s" % e)

    def dispatch(self, method):
        srv, st = self.server, self.server.store
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        try:
            raw = self.read_body()
            if path.startswith("/fake/"):
                return self.control(method, path, raw)
            if srv.opts.token or getattr(srv.opts, "client_ca", None):
                cert = None
                if isinstance(self.connection, ssl.SSLSocket):
                    cert = self.connection.getpeercert()
                if not cert and (not srv.opts.token or self.headers.get(
                        "Authorization") != "Bearer " + srv.opts.token):
                    raise ApiError(401, "Unauthorized", "Unauthorized")
            is_watch = q.get("watch") in ("1", "true") or "/watch/" in path
            with st.lock:
                st.stats["requests"] += 1
            f = srv.faults.take(method, path, is_watch)
            if f and f.get("code"):
                code = int(f["code"])
                hdr = {}
                det = {}
                if code == 429 or f.get("retryAfter"):
                    hdr["Retry-After"] = str(f.get("retryAfter", 1))
                    det["retryAfterSeconds"] = int(f.get("retryAfter", 1))
                reason = f.get("reason") or REASONS.get(code, "InternalError")
                msg = f.get("message") or {
                    409: "Operation cannot be fulfilled: the object has been modified; please "
                         "apply your changes to the latest version and try again (injected)",
                    429: "Too many requests, please try again later. (injected)",
                    500: "Internal error occurred: injected fault"}.get(code, "injected fault")
                raise ApiError(code, reason, msg, det or None, hdr)
            if path == "/version":
                return self.send_json(200, VERSION)
            if path in ("/healthz", "/livez", "/readyz"):
                return self.send_text(200, "ok")
            if path == "/api":
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [{
                                                "clientCIDR": "0.0.0.0/0",
                                                "serverAddress": "127.0.0.1:%d" %
                                                srv.server_address[1]}]})
            if path == "/apis":
                return self.send_json(200, self.group_list())
            if path == "/openapi/v3":
                return self.send_json(200, self.openapi_root())
            if path.startswith("/openapi/v3/"):
                return self.send_json(200, self.openapi_gv(path[len("/openapi/v3/"):]))
            if path.startswith("/openapi/"):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) >= 2:
                group, version, rest = "", parts[1], parts[2:]
            elif parts[0] == "apis" and len(parts) >= 3:
                group, version, rest = parts[1], parts[2], parts[3:]
            elif parts[0] == "apis" and len(parts) == 2:
                return self.send_json(200, self.group(parts[1]))
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if not rest:
                return self.send_json(200, self.resource_list(group, version))
            if rest[0] == "watch":
                rest = rest[1:]
                is_watch = True
            ns = None
            if rest[0] == "namespaces" and len(rest) >= 3 and not (
                    len(rest) == 3 and rest[2] in ("status", "finalize")):
                ns, rest = rest[1], rest[2:]
            plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), \
                (rest[2] if len(rest) > 2 else None)
            if len(rest) > 3:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            res = st.res(group, version, plural)
            if res is None or (res.namespaced and ns is None and name is not None) or \
                    (not res.namespaced and ns is not None):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if sub and not ((sub == "status" and res.status) or (sub == "scale" and res.scale) or
                            (sub == "finalize" and res.plural == "namespaces")):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.resource(method, res, ns, name, sub, q, raw, is_watch)
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug: answer 500 with the text, keep serving
            import traceback
            traceback.print_exc()
            try:
                self.send_error_status(ApiError(500, "InternalError", "fake apiserver: %r" % e))
            except OSError:
                pass

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # --- discovery
    def group_list(self):
        groups = []
        for g, versions in self.server.store.group_versions().items():
            if g == "":
                continue
            groups.append(self.group(g))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def group(self, g):
        versions = self.server.store.group_versions().get(g)
        if not versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        vs = [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": vs,
                "preferredVersion": vs[0]}

    def resource_list(self, group, version):
        rs = [r for r in self.server.store.resources.values()
              if r.group == group and r.version == version]
        if not rs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        out = []
        for r in sorted(rs, key=lambda r: r.plural):
            e = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": VERBS}
            if r.short:
                e["shortNames"] = r.short
            if r.categories:
                e["categories"] = r.categories
            out.append(e)
            if r.status:
                out.append({"name": r.plural + "/status", "singularName": "", "namespaced":
                            r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]})
            if r.scale:
                out.append({"name": r.plural + "/scale", "singularName": "", "namespaced":
                            r.namespaced, "group": "autoscaling", "version": "v1",
                            "kind": "Scale", "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": "%s/%s" % (group, version) if group else version, "resources": out}

    # --- OpenAPI v3: only what kubectl needs to choose server-side field validation (the PATCH
    # operation of each kind with its fieldValidation parameter); no schemas.
    def openapi_root(self):
        paths = {}
        for g, versions in self.server.store.group_versions().items():
            for v in versions:
                gv = "api/" + v if g == "" else "apis/%s/%s" % (g, v)
                paths[gv] = {"serverRelativeURL": "/openapi/v3/%s?hash=%d" % (
                    gv, self.server.store.rv)}
        return {"paths": paths}

    def openapi_gv(self, gv):
        parts = gv.split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rs = [r for r in self.server.store.resources.values()
              if r.group == group and r.version == version]
        if not rs:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        paths = {}
        for r in rs:
            base = "/" + gv + ("/namespaces/{namespace}/" if r.namespaced else "/") + r.plural
            paths[base + "/{name}"] = {"patch": {
                "operationId": "patch" + r.kind,
                "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version,
                                                    "kind": r.kind},
                "x-kubernetes-action": "patch",
                "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                               for n in ("dryRun", "fieldManager", "fieldValidation", "force")],
                "responses": {"200": {"description": "OK"}}}}
        return {"openapi": "3.0.0", "info": {"title": "Kubernetes (fake)", "version": "v1.32.4"},
                "paths": paths, "components": {"schemas": {}}}

    # --- resources
    def table_version(self):
        acc = self.headers.get("Accept", "")
        for part in acc.split(","):
            if "as=Table" in part:
                return "v1beta1" if "v=v1beta1" in part else "v1"
        return None

    def list_item(self, res, obj):
        """An item of a list: a built-in kind's typed list carries no kind/apiVersion per item
        (clients must not rely on them); a custom resource list (unstructured) does."""
        if res.custom:
            return self.out(res, obj)
        return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}

    def out(self, res, obj):
        """An object as served at res's version (CRD versions share storage)."""
        if res.custom and obj.get("apiVersion") != res.api_version:
            obj = dict(obj)
            obj["apiVersion"] = res.api_version
        return obj

    def resource(self, method, res, ns, name, sub, q, raw, is_watch):
        st = self.server.store
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        dry = q.get("dryRun") == "All"
        manager = q.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split(
            "/")[0]
        verb = {"GET": "watch" if is_watch else ("get" if name else "list"), "POST": "create",
                "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[method]
        ua = (self.headers.get("User-Agent") or "none").split("/")[0].split(" ")[0][:40]
        with st.lock:
            st.stats["verb:" + verb] += 1
            st.stats["ua:%s:%s" % (ua, verb)] += 1  # e.g. ua:fake-kubelet:patch
            # e.g. res:brix-controller:update:leases (subresources: "pods/status")
            st.stats["res:%s:%s:%s%s" % (ua, verb, res.plural, "/" + sub if sub else "")] += 1
        if method == "GET" and is_watch:
            return self.watch(res, ns, name, q)
        if method == "GET" and name is None:
            return self.list(res, ns, q)
        if method == "GET":
            with st.lock:
                obj = st.current(res, ns, name)
                if obj is None:
                    raise st._not_found(res, name)
                if sub == "scale":
                    return self.send_json(200, self.scale_of(res, obj))
                tv = self.table_version()
                if tv:
                    return self.send_json(200, to_table(res, [self.out(res, obj)],
                                                        {"resourceVersion": obj["metadata"][
                                                            "resourceVersion"]}, st.now(), tv,
                                                        q.get("includeObject", "Metadata")))
                return self.send_json(200, self.out(res, obj))
        if method == "POST" and name is None:
            body = self.decode(raw, ctype)
            obj = st.create(res, ns, body, dry_run=dry, manager=manager)
            return self.send_json(201, self.out(res, obj))
        if method == "PUT" and name is not None:
            body = self.decode(raw, ctype)
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body of the request must be an object")
            if sub == "scale":
                return self.write_scale(res, ns, name, lambda s: body, dry, manager)
            obj = st.update(res, ns, name, lambda old: body, sub=sub, put=True, dry_run=dry,
                            manager=manager)
            return self.send_json(200, self.out(res, obj))
        if method == "PATCH" and name is not None:
            patch = self.decode(raw, ctype)
            return self.patch(res, ns, name, sub, ctype, patch, q, dry, manager)
        if method == "DELETE" and name is not None:
            opts = self.decode(raw, ctype) or {}
            for k in ("propagationPolicy", "gracePeriodSeconds"):
                if k in q:
                    opts[k] = int(q[k]) if k == "gracePeriodSeconds" else q[k]
            obj, pending = st.delete(res, ns, name, opts, dry_run=dry)
            if pending:
                # as the API's delete handler: 202 only when orphanDependents=false was asked
                return self.send_json(202 if opts.get("orphanDependents") is False else 200,
                                      self.out(res, obj))
            if res.custom:
                return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Success", "details": {
                                                "name": name, "group": res.group,
                                                "kind": res.plural,
                                                "uid": obj["metadata"]["uid"]}})
            return self.send_json(200, self.out(res, obj))
        if method == "DELETE" and name is None:
            opts = self.decode(raw, ctype) or {}
            with st.lock:
                lsel = parse_label_selector(q.get("labelSelector"))
                fsel = parse_field_selector(q.get("fieldSelector"), res)
                items = [o for (ons, _), o in sorted(st.objs[res.key].items(),
                                                     key=lambda kv: (kv[0][0] or "", kv[0][1]))
                         if (ns is None or ons == ns) and labels_match(
                             lsel, o["metadata"].get("labels")) and fields_match(fsel, o)]
                out = []
                for o in items:
                    d, _ = st.delete(res, o["metadata"].get("namespace"), o["metadata"]["name"],
                                     opts, dry_run=dry)
                    out.append(self.out(res, d))
                return self.send_json(200, {"kind": res.kind + "List", "apiVersion":
                                            res.api_version, "metadata": {"resourceVersion":
                                                                          str(st.rv)},
                                            "items": out})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                       "requested resource")

    def patch(self, res, ns, name, sub, ctype, patch, q, dry, manager):
        st = self.server.store
        if ctype == "application/apply-patch+yaml":
            if not q.get("fieldManager"):
                raise ApiError(400, "BadRequest",
                               "PATCH %s: fieldManager is required for apply requests" %
                               self.path.split("?")[0])
            if sub == "scale":
                raise ApiError(415, "UnsupportedMediaType", "apply is not supported on /scale "
                               "by the fake apiserver")
            force = q.get("force") in ("true", "1")
            obj, created = st.apply(res, ns, name, patch, q["fieldManager"], force, sub=sub,
                                    dry_run=dry)
            return self.send_json(201 if created else 200, self.out(res, obj))
        if ctype == "application/strategic-merge-patch+json":
            if res.custom:
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media "
                               "types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml")
            fn = lambda old: strategic_merge(old, patch)
        elif ctype == "application/merge-patch+json":
            if not isinstance(patch, dict):
                raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
            fn = lambda old: merge_patch(old, patch)
        elif ctype == "application/json-patch+json":
            def fn(old):
                try:
                    return json_patch(old, patch)
                except PatchError as e:
                    raise ApiError(422, "Invalid", str(e))
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml" +
                           ("" if res.custom else ", application/strategic-merge-patch+json"))
        if sub == "scale":
            return self.write_scale(res, ns, name, fn, dry, manager)
        obj = st.update(res, ns, name, fn, sub=sub, dry_run=dry, manager=manager)
        return self.send_json(200, self.out(res, obj))

    def scale_of(self, res, obj):
        sc = res.scale
        md = obj["metadata"]
        sel = ""
        if sc.get("labelSelectorPath"):
            v = jsonpath(obj, sc["labelSelectorPath"])
            sel = v if isinstance(v, str) else ""
        elif not res.custom:
            sel = selector_string((obj.get("spec") or {}).get("selector"))
        status = {"replicas": jsonpath(obj, sc.get("statusReplicasPath")) or 0}
        if sel:
            status["selector"] = sel
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                "creationTimestamp") if k in md},
                "spec": {"replicas": jsonpath(obj, sc["specReplicasPath"]) or 0},
                "status": status}

    def write_scale(self, res, ns, name, fn, dry, manager):
        st = self.server.store
        with st.lock:
            old = st.current(res, ns, name)
            if old is None:
                raise st._not_found(res, name)
            scale = fn(self.scale_of(res, old))
            if not isinstance(scale, dict):
                raise ApiError(400, "BadRequest", "the body of the request must be a Scale")
            want_rv = (scale.get("metadata") or {}).get("resourceVersion")
            reps = (scale.get("spec") or {}).get("replicas")
            if not isinstance(reps, int) or reps < 0:
                raise ApiError(422, "Invalid", 'Scale.autoscaling "%s" is invalid: spec.replicas: '
                               "Invalid value: %s: must be greater than or equal to 0" % (
                                   name, json.dumps(reps)), {"name": name, "group": "autoscaling",
                                                             "kind": "Scale"})

            def mutate(cur):
                cur["metadata"]["resourceVersion"] = want_rv or old["metadata"]["resourceVersion"]
                set_path(cur, res.scale["specReplicasPath"], reps)
                return cur
            obj = st.update(res, ns, name, mutate, dry_run=dry, manager=manager)
            return self.send_json(200, self.scale_of(res, obj))

    def list(self, res, ns, q):
        st = self.server.store
        lsel = parse_label_selector(q.get("labelSelector"))
        fsel = parse_field_selector(q.get("fieldSelector"), res)
        limit = int(q.get("limit") or 0)
        cont = q.get("continue")
        rv_q, match = q.get("resourceVersion"), q.get("resourceVersionMatch")
        with st.lock:
            at = st.rv
            start = None
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                    at, start, made = int(tok["rv"]), tok["start"], float(tok["t"])
                except Exception:
                    raise ApiError(400, "BadRequest", "continue key is not valid: incorrect "
                                   "encoded start resourceVersion (version meta.k8s.io/v1)")
                if at < st.compacted or time.time() - made > st.continue_ttl:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without the "
                                   "continue parameter, or use the continue token in this response "
                                   "to retrieve the remainder of the results. Continuing with the "
                                   "provided token results in an inconsistent list - objects that "
                                   "were created, modified, or deleted between the time the first "
                                   "chunk was returned and now may show up in the list.")
            elif rv_q and rv_q != "0":
                try:
                    want = int(rv_q)
                except ValueError:
                    raise ApiError(400, "BadRequest", "invalid resource version %r" % rv_q)
                if want > st.rv:
                    raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                                   % (want, st.rv), {"causes": [{
                                       "reason": "ResourceVersionTooLarge",
                                       "message": "Too large resource version"}],
                                       "retryAfterSeconds": 1}, {"Retry-After": "1"})
                if match == "Exact" or (limit and match != "NotOlderThan"):
                    at = want
            state = st.snapshot(res, at)
            keys = sorted(state, key=lambda k: (k[0] or "", k[1]))
            items = []
            more = 0
            last = None
            for k in keys:
                skey = "%s/%s" % (k[0] or "", k[1])
                if start is not None and skey <= start:
                    continue
                o = state[k]
                if ns is not None and k[0] != ns:
                    continue
                if not (labels_match(lsel, o["metadata"].get("labels")) and fields_match(fsel, o)):
                    continue
                if limit and len(items) >= limit:
                    more += 1
                    continue
                items.append(self.list_item(res, o))
                last = skey
            md = {"resourceVersion": str(at)}
            if more:
                md["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"rv": at, "start": last, "t": time.time()}).encode()).decode().rstrip("=")
                if not lsel and not fsel:
                    md["remainingItemCount"] = more
            tv = self.table_version()
            if tv:
                return self.send_json(200, to_table(res, items, md, st.now(), tv,
                                                    q.get("includeObject", "Metadata")))
            return self.send_json(200, {"kind": res.kind + "List", "apiVersion": res.api_version,
                                        "metadata": md, "items": items})

    # --- watch
    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, res, ns, name, q):
        srv, st = self.server, self.server.store
        lsel = parse_label_selector(q.get("labelSelector"))
        fsel = parse_field_selector(q.get("fieldSelector"), res)
        if name:
            fsel.append(("metadata.name", "=", name))
        rv_q = q.get("resourceVersion", "")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial = q.get("sendInitialEvents")
        if initial is not None and initial not in ("true", "false"):
            raise ApiError(400, "BadRequest", "sendInitialEvents must be true or false")
        initial = (initial == "true") if initial is not None else None
        if initial is not None and (q.get("resourceVersionMatch") != "NotOlderThan"):
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: '
                           "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                           "resourceVersionMatch to NotOlderThan",
                           {"kind": "ListOptions", "group": "meta.k8s.io", "causes": [{
                               "reason": "FieldValueForbidden", "message": "sendInitialEvents "
                               "requires setting resourceVersionMatch to NotOlderThan",
                               "field": "resourceVersionMatch"}]})
        if initial and not bookmarks:
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: '
                           "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting "
                           "allowWatchBookmarks to true")
        timeout = float(q.get("timeoutSeconds") or 0) or srv.opts.watch_timeout  # 0 = unset
        deadline = time.time() + timeout
        tv = self.table_version()
        w = Watcher(res, ns, lsel, fsel)
        w.path = self.path
        pre, expired = [], None
        want = None
        if rv_q not in ("", "0"):
            try:
                want = int(rv_q)
            except ValueError:
                raise ApiError(400, "BadRequest", "invalid resource version %r" % rv_q)
        # a watch from a future RV waits up to 3 s for it, then 504
        t_end = time.time() + 3
        while want is not None and want > st.rv and time.time() < t_end:
            time.sleep(0.05)
        with st.lock:
            w.cmd_seq = len(srv.watch_cmds)
            too_large = None
            if want is not None and want > st.rv:
                # as the watch cache: the RV parsed, so the error is a 200 + ERROR event
                too_large = status_body(504, "Timeout", "Too large resource version: %d, "
                                        "current: %d" % (want, st.rv), {"causes": [{
                                            "reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                            "retryAfterSeconds": 1})
                expired = want
            synthetic = want is None or initial
            if synthetic and initial is not False:
                for k in sorted(st.objs[res.key], key=lambda k: (k[0] or "", k[1])):
                    o = st.objs[res.key][k]
                    if w.matches(o):
                        pre.append(("EVENT", "ADDED", o))
            elif want is not None and not initial and too_large is None:
                st.expire_events()
                if want < st.compacted:
                    expired = want
                else:
                    for ev in st.ring:
                        if ev.rv > want:
                            t = w.translate(ev)
                            if t:
                                pre.append(("EVENT",) + t)
            if initial:
                pre.append(("BOOKMARK", st.rv, True))
            start_rv = st.rv
            if expired is None:
                for item in pre:  # before any live event: queued under the same lock
                    w.q.put(item)
                st.watchers.add(w)
        f = srv.faults.take("GET", self.path, True, actions=True)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            if expired is not None:
                self.chunk(json.dumps({"type": "ERROR", "object": too_large or status_body(
                    410, "Expired", "too old resource version: %d (%d)" % (
                        expired, st.compacted + 1))}).encode() + b"\n")
                self.chunk(b"")
                return
            self.stream(w, res, bookmarks, deadline, tv, f, start_rv)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            with st.lock:
                st.watchers.discard(w)

    def stream(self, w, res, bookmarks, deadline, tv, fault, last_rv):
        srv, st = self.server, self.server.store
        next_bm = time.time() + srv.opts.bookmark_interval
        first = True
        sent = 0
        action = None
        ending = False
        while True:
            while w.cmd_seq < len(srv.watch_cmds):  # commands posted since this watch began
                cmd = srv.watch_cmds[w.cmd_seq]
                w.cmd_seq += 1
                if cmd[0] in w.path and cmd[1] != "release":
                    action = cmd[1]
            if action == "release":
                action = None
            if fault and fault.get("action") and sent >= int(fault.get("afterEvents", 0)):
                action, fault = fault["action"], None
            if action == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action == "expire":
                self.chunk(json.dumps({"type": "ERROR", "object": status_body(
                    410, "Expired", "too old resource version: %s (%d)" % (
                        last_rv, st.compacted + 1))}).encode() + b"\n")
                self.chunk(b"")
                return
            if action == "hang":
                # half-open: send nothing (no events, bookmarks nor the end at the deadline) and
                # keep the socket, until a later command releases, drops or expires the watch
                action = None
                while not srv.stop_evt.is_set() and action is None:
                    time.sleep(0.05)
                    while w.cmd_seq < len(srv.watch_cmds):
                        cmd = srv.watch_cmds[w.cmd_seq]
                        w.cmd_seq += 1
                        if cmd[0] in w.path and cmd[1] != "hang":
                            action = cmd[1]
                if action is None:
                    self.close_connection = True
                    return
                if action == "release":
                    action = None
                    deadline = max(deadline, time.time() + 1)
                continue
            now = time.time()
            if now >= deadline and not ending:
                # the last bookmark goes through the queue, after every event it covers
                with st.lock:
                    if bookmarks:
                        w.q.put(("BOOKMARK", st.rv, False))
                    w.q.put(("END",))
                    st.watchers.discard(w)
                ending = True
            if bookmarks and now >= next_bm and not ending:
                with st.lock:
                    w.q.put(("BOOKMARK", st.rv, False))
                next_bm = now + srv.opts.bookmark_interval
            if self.peer_gone():
                self.close_connection = True
                return
            try:
                item = w.q.get(timeout=0.1 if ending else max(0.01, min(0.1, deadline - now)))
            except queue.Empty:
                continue
            if item[0] == "END":
                self.chunk(b"")
                return
            if item[0] == "BOOKMARK" and not bookmarks:
                continue
            self.send_event(res, item, tv, first)
            if item[0] == "EVENT":
                last_rv = item[2]["metadata"]["resourceVersion"]
                first = False
            sent += 1

    def peer_gone(self):
        """True once the client closed its end of a watch (plain TCP only: a TLS socket cannot
        be peeked; its watch ends at the next write or the deadline)."""
        sock = self.connection
        if isinstance(sock, ssl.SSLSocket):
            return False
        try:
            r, _, _ = select.select([sock], [], [], 0)
            return bool(r) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def send_event(self, res, item, tv, first):
        st = self.server.store
        if item[0] == "BOOKMARK":
            md = {"resourceVersion": str(item[1])}
            if item[2]:
                md["annotations"] = {"k8s.io/initial-events-end": "true"}
            obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": md}
            ev = {"type": "BOOKMARK", "object": obj}
        else:
            obj = self.out(res, item[2])
            if tv:
                obj = to_table(res, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]},
                               st.now(), tv, headers=first)
            ev = {"type": item[1], "object": obj}
        self.chunk(json.dumps(ev, separators=(",", ":")).encode() + b"\n")

    # --- control endpoints of the fake
    def control(self, method, path, raw):
        srv, st = self.server, self.server.store
        body = json.loads(raw) if raw else {}
        if path == "/fake/compact" and method == "POST":
            st.compact()
            if body.get("expireWatches"):
                with st.lock:
                    srv.watch_cmds.append((body.get("path", ""), "expire", uuid.uuid4().hex))
            return self.send_json(200, {"compacted": st.compacted})
        if path == "/fake/fault" and method == "POST":
            srv.faults.add(body)
            return self.send_json(200, {"ok": True})
        if path == "/fake/fault" and method == "DELETE":
            srv.faults.clear()
            return self.send_json(200, {"ok": True})
        if path == "/fake/watches" and method == "POST":
            act = body.get("action")
            if act not in ("drop", "hang", "release", "expire"):
                raise ApiError(400, "BadRequest", "action must be drop, hang, release or expire")
            with st.lock:
                srv.watch_cmds.append((body.get("path", ""), act, uuid.uuid4().hex))
            return self.send_json(200, {"ok": True})
        if path == "/fake/clock":
            if method == "POST":
                with st.lock:
                    if "offsetSeconds" in body:
                        st.clock_offset = float(body["offsetSeconds"])
                    if "advanceSeconds" in body:
                        st.clock_offset += float(body["advanceSeconds"])
            return self.send_json(200, {"offsetSeconds": st.clock_offset, "now": now_iso(st.now())})
        if path == "/fake/stats" and method == "GET":
            with st.lock:
                d = dict(st.stats)
                d.update(rv=st.rv, compacted=st.compacted, watchesOpen=len(st.watchers))
            return self.send_json(200, d)
        if path == "/fake/token" and method == "POST":
            srv.opts.token = body.get("token") or None
            return self.send_json(200, {"ok": True})
        if path == "/fake/gc" and method == "POST":
            for _ in range(100):
                if not st.gc_pass():
                    break
            return self.send_json(200, {"ok": True})
        raise ApiError(404, "NotFound", "unknown control endpoint " + path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once serving")
    ap.add_argument("--token", help="require Authorization: Bearer TOKEN (or a client "
                    "certificate, with --client-ca); POST /fake/token changes it")
    ap.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    ap.add_argument("--client-ca", help="accept client certificates signed by this CA as "
                    "authenticated (with --tls-cert)")
    ap.add_argument("--ring-size", type=int, default=10000,
                    help="events kept for watch resume; older RVs get 410 Expired")
    ap.add_argument("--event-ttl", type=float, default=0.0,
                    help="seconds an event stays in the ring (kube-apiserver: ~75); 0: until "
                    "the ring is full")
    ap.add_argument("--continue-ttl", type=float, default=300.0,
                    help="seconds a continue token stays valid (then 410)")
    ap.add_argument("--bookmark-interval", type=float, default=60.0,
                    help="seconds between BOOKMARK events on watches that allow them")
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="server-side watch timeout when the client sends no timeoutSeconds")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    opts = ap.parse_args(argv)
    srv = Server((opts.host, opts.port), opts)
    port = srv.server_address[1]
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, opts.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop_evt.set()


if __name__ == "__main__":
    main()
