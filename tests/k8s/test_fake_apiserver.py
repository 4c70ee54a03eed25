#!/usr/bin/env python3
"""Tests of the fake Kubernetes API server (tests/k8s/fake_apiserver.py): one or more per rule
of the facts spec's emulator list, each against a server started in this process.

    python3 -m unittest tests/k8s/test_fake_apiserver.py -v
"""

import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_apiserver as fk  # noqa: E402

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.brix.dev"},
    "spec": {"group": "example.brix.dev", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                       "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}, "scale": {
                               "specReplicasPath": ".spec.replicas",
                               "statusReplicasPath": ".status.replicas",
                               "labelSelectorPath": ".status.selector"}},
                           "additionalPrinterColumns": [
                               {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                               {"name": "Ready", "type": "string",
                                "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                               {"name": "Age", "type": "date",
                                "jsonPath": ".metadata.creationTimestamp"}],
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "properties": {
                                   "spec": {"type": "object", "required": ["size"], "properties": {
                                       "size": {"type": "string", "enum": ["small", "large"]},
                                       "replicas": {"type": "integer", "minimum": 0,
                                                    "default": 1}}},
                                   "status": {"type": "object",
                                              "x-kubernetes-preserve-unknown-fields": True}}}}}]}}

W = "/apis/example.brix.dev/v1/namespaces/default/widgets"
CM = "/api/v1/namespaces/default/configmaps"
DEP = "/apis/apps/v1/namespaces/default/deployments"


def widget(name, size="small", labels=None, **meta):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    md.update(meta)
    return {"apiVersion": "example.brix.dev/v1", "kind": "Widget", "metadata": md,
            "spec": {"size": size}}


def cm(name, labels=None, data=None, **meta):
    md = {"name": name}
    if labels:
        md["labels"] = labels
    md.update(meta)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data or {"k": "v"}}


def deployment(name, replicas=1):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


class Watch:
    """A watch stream read line by line."""

    def __init__(self, port, path, timeout=5):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.buf = b""

    def next(self):
        """The next event; None at a clean end of the chunked stream (the last chunk); raises
        ConnectionError when the stream is cut without it."""
        while b"\n" not in self.buf:
            fp = self.resp.fp
            line = fp.readline()
            if not line:
                raise ConnectionError("watch stream cut without its last chunk")
            n = int(line.split(b";")[0], 16)
            if n == 0:
                fp.readline()
                self.resp.close()
                return None
            data = fp.read(n)
            if len(data) < n:
                raise ConnectionError("watch stream cut inside a chunk")
            fp.readline()
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def events(self, n):
        return [self.next() for _ in range(n)]

    def close(self):
        self.conn.close()


class FakeTest(unittest.TestCase):
    ARGS = []

    def setUp(self):
        opts = fk.main.__globals__["argparse"].Namespace(
            host="127.0.0.1", port=0, port_file=None, token=None, ring_size=10000,
            continue_ttl=300.0, bookmark_interval=60.0, watch_timeout=1800.0, verbose=False,
            event_ttl=0.0)
        for k, v in self.ARGS:
            setattr(opts, k, v)
        self.srv = fk.Server(("127.0.0.1", 0), opts)
        self.port = self.srv.server_address[1]
        self.thr = threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                                    daemon=True)
        self.thr.start()
        self.watches = []

    def tearDown(self):
        for w in self.watches:
            w.close()
        self.srv.stop_evt.set()
        self.srv.shutdown()
        self.srv.server_close()

    def req(self, method, path, body=None, ctype="application/json", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = ctype
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        try:
            out = json.loads(raw) if raw else None
        except ValueError:
            out = raw.decode()
        return r.status, out, dict(r.getheaders())

    def ok(self, method, path, body=None, want=(200, 201), **kw):
        code, out, _ = self.req(method, path, body, **kw)
        self.assertIn(code, want if isinstance(want, tuple) else (want,), out)
        return out

    def watch(self, path):
        w = Watch(self.port, path)
        self.watches.append(w)
        self.assertEqual(w.status, 200)
        return w

    def crd(self):
        self.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)

    def wait(self, fn, secs=5):
        end = time.time() + secs
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.02)
        self.fail("condition not met within %s s" % secs)


class TestRule1ResourceVersion(FakeTest):
    def test_one_global_counter(self):
        a = self.ok("POST", CM, cm("a"))
        b = self.ok("POST", DEP, deployment("d"))
        c = self.ok("PUT", CM + "/a", dict(a, data={"k": "w"}))
        rvs = [int(x["metadata"]["resourceVersion"]) for x in (a, b, c)]
        self.assertEqual(rvs, sorted(set(rvs)), "strictly increasing across resources")
        lst = self.ok("GET", CM)
        self.assertEqual(lst["metadata"]["resourceVersion"], c["metadata"]["resourceVersion"])
        dl = self.ok("GET", DEP)
        self.assertEqual(dl["metadata"]["resourceVersion"], c["metadata"]["resourceVersion"],
                         "a list's RV is the current revision, not its newest item's")
        self.assertEqual(dl["items"][0]["metadata"]["resourceVersion"],
                         b["metadata"]["resourceVersion"], "an item's RV is its last write")
        self.assertEqual(lst["kind"], "ConfigMapList")
        self.assertNotIn("kind", lst["items"][0], "typed lists: items without kind/apiVersion")


class TestRule2Resume(FakeTest):
    ARGS = [("ring_size", 5)]

    def test_resume_then_410_after_compaction(self):
        a = self.ok("POST", CM, cm("a"))
        rv0 = a["metadata"]["resourceVersion"]
        self.ok("POST", CM, cm("b"))
        self.ok("DELETE", CM + "/a")
        w = self.watch(CM + "?watch=1&resourceVersion=" + rv0)
        evs = w.events(2)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "b"), ("DELETED", "a")])
        w.close()
        self.ok("POST", "/fake/compact", {})
        w = self.watch(CM + "?watch=1&resourceVersion=" + rv0)
        e = w.next()
        self.assertEqual(e["type"], "ERROR")
        self.assertEqual(e["object"]["code"], 410)
        self.assertEqual(e["object"]["reason"], "Expired")
        self.assertTrue(e["object"]["message"].startswith("too old resource version: " + rv0))
        self.assertIsNone(w.next(), "the stream closes after the ERROR")
        # a list at the compacted RV with limit (Exact) is 410 too
        code, st, _ = self.req("GET", CM + "?limit=1&resourceVersion=" + rv0)
        self.assertEqual((code, st["reason"]), (410, "Expired"))

    def test_ring_overflow_compacts(self):
        first = self.ok("POST", CM, cm("x"))
        for i in range(8):
            self.ok("PATCH", CM + "/x", {"data": {"i": str(i)}},
                    ctype="application/merge-patch+json")
        w = self.watch(CM + "?watch=1&resourceVersion=" + first["metadata"]["resourceVersion"])
        self.assertEqual(w.next()["object"]["code"], 410)

    def test_expire_open_watches(self):
        w = self.watch(CM + "?watch=1&resourceVersion=0")
        self.ok("POST", CM, cm("a"))
        self.assertEqual(w.next()["type"], "ADDED")
        self.ok("POST", "/fake/compact", {"expireWatches": True})
        e = w.next()
        self.assertEqual((e["type"], e["object"]["code"]), ("ERROR", 410))
        self.assertIsNone(w.next())


class TestEventTTL(FakeTest):
    ARGS = [("event_ttl", 0.5)]

    def test_events_expire_by_age(self):
        a = self.ok("POST", CM, cm("a"))
        self.ok("POST", CM, cm("b"))
        w = self.watch(CM + "?watch=1&resourceVersion=" + a["metadata"]["resourceVersion"])
        self.assertEqual(w.next()["object"]["metadata"]["name"], "b", "within the window")
        w.close()
        time.sleep(0.7)
        w = self.watch(CM + "?watch=1&resourceVersion=" + a["metadata"]["resourceVersion"])
        self.assertEqual(w.next()["object"]["code"], 410, "older than --event-ttl")


class TestRule3WatchStart(FakeTest):
    ARGS = [("bookmark_interval", 0.2)]

    def test_synthetic_added_for_unset_and_zero(self):
        self.ok("POST", CM, cm("a"))
        self.ok("POST", CM, cm("b"))
        for rv in ("", "&resourceVersion=0"):
            w = self.watch(CM + "?watch=true" + rv)
            evs = w.events(2)
            self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                             [("ADDED", "a"), ("ADDED", "b")])
            self.ok("POST", CM, cm("c" + str(len(rv))))
            self.assertEqual(w.next()["type"], "ADDED")
            w.close()

    def test_selector_transitions_and_deletion_rv(self):
        self.ok("POST", CM, cm("a", labels={"app": "x"}))
        w = self.watch(CM + "?watch=1&labelSelector=app%3Dx")
        self.assertEqual(w.next()["type"], "ADDED")
        out = self.ok("PATCH", CM + "/a", {"metadata": {"labels": {"app": "y"}}},
                      ctype="application/merge-patch+json")
        e = w.next()
        self.assertEqual(e["type"], "DELETED", "leaving the selector is DELETED")
        self.assertEqual(e["object"]["metadata"]["labels"]["app"], "x", "old state")
        self.assertEqual(e["object"]["metadata"]["resourceVersion"],
                         out["metadata"]["resourceVersion"], "stamped with the event's RV")
        self.ok("PATCH", CM + "/a", {"metadata": {"labels": {"app": "x"}}},
                ctype="application/merge-patch+json")
        self.assertEqual(w.next()["type"], "ADDED", "entering the selector is ADDED")
        before = self.ok("GET", CM + "/a")["metadata"]["resourceVersion"]
        self.ok("DELETE", CM + "/a")
        e = w.next()
        self.assertEqual(e["type"], "DELETED")
        self.assertGreater(int(e["object"]["metadata"]["resourceVersion"]), int(before),
                           "DELETED carries the deletion RV")
        self.assertEqual(e["object"]["metadata"]["resourceVersion"],
                         self.ok("GET", CM)["metadata"]["resourceVersion"])

    def test_bookmarks_only_when_asked(self):
        w = self.watch(CM + "?watch=1&allowWatchBookmarks=true")
        e = w.next()
        self.assertEqual(e["type"], "BOOKMARK")
        self.assertEqual(set(e["object"]["metadata"]), {"resourceVersion"})
        self.assertEqual(e["object"]["kind"], "ConfigMap")
        w2 = self.watch(CM + "?watch=1&timeoutSeconds=1")
        self.assertIsNone(w2.next(), "no bookmark without allowWatchBookmarks")

    def test_watchlist_initial_events_end(self):
        self.ok("POST", CM, cm("a"))
        w = self.watch(CM + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                       "&allowWatchBookmarks=true")
        e1, e2 = w.events(2)
        self.assertEqual(e1["type"], "ADDED")
        self.assertEqual(e2["type"], "BOOKMARK")
        self.assertEqual(e2["object"]["metadata"]["annotations"],
                         {"k8s.io/initial-events-end": "true"})
        code, st, _ = self.req("GET", CM + "?watch=1&sendInitialEvents=true")
        self.assertEqual((code, st["reason"]), (422, "Invalid"))

    def test_clean_end_at_timeout(self):
        w = self.watch(CM + "?watch=1&timeoutSeconds=1")
        t = time.time()
        self.assertIsNone(w.next(), "a clean end of the chunked stream")
        self.assertLess(time.time() - t, 5)
        # the connection is reusable (keep-alive after the last chunk)
        w.conn.request("GET", CM)
        self.assertEqual(w.conn.getresponse().status, 200)
        # with bookmarks, the last event before the end is a bookmark at the current RV
        self.ok("POST", CM, cm("a"))
        w = self.watch(CM + "?watch=1&timeoutSeconds=1&allowWatchBookmarks=true")
        evs = []
        while True:
            e = w.next()
            if e is None:
                break
            evs.append(e)
        self.assertEqual(evs[0]["type"], "ADDED")
        self.assertEqual(evs[-1]["type"], "BOOKMARK")
        self.assertEqual(evs[-1]["object"]["metadata"]["resourceVersion"],
                         self.ok("GET", CM)["metadata"]["resourceVersion"])


class TestRule4Writes(FakeTest):
    def test_stale_put_conflict(self):
        a = self.ok("POST", CM, cm("a"))
        self.ok("PUT", CM + "/a", dict(a, data={"k": "2"}))
        code, st, _ = self.req("PUT", CM + "/a", dict(a, data={"k": "3"}))
        self.assertEqual(code, 409)
        self.assertEqual(st, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Failure", "message":
                              'Operation cannot be fulfilled on configmaps "a": the object has '
                              'been modified; please apply your changes to the latest version '
                              'and try again', "reason": "Conflict",
                              "details": {"name": "a", "group": "", "kind": "configmaps"},
                              "code": 409})

    def test_cr_put_without_rv(self):
        self.crd()
        w = self.ok("POST", W, widget("w"))
        del w["metadata"]["resourceVersion"]
        code, st, _ = self.req("PUT", W + "/w", w)
        self.assertEqual((code, st["reason"]), (422, "Invalid"))
        self.assertIn("metadata.resourceVersion: Invalid value: 0x0: must be specified for an "
                      "update", st["message"])
        self.assertEqual(st["details"]["causes"][0]["field"], "metadata.resourceVersion")
        # built-ins allow an unconditional update
        a = self.ok("POST", CM, cm("a"))
        del a["metadata"]["resourceVersion"]
        self.ok("PUT", CM + "/a", a)

    def test_already_exists(self):
        self.ok("POST", CM, cm("a"))
        code, st, _ = self.req("POST", CM, cm("a"))
        self.assertEqual((code, st["reason"], st["message"]),
                         (409, "AlreadyExists", 'configmaps "a" already exists'))
        g = self.ok("POST", CM, {"metadata": {"generateName": "a-"}, "data": {}})
        self.assertTrue(g["metadata"]["name"].startswith("a-"))
        code, st, _ = self.req("GET", CM + "/zz")
        self.assertEqual((code, st["reason"], st["message"]),
                         (404, "NotFound", 'configmaps "zz" not found'))

    def test_noop_write(self):
        a = self.ok("POST", CM, cm("a"))
        w = self.watch(CM + "?watch=1&resourceVersion=" + a["metadata"]["resourceVersion"] +
                       "&timeoutSeconds=1")
        b = self.ok("PUT", CM + "/a", a)
        c = self.ok("PATCH", CM + "/a", {"data": {"k": "v"}}, ctype="application/merge-patch+json")
        self.assertEqual(a["metadata"]["resourceVersion"], b["metadata"]["resourceVersion"])
        self.assertEqual(a["metadata"]["resourceVersion"], c["metadata"]["resourceVersion"])
        self.assertIsNone(w.next(), "no event for a no-op")


class TestRule5GenerationStatusScale(FakeTest):
    def test_generation_and_status_subresource(self):
        self.crd()
        w = widget("w")
        w["status"] = {"phase": "ignored"}
        o = self.ok("POST", W, w)
        self.assertNotIn("status", o, "create drops status")
        self.assertEqual(o["metadata"]["generation"], 1)
        self.assertEqual(o["spec"]["replicas"], 1, "schema default")
        o["metadata"]["labels"] = {"a": "b"}
        o = self.ok("PUT", W + "/w", o)
        self.assertEqual(o["metadata"]["generation"], 1, "metadata changes keep generation")
        o["status"] = {"phase": "Running"}
        o = self.ok("PUT", W + "/w", o)
        self.assertNotIn("status", o, "the main endpoint drops .status")
        o["status"] = {"phase": "Running"}
        o["spec"]["size"] = "large"
        s = self.ok("PUT", W + "/w/status", o)
        self.assertEqual(s["status"], {"phase": "Running"})
        self.assertEqual(s["spec"]["size"], "small", "/status keeps only .status")
        self.assertEqual(s["metadata"]["generation"], 1, "status changes keep generation")
        s = self.ok("PATCH", W + "/w", {"spec": {"size": "large"}},
                    ctype="application/merge-patch+json")
        self.assertEqual(s["metadata"]["generation"], 2, "spec changes bump generation")
        self.assertEqual(s["status"], {"phase": "Running"})
        code, st, _ = self.req("PATCH", W + "/w", {"spec": {"size": "huge"}},
                               ctype="application/merge-patch+json")
        self.assertEqual((code, st["reason"]), (422, "Invalid"), "schema enum")

    def test_scale_subresource(self):
        d = self.ok("POST", DEP, deployment("d", 2))
        sc = self.ok("GET", DEP + "/d/scale")
        self.assertEqual(sc["kind"], "Scale")
        self.assertEqual(sc["apiVersion"], "autoscaling/v1")
        self.assertEqual(sc["spec"], {"replicas": 2})
        self.assertEqual(sc["status"], {"replicas": 0, "selector": "app=d"})
        self.ok("PATCH", DEP + "/d/scale", {"spec": {"replicas": 4}},
                ctype="application/merge-patch+json")
        d2 = self.ok("GET", DEP + "/d")
        self.assertEqual(d2["spec"]["replicas"], 4)
        self.assertEqual(d2["metadata"]["generation"], d["metadata"]["generation"] + 1)
        sc["spec"]["replicas"] = 1  # stale RV
        code, _, _ = self.req("PUT", DEP + "/d/scale", sc)
        self.assertEqual(code, 409)
        self.crd()
        self.ok("POST", W, widget("w"))
        self.ok("PATCH", W + "/w/status", {"status": {"replicas": 1, "selector": "app=w"}},
                ctype="application/merge-patch+json")
        sc = self.ok("GET", W + "/w/scale")
        self.assertEqual((sc["spec"], sc["status"]), ({"replicas": 1},
                                                      {"replicas": 1, "selector": "app=w"}))
        sc["spec"]["replicas"] = 3
        self.ok("PUT", W + "/w/scale", sc)
        self.assertEqual(self.ok("GET", W + "/w")["spec"]["replicas"], 3)

    def test_statefulset_scale_and_discovery(self):
        # what brix controller's scale targets rely on: apps/v1 discovery lists
        # statefulsets/scale (and no daemonsets/scale), the Scale carries the selector
        rl = self.ok("GET", "/apis/apps/v1")
        names = {r["name"]: r for r in rl["resources"]}
        self.assertEqual(names["statefulsets"]["kind"], "StatefulSet")
        self.assertEqual(names["statefulsets/scale"]["kind"], "Scale")
        self.assertIn("daemonsets", names)
        self.assertNotIn("daemonsets/scale", names)
        sts = deployment("s", 2)
        sts["kind"] = "StatefulSet"
        self.ok("POST", "/apis/apps/v1/namespaces/default/statefulsets", sts)
        path = "/apis/apps/v1/namespaces/default/statefulsets/s/scale"
        sc = self.ok("GET", path)
        self.assertEqual((sc["spec"], sc["status"]["selector"]), ({"replicas": 2}, "app=s"))
        self.ok("PATCH", path, {"spec": {"replicas": 3}}, ctype="application/merge-patch+json")
        self.assertEqual(self.ok("GET", path)["spec"]["replicas"], 3)
        code, _, _ = self.req("GET", "/apis/apps/v1/namespaces/default/daemonsets/x/scale")
        self.assertEqual(code, 404)


class TestRule6Finalizers(FakeTest):
    def test_finalizers_and_deletion_timestamp(self):
        self.crd()
        o = self.ok("POST", W, widget("w", finalizers=["x.dev/f"]))
        w = self.watch(W + "?watch=1&resourceVersion=" + o["metadata"]["resourceVersion"])
        code, pending, _ = self.req("DELETE", W + "/w")
        self.assertEqual(code, 200, "the pending object, 200 (202 only with orphanDependents)")
        self.assertIn("deletionTimestamp", pending["metadata"])
        e = w.next()
        self.assertEqual(e["type"], "MODIFIED", "deletionTimestamp shows as MODIFIED")
        code, st, _ = self.req("PATCH", W + "/w", {"metadata": {"finalizers": ["x.dev/f", "n"]}},
                               ctype="application/merge-patch+json")
        self.assertEqual((code, st["reason"]), (422, "Invalid"))
        self.assertIn("no new finalizers can be added if the object is being deleted",
                      st["message"])
        self.ok("PATCH", W + "/w", [{"op": "remove", "path": "/metadata/finalizers"}],
                ctype="application/json-patch+json")
        self.assertEqual(w.next()["type"], "DELETED")
        self.assertEqual(self.req("GET", W + "/w")[0], 404)

    def test_preconditions(self):
        a = self.ok("POST", CM, cm("a"))
        code, st, _ = self.req("DELETE", CM + "/a", {"preconditions": {"uid": "nope"}})
        self.assertEqual((code, st["reason"]), (409, "Conflict"))
        self.assertIn("Precondition failed: UID in precondition: nope", st["message"])
        code, st, _ = self.req("DELETE", CM + "/a", {"preconditions": {"resourceVersion": "1"}})
        self.assertEqual(code, 409)
        self.ok("DELETE", CM + "/a", {"preconditions": {"uid": a["metadata"]["uid"]}})

    def test_pod_graceful_delete(self):
        p = self.ok("POST", "/api/v1/namespaces/default/pods", {
            "metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [
                {"name": "c", "image": "x"}]}})
        self.assertEqual(p["status"]["phase"], "Pending")
        code, o, _ = self.req("DELETE", "/api/v1/namespaces/default/pods/p")
        self.assertEqual((code, o["metadata"]["deletionGracePeriodSeconds"]), (200, 30))
        self.ok("DELETE", "/api/v1/namespaces/default/pods/p", {"gracePeriodSeconds": 0})
        self.assertEqual(self.req("GET", "/api/v1/namespaces/default/pods/p")[0], 404)


class TestRule7GC(FakeTest):
    def owned(self, owner, name, block=False):
        ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": owner["metadata"]["name"],
               "uid": owner["metadata"]["uid"], "controller": True}
        if block:
            ref["blockOwnerDeletion"] = True
        return self.ok("POST", CM, cm(name, ownerReferences=[ref]))

    def test_background(self):
        d = self.ok("POST", DEP, deployment("d"))
        self.owned(d, "c1")
        self.ok("POST", CM, cm("c2", ownerReferences=[{"apiVersion": "v1", "kind": "X",
                                                       "name": "gone", "uid": "no-such-uid"}]))
        self.ok("DELETE", DEP + "/d")
        self.wait(lambda: self.req("GET", CM + "/c1")[0] == 404)
        self.wait(lambda: self.req("GET", CM + "/c2")[0] == 404)

    def test_foreground(self):
        d = self.ok("POST", DEP, deployment("d"))
        c = self.owned(d, "c1", block=True)
        self.ok("PATCH", CM + "/c1", {"metadata": {"finalizers": ["hold"]}},
                ctype="application/merge-patch+json")
        code, o, _ = self.req("DELETE", DEP + "/d", {"propagationPolicy": "Foreground"})
        self.assertIn("foregroundDeletion", o["metadata"]["finalizers"])
        self.wait(lambda: "deletionTimestamp" in self.ok("GET", CM + "/c1")["metadata"])
        time.sleep(0.2)
        self.assertEqual(self.req("GET", DEP + "/d")[0], 200, "owner waits for blocking dependents")
        self.ok("PATCH", CM + "/c1", {"metadata": {"finalizers": None}},
                ctype="application/merge-patch+json")
        self.wait(lambda: self.req("GET", DEP + "/d")[0] == 404)
        self.assertTrue(c)

    def test_orphan(self):
        d = self.ok("POST", DEP, deployment("d"))
        self.owned(d, "c1")
        self.ok("DELETE", DEP + "/d?propagationPolicy=Orphan")
        self.wait(lambda: self.req("GET", DEP + "/d")[0] == 404)
        c = self.ok("GET", CM + "/c1")
        self.assertNotIn("ownerReferences", c["metadata"])


class TestRule8Patches(FakeTest):
    def test_merge_json_and_strategic(self):
        self.crd()
        self.ok("POST", W, widget("w", labels={"a": "1", "b": "2"}))
        o = self.ok("PATCH", W + "/w", {"metadata": {"labels": {"a": None, "c": "3"}}},
                    ctype="application/merge-patch+json")
        self.assertEqual(o["metadata"]["labels"], {"b": "2", "c": "3"})
        o = self.ok("PATCH", W + "/w", [{"op": "test", "path": "/spec/size", "value": "small"},
                                        {"op": "replace", "path": "/spec/size", "value": "large"}],
                    ctype="application/json-patch+json")
        self.assertEqual(o["spec"]["size"], "large")
        code, st, _ = self.req("PATCH", W + "/w", [{"op": "test", "path": "/spec/size",
                                                    "value": "small"}],
                               ctype="application/json-patch+json")
        self.assertEqual(code, 422, st)
        code, st, _ = self.req("PATCH", W + "/w", {"spec": {"size": "small"}},
                               ctype="application/strategic-merge-patch+json")
        self.assertEqual((code, st["reason"]), (415, "UnsupportedMediaType"))
        # strategic merge on a built-in: containers merge by name
        self.ok("POST", DEP, deployment("d"))
        o = self.ok("PATCH", DEP + "/d", {"spec": {"template": {"spec": {"containers": [
            {"name": "side", "image": "y"}]}}}}, ctype="application/strategic-merge-patch+json")
        self.assertEqual([c["name"] for c in o["spec"]["template"]["spec"]["containers"]],
                         ["c", "side"])
        # an RV inside a patch makes it conditional
        code, _, _ = self.req("PATCH", W + "/w", {"metadata": {"resourceVersion": "1"}},
                              ctype="application/merge-patch+json")
        self.assertEqual(code, 409)

    def test_apply(self):
        self.crd()
        code, st, _ = self.req("PATCH", W + "/w", widget("w"),
                               ctype="application/apply-patch+yaml")
        self.assertEqual(code, 400)
        self.assertIn("fieldManager is required for apply requests", st["message"])
        code, o, _ = self.req("PATCH", W + "/w?fieldManager=a", widget("w", labels={"x": "1"}),
                              ctype="application/apply-patch+yaml")
        self.assertEqual(code, 201, o)
        body = widget("w", size="large")
        code, st, _ = self.req("PATCH", W + "/w?fieldManager=b", body,
                               ctype="application/apply-patch+yaml")
        self.assertEqual((code, st["reason"]), (409, "Conflict"))
        self.assertEqual(st["details"]["causes"][0]["field"], ".spec.size")
        o = self.ok("PATCH", W + "/w?fieldManager=b&force=true", body,
                    ctype="application/apply-patch+yaml")
        self.assertEqual(o["spec"]["size"], "large")
        # manager a drops its label from its applied config: the label goes
        o = self.ok("PATCH", W + "/w?fieldManager=a", widget("w", size="large"),
                    ctype="application/apply-patch+yaml")
        self.assertNotIn("labels", o["metadata"])
        if fk.yaml is not None:
            y = ("apiVersion: example.brix.dev/v1\nkind: Widget\nmetadata:\n  name: w\n"
                 "spec:\n  size: large\n  replicas: 4\n")
            o = self.ok("PATCH", W + "/w?fieldManager=b", y, ctype="application/apply-patch+yaml")
            self.assertEqual(o["spec"]["replicas"], 4)


class TestRule9KubectlSupport(FakeTest):
    ARGS = [("continue_ttl", 0.5)]

    def test_discovery(self):
        self.crd()
        self.assertEqual(self.ok("GET", "/api")["versions"], ["v1"])
        groups = {g["name"] for g in self.ok("GET", "/apis")["groups"]}
        self.assertTrue({"apps", "example.brix.dev", "coordination.k8s.io"} <= groups)
        rl = self.ok("GET", "/apis/example.brix.dev/v1")
        names = {r["name"]: r for r in rl["resources"]}
        self.assertEqual(set(names), {"widgets", "widgets/status", "widgets/scale"})
        self.assertEqual(names["widgets"]["kind"], "Widget")
        self.assertTrue(names["widgets"]["namespaced"])
        self.assertEqual(self.ok("GET", "/version")["minor"], "32")

    def test_table(self):
        self.crd()
        self.ok("POST", W, widget("w"))
        self.ok("PATCH", W + "/w/status", {"status": {"conditions": [
            {"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}]}},
            ctype="application/merge-patch+json")
        t = self.ok("GET", W + "?limit=500", headers={
            "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,"
                      "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"})
        self.assertEqual((t["kind"], t["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertEqual([c["name"] for c in t["columnDefinitions"]],
                         ["Name", "Size", "Ready", "Age"])
        self.assertEqual(t["rows"][0]["cells"][:3], ["w", "small", "True"])
        self.assertEqual(t["rows"][0]["object"]["kind"], "PartialObjectMetadata")
        self.ok("POST", DEP, deployment("d", 3))
        t = self.ok("GET", DEP, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
        self.assertEqual([c["name"] for c in t["columnDefinitions"]][:2], ["Name", "Ready"])
        self.assertEqual(t["rows"][0]["cells"][:2], ["d", "0/3"])

    def test_paging_and_selectors(self):
        for i in range(5):
            self.ok("POST", CM, cm("c%d" % i, labels={"n": str(i), "even": str(i % 2 == 0)}))
        p1 = self.ok("GET", CM + "?limit=2")
        self.assertEqual(len(p1["items"]), 2)
        self.assertEqual(p1["metadata"]["remainingItemCount"], 3)
        self.ok("POST", CM, cm("c9"))  # after the first page: not in this snapshot
        p2 = self.ok("GET", CM + "?limit=2&continue=" + p1["metadata"]["continue"])
        p3 = self.ok("GET", CM + "?limit=2&continue=" + p2["metadata"]["continue"])
        names = [o["metadata"]["name"] for p in (p1, p2, p3) for o in p["items"]]
        self.assertEqual(names, ["c0", "c1", "c2", "c3", "c4"])
        self.assertNotIn("continue", p3["metadata"])
        self.assertEqual(p3["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"])
        time.sleep(0.6)
        code, st, _ = self.req("GET", CM + "?limit=2&continue=" + p1["metadata"]["continue"])
        self.assertEqual((code, st["reason"]), (410, "Expired"), "an expired continue token")

        def sel(s):
            q = fk.urllib.parse.quote(s)
            return sorted(o["metadata"]["name"] for o in self.ok(
                "GET", CM + "?labelSelector=" + q)["items"])
        self.assertEqual(sel("n=1"), ["c1"])
        self.assertEqual(sel("n==1"), ["c1"])
        self.assertEqual(sel("n!=1"), ["c0", "c2", "c3", "c4", "c9"])
        self.assertEqual(sel("n in (1,3),even=False"), ["c1", "c3"])
        self.assertEqual(sel("n notin (1,3)"), ["c0", "c2", "c4", "c9"])
        self.assertEqual(sel("n"), ["c0", "c1", "c2", "c3", "c4"])
        self.assertEqual(sel("!n"), ["c9"])
        names = [o["metadata"]["name"] for o in self.ok(
            "GET", CM + "?fieldSelector=metadata.name%3Dc2")["items"]]
        self.assertEqual(names, ["c2"])
        code, st, _ = self.req("GET", CM + "?fieldSelector=spec.foo%3Dx")
        self.assertEqual(code, 400)
        code, _, _ = self.req("GET", CM + "?labelSelector=" + fk.urllib.parse.quote("a in ()"))
        self.assertEqual(code, 400)


class TestRule10Faults(FakeTest):
    def test_forced_replies(self):
        self.ok("POST", CM, cm("a"))
        self.ok("POST", "/fake/fault", {"code": 429, "count": 2, "method": "GET",
                                        "path": "/configmaps/a", "retryAfter": 2})
        for _ in range(2):
            code, st, h = self.req("GET", CM + "/a")
            self.assertEqual((code, st["reason"], h.get("Retry-After")),
                             (429, "TooManyRequests", "2"))
            self.assertEqual(st["details"]["retryAfterSeconds"], 2)
        self.assertEqual(self.req("GET", CM + "/a")[0], 200, "only the next N")
        self.ok("POST", "/fake/fault", {"code": 409, "method": "PUT"})
        self.assertEqual(self.req("PUT", CM + "/a", cm("a"))[0], 409)
        self.ok("POST", "/fake/fault", {"code": 500})
        code, st, _ = self.req("GET", CM)
        self.assertEqual((code, st["reason"]), (500, "InternalError"))

    def test_dropped_watch(self):
        w = self.watch(CM + "?watch=1")
        self.ok("POST", "/fake/watches", {"action": "drop", "path": "configmaps"})
        with self.assertRaises(ConnectionError):
            w.next()
        w2 = self.watch(CM + "?watch=1")  # a watch opened after the command is not affected
        self.ok("POST", CM, cm("a"))
        self.assertEqual(w2.next()["type"], "ADDED")
        # next-N watch fault: the stream is cut after one event
        self.ok("POST", "/fake/fault", {"action": "drop", "afterEvents": 1})
        w3 = self.watch(CM + "?watch=1")
        self.assertEqual(w3.next()["type"], "ADDED")
        with self.assertRaises(ConnectionError):
            w3.next()

    def test_half_open_watch(self):
        w = self.watch(CM + "?watch=1&allowWatchBookmarks=true")
        self.ok("POST", "/fake/watches", {"action": "hang"})
        time.sleep(0.3)
        self.ok("POST", CM, cm("a"))
        w.conn.sock.settimeout(1)
        with self.assertRaises(socket.timeout):
            w.next()
        self.ok("POST", "/fake/watches", {"action": "release"})

    def test_clock(self):
        c = self.ok("POST", "/fake/clock", {"offsetSeconds": 3600})
        self.assertEqual(c["offsetSeconds"], 3600)
        o = self.ok("POST", CM, cm("a"))
        ts = fk.parse_iso(o["metadata"]["creationTimestamp"])
        self.assertGreater(ts, time.time() + 3000)
        s = self.ok("GET", "/fake/stats")
        self.assertGreaterEqual(s["verb:create"], 1)
        # per client, verb and resource (with its subresource)
        self.assertGreaterEqual(s["res:none:create:configmaps"], 1)


class TestMisc(FakeTest):
    def test_too_large_rv_dry_run_and_delete_collection(self):
        rv = int(self.ok("GET", CM)["metadata"]["resourceVersion"])
        code, st, h = self.req("GET", CM + "?limit=5&resourceVersion=%d" % (rv + 100))
        self.assertEqual((code, st["details"]["causes"][0]["reason"], h.get("Retry-After")),
                         (504, "ResourceVersionTooLarge", "1"), "a list: HTTP 504")
        w = self.watch(CM + "?watch=1&resourceVersion=%d" % (rv + 100))
        e = w.next()
        self.assertEqual((e["type"], e["object"]["code"],
                          e["object"]["details"]["causes"][0]["reason"]),
                         ("ERROR", 504, "ResourceVersionTooLarge"), "a watch: 200 + ERROR")
        self.assertIsNone(w.next())
        d = self.ok("POST", CM + "?dryRun=All", cm("dry"))
        self.assertEqual(d["metadata"]["name"], "dry")
        self.assertEqual(self.req("GET", CM + "/dry")[0], 404, "dryRun writes nothing")
        for n in ("a", "b", "c"):
            self.ok("POST", CM, cm(n, labels={"g": "1" if n != "c" else "2"}))
        out = self.ok("DELETE", CM + "?labelSelector=g%3D1")
        self.assertEqual([o["metadata"]["name"] for o in out["items"]], ["a", "b"])
        self.assertEqual([o["metadata"]["name"] for o in self.ok("GET", CM)["items"]], ["c"])


    def test_builtin_validation(self):
        def invalid(path, body, field):
            code, st, _ = self.req("POST", path, body)
            self.assertEqual((code, st["reason"]), (422, "Invalid"), st)
            self.assertEqual(st["details"]["causes"][0]["field"], field)
        invalid("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                {"metadata": {"name": "s"}, "endpoints": [{"addresses": ["127.0.0.2"]}]},
                "addressType")
        self.ok("POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
            "metadata": {"name": "s"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.2"]}], "ports": [{"name": "http",
                                                                     "port": 8000}]})
        leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        invalid(leases, {"metadata": {"name": "l"}, "spec": {"renewTime": "2026-01-01 10:00"}},
                "spec.renewTime")
        self.ok("POST", leases, {"metadata": {"name": "l"}, "spec": {
            "holderIdentity": "a", "leaseDurationSeconds": 15,
            "renewTime": "2026-01-01T10:00:00.000000Z"}})
        d = deployment("d")
        d["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
        invalid(DEP, d, "spec.template.metadata.labels")
        invalid("/api/v1/namespaces/default/pods", {"metadata": {"name": "p"}, "spec": {}},
                "spec.containers")
        invalid("/api/v1/namespaces/default/events", {"metadata": {"name": "e"},
                                                      "involvedObject": {"kind": "Pod",
                                                                         "name": "p",
                                                                         "namespace": "x"}},
                "involvedObject.namespace")

    def test_abandoned_watch_is_reaped(self):
        w = self.watch(CM + "?watch=1")
        self.wait(lambda: self.ok("GET", "/fake/stats")["watchesOpen"] == 1)
        w.close()
        self.wait(lambda: self.ok("GET", "/fake/stats")["watchesOpen"] == 0)


class TestTLS(unittest.TestCase):
    """--tls-cert/--tls-key/--client-ca and --token: https with a bearer token or a client
    certificate, and a token that changes (POST /fake/token)."""

    def setUp(self):
        import shutil
        import subprocess
        import tempfile
        if not shutil.which("openssl") or not shutil.which("bash"):
            self.skipTest("no openssl")
        self.dir = tempfile.mkdtemp(prefix="fake-tls-")
        lib = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib.sh")
        subprocess.run(["bash", "-c", 'source "$1" && fake_tls_certs "$2"', "-", lib, self.dir],
                       check=True)
        d = self.dir
        opts = fk.main.__globals__["argparse"].Namespace(
            host="127.0.0.1", port=0, port_file=None, token="t1", ring_size=100,
            continue_ttl=300.0, bookmark_interval=60.0, watch_timeout=1800.0, verbose=False,
            tls_cert=d + "/server.crt", tls_key=d + "/server.key", client_ca=d + "/ca.crt")
        self.srv = fk.Server(("127.0.0.1", 0), opts)
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def tearDown(self):
        import shutil
        if hasattr(self, "srv"):
            self.srv.stop_evt.set()
            self.srv.shutdown()
            self.srv.server_close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def get(self, token=None, cert=False, path="/api/v1/namespaces"):
        import ssl
        ctx = ssl.create_default_context(cafile=self.dir + "/ca.crt")
        if cert:
            ctx.load_cert_chain(self.dir + "/client.crt", self.dir + "/client.key")
        c = http.client.HTTPSConnection("127.0.0.1", self.srv.server_address[1], context=ctx,
                                        timeout=10)
        c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def test_https_token_and_client_cert(self):
        self.assertEqual(self.get("t1")[0], 200)
        code, body = self.get("nope")
        self.assertEqual((code, json.loads(body)["reason"]), (401, "Unauthorized"))
        self.assertEqual(self.get(cert=True)[0], 200, "a client certificate of the CA")
        self.assertEqual(self.get(path="/fake/token")[0], 404, "control endpoints need no auth")
        import ssl
        ctx = ssl.create_default_context(cafile=self.dir + "/ca.crt")
        c = http.client.HTTPSConnection("127.0.0.1", self.srv.server_address[1], context=ctx)
        c.request("POST", "/fake/token", body='{"token":"t2"}')
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        self.assertEqual(self.get("t1")[0], 401, "the old token no longer works")
        self.assertEqual(self.get("t2")[0], 200)


class TestNamespaces(FakeTest):
    def test_terminating_namespace(self):
        self.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "t"}})
        self.ok("POST", "/api/v1/namespaces/t/configmaps", cm("a"))
        code, st, _ = self.req("POST", "/api/v1/namespaces/nope/configmaps", cm("a"))
        self.assertEqual(code, 404)
        self.ok("PATCH", "/api/v1/namespaces/t/configmaps/a", {"metadata": {"finalizers": ["f"]}},
                ctype="application/merge-patch+json")
        self.ok("DELETE", "/api/v1/namespaces/t")
        self.assertEqual(self.ok("GET", "/api/v1/namespaces/t")["status"]["phase"], "Terminating")
        code, st, _ = self.req("POST", "/api/v1/namespaces/t/configmaps", cm("b"))
        self.assertEqual((code, st["reason"]), (403, "Forbidden"))
        self.wait(lambda: "deletionTimestamp" in self.ok(
            "GET", "/api/v1/namespaces/t/configmaps/a")["metadata"])
        self.ok("PATCH", "/api/v1/namespaces/t/configmaps/a", {"metadata": {"finalizers": None}},
                ctype="application/merge-patch+json")
        self.wait(lambda: self.req("GET", "/api/v1/namespaces/t")[0] == 404)
        self.assertEqual(self.req("GET", "/api/v1/namespaces/t/configmaps/a")[0], 404)


if __name__ == "__main__":
    unittest.main()
