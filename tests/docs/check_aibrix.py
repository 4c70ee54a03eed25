#!/usr/bin/env python3
"""Keeps docs/aibrix.md true to deploy/crds: every field of every CRD schema
has a row in its kind's "## <Kind> fields" table (or is under a `path.*` row),
no row names a field the schema lacks, every verdict is one of the four, and
every CRD kind is in the Objects table.

With --metrics FILE (a gateway's /metrics after traffic), every gateway_*
family it exports has a row in "Gateway metrics" marked same or better, and
every row so marked is exported.

usage: check_aibrix.py REPO_ROOT [--metrics FILE]"""
import glob
import os
import re
import sys

import yaml

VERDICTS = {"same", "better", "accepted", "unsupported"}


def walk(schema, prefix, out):
    for key, sub in (schema.get("properties") or {}).items():
        path = prefix + "." + key if prefix else key
        out.append(path)
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            walk(sub["items"], path + "[]", out)
        else:
            walk(sub, path, out)


def sections(doc):
    """{heading: [table rows as lists of cells]}"""
    out, cur = {}, None
    for line in doc.splitlines():
        m = re.match(r"^##+ (.*)$", line)
        if m:
            cur = m.group(1).strip()
            out[cur] = []
            continue
        if cur and line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            out[cur].append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def check_metrics(secs, text):
    errors = []
    rows = secs.get("Gateway metrics")
    if not rows:
        return ["no '## Gateway metrics' table"]
    table = {}
    for r in rows[1:]:
        m = re.match(r"^`([^`]+)`$", r[0])
        if not m or len(r) < 3 or any(v not in VERDICTS for v in r[1:3]):
            errors.append("Gateway metrics: malformed row %r" % (r,))
            continue
        table[m.group(1)] = r[1:3]
    exported = set(re.findall(r"^# TYPE (gateway_[a-z0-9_]+) ", text, re.M))
    if not exported:
        errors.append("the scrape has no gateway_* family")
    for name in sorted(exported):
        if name not in table:
            errors.append("gateway exports `%s`, which has no row" % name)
        elif "unsupported" in table[name] or "accepted" in table[name]:
            errors.append("gateway exports `%s`, marked %s" % (name, table[name]))
    for name, v in sorted(table.items()):
        if ("same" in v or "better" in v) and name not in exported:
            errors.append("`%s` is marked %s but the gateway does not export it" % (name, v))
    return errors


def main():
    root = sys.argv[1]
    doc = open(os.path.join(root, "docs/aibrix.md")).read()
    secs = sections(doc)
    errors = []
    objects = " ".join(r[0] for r in secs.get("Objects", []))
    crds = sorted(glob.glob(os.path.join(root, "deploy/crds/*.*.yaml")))
    if not crds:
        errors.append("no CRDs under deploy/crds")
    checked = 0
    for f in crds:
        crd = yaml.safe_load(open(f))
        kind = crd["spec"]["names"]["kind"]
        if not re.search(r"\b%s\b" % re.escape(kind), objects):
            errors.append("%s: not in the Objects table" % kind)
        title = "%s fields" % kind
        rows = secs.get(title)
        if rows is None:
            errors.append("%s: no '## %s' section" % (kind, title))
            continue
        table = {}
        for r in rows[1:]:  # rows[0] is the header
            m = re.match(r"^`([^`]+)`$", r[0])
            if not m or len(r) < 3:
                errors.append("%s: malformed row %r" % (title, r))
                continue
            for v in r[1:3]:
                if v not in VERDICTS:
                    errors.append("%s: `%s`: verdict %r not one of %s" %
                                  (title, m.group(1), v, sorted(VERDICTS)))
            table[m.group(1)] = r
        fields = []
        for ver in crd["spec"]["versions"]:
            walk(ver["schema"]["openAPIV3Schema"], "", fields)
        fields = sorted(set(fields))
        for p in fields:
            checked += 1
            if p in table:
                continue
            parts = p.split(".")
            if not any(".".join(parts[:i]) + ".*" in table for i in range(1, len(parts))):
                errors.append("%s: field `%s` has no row" % (title, p))
        for p in table:
            base = p[:-2] if p.endswith(".*") else p
            if base not in fields:
                errors.append("%s: row `%s` names no field of the CRD" % (title, p))
    if "--metrics" in sys.argv:
        errors += check_metrics(secs, open(sys.argv[sys.argv.index("--metrics") + 1]).read())
    for e in errors:
        print("docs/aibrix.md:", e)
    print("%d CRDs, %d fields checked, %d errors" % (len(crds), checked, len(errors)))
    return 1 if errors or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
