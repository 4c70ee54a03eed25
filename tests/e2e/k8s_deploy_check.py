#!/usr/bin/env python3
"""Checks of deploy/ as `kubectl kustomize deploy/` renders it (test_k8s_deploy.sh).

Reads the rendered objects as JSON (one JSON document, a list of objects) from
argv[1] and checks them against AIBrix's facts written below: every CRD's
group, versions, kind, names, scope, subresources, printer columns and
fields; structural schemas; RBAC inside an allow-list; the Deployments'
security settings and probes; the gateway Service. Prints one line per
problem and exits 1 if there is any. Python standard library only.
"""
import json
import sys

errors = []


def err(msg):
    errors.append(msg)


# ---------------------------------------------------------------- CRD facts
# AIBrix's CRDs (docs/kubernetes.md "The objects"): kind -> facts.
COND_META = ["type", "status", "lastTransitionTime", "reason", "message", "observedGeneration"]
CRDS = {
    "ModelAdapter": dict(
        group="model.aibrix.ai", plural="modeladapters", singular="modeladapter",
        subresources={"status": {}},
        columns=[("Phase", "string", ".status.phase"),
                 ("Desired", "integer", ".status.desiredReplicas"),
                 ("Ready", "integer", ".status.readyReplicas"),
                 ("Candidates", "integer", ".status.candidates"),
                 ("Model Path", "string", ".spec.artifactURL"),
                 ("Age", "date", ".metadata.creationTimestamp")],
        spec=["baseModel", "podSelector", "schedulerName", "artifactURL",
              "credentialsSecretRef", "replicas", "additionalConfig"],
        required=["podSelector", "artifactURL"],
        status=["phase", "candidates", "readyReplicas", "desiredReplicas",
                "conditions", "instances"],
        enums={"spec.replicas": [1]},
        preserve=[]),
    "PodAutoscaler": dict(
        group="autoscaling.aibrix.ai", plural="podautoscalers", singular="podautoscaler",
        subresources={"status": {}},
        columns=[("MINPODS", "integer", ".spec.minReplicas"),
                 ("MAXPODS", "integer", ".spec.maxReplicas"),
                 ("REPLICAS", "integer", ".status.actualScale"),
                 ("STRATEGY", "string", ".spec.scalingStrategy"),
                 ("AGE", "date", ".metadata.creationTimestamp")],
        spec=["scaleTargetRef", "subTargetSelector", "minReplicas", "maxReplicas",
              "schedules", "metricsSources", "observeWindowSeconds",
              "panicWindowSeconds", "scalingStrategy"],
        required=["scaleTargetRef", "maxReplicas", "scalingStrategy"],
        status=["lastScaleTime", "desiredScale", "actualScale", "conditions",
                "scalingHistory", "scheduledBounds"],
        enums={"spec.scalingStrategy": ["HPA", "KPA", "APA"],
               "spec.metricsSources[].metricSourceType":
                   ["pod", "resource", "custom", "external", "domain"],
               "spec.metricsSources[].protocolType": ["http", "https"]},
        preserve=[]),
    "RayClusterFleet": dict(
        group="orchestration.aibrix.ai", plural="rayclusterfleets", singular="rayclusterfleet",
        subresources={"status": {}, "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.scalingTargetSelector"}},
        columns=[],
        spec=["replicas", "selector", "template", "strategy", "minReadySeconds",
              "revisionHistoryLimit", "paused", "progressDeadlineSeconds"],
        required=["selector", "template"],
        status=["observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                "availableReplicas", "unavailableReplicas", "conditions",
                "collisionCount", "scalingTargetSelector"],
        enums={},
        # template.spec is KubeRay's RayClusterSpec, validated by the RayCluster CRD.
        preserve=["spec.template.spec"]),
    "RayClusterReplicaSet": dict(
        group="orchestration.aibrix.ai", plural="rayclusterreplicasets",
        singular="rayclusterreplicaset",
        subresources={"status": {}},
        columns=[],
        spec=["replicas", "minReadySeconds", "selector", "template"],
        required=["selector"],
        status=["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                "observedGeneration", "conditions"],
        enums={},
        preserve=["spec.template.spec"]),
    "StormService": dict(
        group="orchestration.aibrix.ai", plural="stormservices", singular="stormservice",
        subresources={"status": {}, "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.scalingTargetSelector"}},
        columns=[("Replicas", "integer", ".spec.replicas"),
                 ("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
                 ("Paused", "boolean", ".spec.paused"),
                 ("Age", "date", ".metadata.creationTimestamp")],
        spec=["replicas", "selector", "stateful", "template", "updateStrategy",
              "revisionHistoryLimit", "paused", "disruptionTolerance"],
        required=["selector", "template"],
        status=["observedGeneration", "replicas", "readyReplicas", "currentRevision",
                "updateRevision", "conditions", "collisionCount", "scalingTargetSelector",
                "roleStatuses"],
        enums={"spec.updateStrategy.type": ["RollingUpdate", "InPlaceUpdate"]},
        # The RoleSet spec is partly modelled (docs/kubernetes.md): these keep the rest.
        preserve=["spec.template.spec", "spec.template.spec.roles[]",
                  "spec.template.spec.roles[].updateStrategy",
                  "spec.template.spec.roles[].template.spec",
                  "spec.template.spec.schedulingStrategy"]),
    "RoleSet": dict(
        group="orchestration.aibrix.ai", plural="rolesets", singular="roleset",
        subresources={"status": {}},
        columns=[("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
                 ("Age", "date", ".metadata.creationTimestamp")],
        spec=["roles", "updateStrategy", "schedulingStrategy", "topologyPolicy"],
        required=[],
        status=["conditions"],
        enums={},
        preserve=["spec", "spec.roles[]", "spec.roles[].updateStrategy",
                  "spec.roles[].template.spec", "spec.schedulingStrategy", "status"]),
}

# Keywords a structural schema may use at a node (apiextensions.k8s.io/v1).
NODE_KEYS = {"type", "format", "description", "properties", "items", "required", "enum",
             "default", "minimum", "maximum", "minLength", "maxLength", "minItems",
             "maxItems", "pattern", "additionalProperties", "nullable", "anyOf",
             "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
             "x-kubernetes-map-type", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"}


def walk_schema(kind, node, path, preserved):
    """Structural-schema rules: every node typed (or int-or-string), no unknown
    keywords, preserve-unknown-fields only where allowed, properties and
    additionalProperties never together."""
    where = "%s schema %s" % (kind, path or "<root>")
    if not isinstance(node, dict):
        err(where + ": not an object")
        return
    for k in node:
        if k not in NODE_KEYS:
            err(where + ": unexpected keyword " + k)
    if node.get("x-kubernetes-int-or-string"):
        if "type" in node:
            err(where + ": int-or-string with a type")
    elif "type" not in node:
        err(where + ": no type")
    if node.get("x-kubernetes-preserve-unknown-fields"):
        preserved.append(path)
        if node.get("type") != "object":
            err(where + ": preserve-unknown-fields on a non-object")
    if "properties" in node and "additionalProperties" in node:
        err(where + ": properties and additionalProperties together")
    req = node.get("required", [])
    for r in req:
        if r not in node.get("properties", {}):
            err(where + ": required field %s not among its properties" % r)
    for name, sub in node.get("properties", {}).items():
        walk_schema(kind, sub, (path + "." if path else "") + name, preserved)
    if "items" in node:
        walk_schema(kind, node["items"], path + "[]", preserved)
    if isinstance(node.get("additionalProperties"), dict):
        walk_schema(kind, node["additionalProperties"], path + "{}", preserved)


def sub_schema(root, dotted):
    node = root
    for part in dotted.split("."):
        arr = part.endswith("[]")
        node = node.get("properties", {}).get(part[:-2] if arr else part)
        if node is None:
            return None
        if arr:
            node = node.get("items", {})
    return node


def check_crd(obj):
    names = obj["spec"]["names"]
    kind = names["kind"]
    facts = CRDS.get(kind)
    if facts is None:
        err("CRD of unexpected kind " + kind)
        return
    spec = obj["spec"]
    want_name = "%s.%s" % (facts["plural"], facts["group"])
    if obj["metadata"]["name"] != want_name:
        err("%s: CRD name %s, want %s" % (kind, obj["metadata"]["name"], want_name))
    if spec["group"] != facts["group"]:
        err("%s: group %s, want %s" % (kind, spec["group"], facts["group"]))
    if spec.get("scope") != "Namespaced":
        err(kind + ": not Namespaced")
    if names.get("plural") != facts["plural"] or names.get("singular") != facts["singular"]:
        err("%s: names %s" % (kind, names))
    if names.get("listKind") != kind + "List":
        err(kind + ": listKind")
    for k in ("shortNames", "categories"):
        if names.get(k):
            err("%s: %s %s (AIBrix has none)" % (kind, k, names[k]))
    vers = spec["versions"]
    if [v["name"] for v in vers] != ["v1alpha1"]:
        err("%s: versions %s, want [v1alpha1]" % (kind, [v["name"] for v in vers]))
        return
    v = vers[0]
    if not (v.get("served") and v.get("storage")):
        err(kind + ": v1alpha1 not served and stored")
    if v.get("subresources") != facts["subresources"]:
        err("%s: subresources %s, want %s" % (kind, v.get("subresources"), facts["subresources"]))
    cols = [(c["name"], c["type"], c["jsonPath"]) for c in v.get("additionalPrinterColumns", [])]
    if cols != facts["columns"]:
        err("%s: printer columns %s, want %s" % (kind, cols, facts["columns"]))
    root = v["schema"]["openAPIV3Schema"]
    preserved = []
    walk_schema(kind, root, "", preserved)
    if root.get("properties", {}).get("metadata") != {"type": "object"}:
        err(kind + ": root metadata must be just {type: object}")
    s = root["properties"].get("spec", {})
    for f in facts["spec"]:
        if f not in s.get("properties", {}):
            err("%s: spec.%s missing" % (kind, f))
    if sorted(s.get("required", [])) != sorted(facts["required"]):
        err("%s: spec required %s, want %s" % (kind, s.get("required"), facts["required"]))
    st = root["properties"].get("status", {})
    for f in facts["status"]:
        if f not in st.get("properties", {}):
            err("%s: status.%s missing" % (kind, f))
    for dotted, want in facts["enums"].items():
        node = sub_schema(root, dotted)
        if node is None or node.get("enum") != want:
            err("%s: %s enum %s, want %s" % (kind, dotted, node and node.get("enum"), want))
    if sorted(preserved) != sorted(facts["preserve"]):
        err("%s: x-kubernetes-preserve-unknown-fields at %s, allowed only at %s"
            % (kind, sorted(preserved), sorted(facts["preserve"])))
    for sr in ("scale",):
        sc = v.get("subresources", {}).get(sr)
        if sc:
            sel = sub_schema(root, sc["labelSelectorPath"].lstrip("."))
            if sel is None or sel.get("type") != "string":
                err(kind + ": labelSelectorPath must point at a string field")


# ---------------------------------------------------------------- RBAC
# Allow-list: (role kind, role name) -> {(apiGroup, resource): verbs allowed}.
READ = {"get", "list", "watch"}
WRITE = READ | {"create", "update", "patch", "delete"}
RBAC_ALLOW = {
    ("ClusterRole", "brix-controller"): {
        ("model.aibrix.ai", "modeladapters"): READ | {"update", "patch"},
        ("model.aibrix.ai", "modeladapters/status"): {"get", "update", "patch"},
        ("model.aibrix.ai", "modeladapters/finalizers"): {"update"},
        ("autoscaling.aibrix.ai", "podautoscalers"): READ | {"update", "patch"},
        ("autoscaling.aibrix.ai", "podautoscalers/status"): {"get", "update", "patch"},
        ("", "pods"): READ,
        ("apps", "deployments"): READ | {"update", "patch"},
        ("apps", "deployments/scale"): {"get", "update", "patch"},
        ("apps", "statefulsets"): READ,
        ("apps", "statefulsets/scale"): {"get", "update", "patch"},
        # the fleet and replica-set controllers (issue 17): they own what they create
        ("orchestration.aibrix.ai", "rayclusterfleets"): WRITE,
        ("orchestration.aibrix.ai", "rayclusterreplicasets"): WRITE,
        ("orchestration.aibrix.ai", "rayclusterfleets/status"): {"get", "update", "patch"},
        ("orchestration.aibrix.ai", "rayclusterreplicasets/status"): {"get", "update", "patch"},
        ("orchestration.aibrix.ai", "rayclusterfleets/finalizers"): {"update"},
        ("orchestration.aibrix.ai", "rayclusterreplicasets/finalizers"): {"update"},
        ("ray.io", "rayclusters"): WRITE,
        ("ray.io", "rayclusters/status"): {"get", "update", "patch"},
        ("ray.io", "rayclusters/finalizers"): {"update"},
        ("orchestration.aibrix.ai", "stormservices"): READ,
        ("orchestration.aibrix.ai", "rayclusterfleets/scale"): {"get", "update", "patch"},
        ("orchestration.aibrix.ai", "stormservices/scale"): {"get", "update", "patch"},
        ("", "services"): READ | {"create", "update", "patch", "delete"},
        ("discovery.k8s.io", "endpointslices"): READ | {"create", "update", "patch", "delete"},
        ("", "events"): {"create", "patch"},
    },
    ("Role", "brix-controller-leader-election"): {
        ("coordination.k8s.io", "leases"): {"create", "get", "update"},
    },
    # exactly what gw_k8s.c's two reflectors do: LIST and WATCH, nothing else
    ("ClusterRole", "brix-gateway"): {
        ("", "pods"): {"list", "watch"},
        ("model.aibrix.ai", "modeladapters"): {"list", "watch"},
    },
}
# What the controller and the gateway need at least (the rules must not lose these).
RBAC_NEED = {
    ("ClusterRole", "brix-controller"): [
        ("model.aibrix.ai", "modeladapters", "watch"), ("model.aibrix.ai", "modeladapters", "update"),
        ("model.aibrix.ai", "modeladapters/status", "update"),
        ("model.aibrix.ai", "modeladapters/finalizers", "update"),
        ("autoscaling.aibrix.ai", "podautoscalers/status", "update"),
        ("", "pods", "watch"), ("apps", "deployments/scale", "update"),
        ("apps", "statefulsets", "watch"), ("apps", "statefulsets/scale", "get"),
        ("apps", "statefulsets/scale", "patch"),
        ("orchestration.aibrix.ai", "stormservices", "watch"),
        ("orchestration.aibrix.ai", "stormservices/scale", "patch"),
        ("orchestration.aibrix.ai", "rayclusterfleets", "watch"),
        ("orchestration.aibrix.ai", "rayclusterfleets/scale", "patch"),
        ("orchestration.aibrix.ai", "rayclusterreplicasets", "create"),
        ("orchestration.aibrix.ai", "rayclusterreplicasets", "update"),
        ("orchestration.aibrix.ai", "rayclusterreplicasets", "delete"),
        ("orchestration.aibrix.ai", "rayclusterreplicasets/status", "patch"),
        ("orchestration.aibrix.ai", "rayclusterfleets/status", "patch"),
        ("orchestration.aibrix.ai", "rayclusterfleets/finalizers", "update"),
        ("orchestration.aibrix.ai", "rayclusterreplicasets/finalizers", "update"),
        ("ray.io", "rayclusters", "watch"), ("ray.io", "rayclusters", "create"),
        ("ray.io", "rayclusters", "delete"),
        ("", "services", "list"), ("", "services", "watch"), ("", "services", "create"),
        ("", "services", "patch"), ("", "services", "delete"),
        ("discovery.k8s.io", "endpointslices", "list"), ("discovery.k8s.io", "endpointslices", "watch"),
        ("discovery.k8s.io", "endpointslices", "create"), ("discovery.k8s.io", "endpointslices", "patch"),
        ("discovery.k8s.io", "endpointslices", "delete"),
        ("", "events", "create")],
    ("Role", "brix-controller-leader-election"): [
        ("coordination.k8s.io", "leases", "create"), ("coordination.k8s.io", "leases", "update")],
    ("ClusterRole", "brix-gateway"): [
        ("", "pods", "list"), ("", "pods", "watch"),
        ("model.aibrix.ai", "modeladapters", "list"), ("model.aibrix.ai", "modeladapters", "watch")],
}
BINDINGS = {("ClusterRoleBinding", "brix-controller"): ("ClusterRole", "brix-controller", "brix-controller"),
            ("RoleBinding", "brix-controller-leader-election"):
                ("Role", "brix-controller-leader-election", "brix-controller"),
            ("ClusterRoleBinding", "brix-gateway"): ("ClusterRole", "brix-gateway", "brix-gateway")}


def check_role(obj):
    key = (obj["kind"], obj["metadata"]["name"])
    allow = RBAC_ALLOW.get(key)
    if allow is None:
        err("unexpected %s %s" % key)
        return
    if obj["kind"] == "Role" and obj["metadata"].get("namespace") != "brix-system":
        err("Role %s outside brix-system" % key[1])
    granted = set()
    for rule in obj.get("rules", []):
        if rule.get("nonResourceURLs"):
            err("%s %s: nonResourceURLs" % key)
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            if "*" in rule.get(field, []) or any("*" in x for x in rule.get(field, [])):
                err("%s %s: wildcard in %s" % (key + (field,)))
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                if r.split("/")[0] in ("secrets", "configmaps", "serviceaccounts", "roles",
                                       "clusterroles", "rolebindings", "clusterrolebindings",
                                       "nodes") or r in ("pods/exec", "pods/attach",
                                                         "pods/portforward", "serviceaccounts/token"):
                    err("%s %s: sensitive resource %s" % (key + (r,)))
                for verb in rule.get("verbs", []):
                    if verb in ("escalate", "bind", "impersonate", "deletecollection"):
                        err("%s %s: verb %s" % (key + (verb,)))
                    if verb not in allow.get((g, r), set()):
                        err("%s %s grants %s on %s/%s outside the allow-list" % (key + (verb, g, r)))
                    granted.add((g, r, verb))
    for need in RBAC_NEED[key]:
        if need not in granted:
            err("%s %s lacks %s" % (key + (need,)))


def check_binding(obj):
    key = (obj["kind"], obj["metadata"]["name"])
    want = BINDINGS.get(key)
    if want is None:
        err("unexpected %s %s" % key)
        return
    ref = obj["roleRef"]
    if (ref["kind"], ref["name"]) != want[:2]:
        err("%s %s binds %s" % (key + (ref,)))
    subs = obj.get("subjects", [])
    if subs != [{"kind": "ServiceAccount", "name": want[2], "namespace": "brix-system"}]:
        err("%s %s subjects %s" % (key + (subs,)))


# ---------------------------------------------------------------- workloads
def check_deployment(obj, sas):
    name = obj["metadata"]["name"]
    pod = obj["spec"]["template"]["spec"]
    labels = obj["spec"]["template"]["metadata"].get("labels", {})
    for k, v in obj["spec"]["selector"]["matchLabels"].items():
        if labels.get(k) != v:
            err(name + ": selector does not match the pod template")
    if pod.get("serviceAccountName") not in sas:
        err("%s: service account %s not in deploy/" % (name, pod.get("serviceAccountName")))
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot") or not psc.get("runAsUser"):
        err(name + ": pod not runAsNonRoot with a numeric runAsUser")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        err(name + ": no RuntimeDefault seccomp profile")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        err(name + ": host namespaces")
    for c in pod["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            err(name + ": allowPrivilegeEscalation not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            err(name + ": root filesystem not read-only")
        if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
            err(name + ": capabilities not drop [ALL]")
        if sc.get("privileged"):
            err(name + ": privileged")
        for p in ("livenessProbe", "readinessProbe"):
            if p not in c:
                err("%s: no %s" % (name, p))
        if not c.get("resources", {}).get("requests") or \
                not c.get("resources", {}).get("limits", {}).get("memory"):
            err(name + ": resources without requests or a memory limit")
        if c.get("image") != "brix:0.1.0":
            err("%s: image %s, want brix:0.1.0 (kustomization images)" % (name, c.get("image")))
    return pod["containers"][0].get("args", [])


def main():
    objs = json.load(open(sys.argv[1]))
    kinds = {}
    for o in objs:
        kinds.setdefault(o["kind"], []).append(o)
        ns = o["metadata"].get("namespace")
        cluster = o["kind"] in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                                "ClusterRoleBinding")
        if cluster and ns:
            err("%s %s has a namespace" % (o["kind"], o["metadata"]["name"]))
        if not cluster and ns != "brix-system":
            err("%s %s in namespace %s, want brix-system" % (o["kind"], o["metadata"]["name"], ns))
    if [n["metadata"]["name"] for n in kinds.get("Namespace", [])] != ["brix-system"]:
        err("want exactly the namespace brix-system")
    crds = kinds.get("CustomResourceDefinition", [])
    got = sorted(c["spec"]["names"]["kind"] for c in crds)
    if got != sorted(CRDS):
        err("CRDs %s, want %s" % (got, sorted(CRDS)))
    for c in crds:
        check_crd(c)
    for k in ("ClusterRole", "Role"):
        for r in kinds.get(k, []):
            check_role(r)
    roles = {(r["kind"], r["metadata"]["name"]) for k in ("ClusterRole", "Role") for r in kinds.get(k, [])}
    if roles != set(RBAC_ALLOW):
        err("roles %s, want %s" % (sorted(roles), sorted(RBAC_ALLOW)))
    for k in ("ClusterRoleBinding", "RoleBinding"):
        for b in kinds.get(k, []):
            check_binding(b)
    sas = {s["metadata"]["name"] for s in kinds.get("ServiceAccount", [])}
    if sas != {"brix-controller", "brix-gateway"}:
        err("service accounts %s" % sorted(sas))
    deps = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
    if sorted(deps) != ["brix-controller", "brix-gateway"]:
        err("deployments %s" % sorted(deps))
    else:
        args = check_deployment(deps["brix-controller"], sas)
        if args[:1] != ["controller"] or "--leader-elect" not in args:
            err("controller args %s" % args)
        args = check_deployment(deps["brix-gateway"], sas)
        if args[:1] != ["gateway"] or "--kubernetes" not in args:
            err("gateway args %s" % args)
        if deps["brix-gateway"]["spec"]["replicas"] < 2:
            err("gateway: fewer than 2 replicas")
        svc = [s for s in kinds.get("Service", []) if s["metadata"]["name"] == "brix-gateway"]
        if len(svc) != 1:
            err("no Service brix-gateway")
        else:
            tpl = deps["brix-gateway"]["spec"]["template"]
            labels = tpl["metadata"]["labels"]
            if any(labels.get(k) != v for k, v in svc[0]["spec"]["selector"].items()):
                err("Service brix-gateway does not select the gateway pods")
            cports = {p["name"] for c in tpl["spec"]["containers"] for p in c.get("ports", [])}
            for p in svc[0]["spec"]["ports"]:
                if p["targetPort"] not in cports:
                    err("Service port %s targets %s, not a gateway port" % (p["name"], p["targetPort"]))
    for e in errors:
        print("  " + e)
    print("%d objects checked, %d problems" % (len(objs), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
