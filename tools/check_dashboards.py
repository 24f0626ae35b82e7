#!/usr/bin/python3
"""Checks that the alert rules and the Grafana dashboards use only metrics lavd exports.

    tools/check_dashboards.py [--repo DIR]

- The exported metrics are the backticked names in the first column of the tables in
  docs/observability.md (with their type and labels); a histogram also gives
  NAME_bucket / NAME_sum / NAME_count; Prometheus' own `up` is allowed too.
- Every metric named in an `expr` of prometheus/rules/*.yml, in a target, annotation or
  template variable query of grafana/*.json must be one of them, and every label matcher
  on it must name one of its labels (or job, instance; le on _bucket).
- Every alert has `for`, labels.severity and annotations summary + description.
- Each dashboard is valid JSON with a datasource template variable ({type: datasource,
  query: prometheus}), unique panel ids, every panel's and target's datasource
  {"type": "prometheus", "uid": "${datasource}"}, and only defined template variables.

Standard library plus python3-yaml only. Exit status 1 on any problem (all are listed).
"""

import argparse
import glob
import json
import os
import re
import sys

import yaml

HIST_SUFFIXES = ("_bucket", "_sum", "_count")
EXTRA_METRICS = {"up": {"type": "gauge", "labels": set()}}
TARGET_LABELS = {"job", "instance"}
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
GRAFANA_BUILTIN_VARS = {"__interval", "__interval_ms", "__rate_interval", "__range", "__range_s", "__range_ms",
                        "__from", "__to", "__dashboard", "__name", "__org", "__user", "timeFilter", "__timeFilter",
                        "__all", "__auto"}

# PromQL words that are not metric names
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                "quantile", "limitk", "limit_ratio"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
            "atan2", "inf", "nan", "start", "end"}


# ---------------------------------------------------------------------------------------
# docs/observability.md


def load_exported(doc_path):
    """{metric name: {"type": ..., "labels": set()}} from the markdown tables' rows."""
    metrics = {}
    with open(doc_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("|"):
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) < 3 or not cells[0] or set(cells[0]) <= set("-: "):
                continue
            names = re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)`", cells[0])
            if not names:
                continue  # the header row
            mtype = cells[1].strip("` ").lower() or None
            labels = {l.strip("` ") for l in cells[2].split(",") if l.strip("` ")}
            for n in names:
                metrics[n] = {"type": mtype, "labels": labels}
    return metrics


def resolve(name, exported):
    """(base name, info, suffix) if name is exported (directly or as a histogram series)."""
    if name in exported:
        return name, exported[name], ""
    if name in EXTRA_METRICS:
        return name, EXTRA_METRICS[name], ""
    for suf in HIST_SUFFIXES:
        if name.endswith(suf):
            base = name[: -len(suf)]
            info = exported.get(base)
            if info is not None and info["type"] == "histogram":
                return base, info, suf
    return None, None, None


# ---------------------------------------------------------------------------------------
# PromQL scanning (enough for metric names and their label matchers; not a parser)

TOKEN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'      # string literals
    r"|\$\{[^}]*\}|\$\w+|\[\[\w+\]\]"                      # template variables
    r"|\[[^\]]*\]"                                         # range / subquery durations
    r"|\{[^{}]*\}"                                         # label matchers
    r"|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*"  # numbers, durations
    r"|0[xX][0-9a-fA-F]+"
    r"|[A-Za-z_:][A-Za-z0-9_:]*"                           # identifiers
    r"|\S"
)
LABEL_LIST_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
MATCHER_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`)')


def metric_refs(expr):
    """[(metric name, label names in its matcher or None)] of a PromQL expression."""
    expr = LABEL_LIST_RE.sub(lambda m: m.group(1) + " ()", expr)
    toks = [m.group(0) for m in TOKEN_RE.finditer(expr)]
    refs = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", t):
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            low = t.lower()
            if nxt == "(" or low in KEYWORDS or low in AGGREGATIONS:
                i += 1
                continue
            labels = None
            if nxt.startswith("{"):
                labels = [m.group(1) for m in MATCHER_RE.finditer(nxt)]
                i += 1
            refs.append((t, labels))
        elif t.startswith("{"):
            # a selector without a metric name: {__name__="x", ...}
            for m in MATCHER_RE.finditer(t):
                if m.group(1) == "__name__" and m.group(2) == "=":
                    refs.append((m.group(3)[1:-1], [x.group(1) for x in MATCHER_RE.finditer(t) if x.group(1) != "__name__"]))
        i += 1
    return refs


CREATED_LABEL_RE = re.compile(r'\b(?:label_replace|label_join)\s*\(.*?,\s*"(\w+)"|\bcount_values\s*\(\s*"(\w+)"', re.S)


def check_expr(expr, where, exported, problems):
    """Metric names of expr (checked against the documented ones), their matchers' labels
    and the labels of by/without/on/ignoring/group_* lists (each must belong to one of the
    expression's metrics)."""
    names = []
    if not isinstance(expr, str) or not expr.strip():
        problems.append("%s: empty or non-string expr %r" % (where, expr))
        return names
    known = set(TARGET_LABELS) | {"__name__"}
    for a, b in CREATED_LABEL_RE.findall(expr):
        known.add(a or b)
    for name, labels in metric_refs(expr):
        base, info, suf = resolve(name, exported)
        if info is None:
            problems.append("%s: metric %r is not in docs/observability.md" % (where, name))
            continue
        names.append(name)
        allowed = info["labels"] | TARGET_LABELS | ({"le"} if suf == "_bucket" else set())
        known |= allowed
        for l in labels or []:
            if l not in allowed:
                problems.append("%s: %s has no label %r (documented: %s)" % (where, name, l, ", ".join(sorted(info["labels"])) or "none"))
    if names:
        for m in LABEL_LIST_RE.finditer(expr):
            for l in (x.strip() for x in m.group(2).split(",")):
                if l and l not in known:
                    problems.append("%s: `%s (%s)`: no metric of the expression has a label %r" % (where, m.group(1), m.group(2), l))
    return names


# ---------------------------------------------------------------------------------------
# Rules


def check_rules(paths, exported, problems):
    used = set()
    n_alerts = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            problems.append("%s: %s" % (path, e))
            continue
        groups = (doc or {}).get("groups") or []
        if not groups:
            problems.append("%s: no rule groups" % path)
        for g in groups:
            for r in g.get("rules") or []:
                name = r.get("alert") or r.get("record") or "?"
                where = "%s: group %s: %s" % (os.path.basename(path), g.get("name"), name)
                used.update(check_expr(r.get("expr"), where, exported, problems))
                if "alert" in r:
                    n_alerts += 1
                    if "for" not in r:
                        problems.append("%s: no `for`" % where)
                    if not (r.get("labels") or {}).get("severity"):
                        problems.append("%s: no labels.severity" % where)
                    ann = r.get("annotations") or {}
                    for k in ("summary", "description"):
                        if not ann.get(k):
                            problems.append("%s: no annotations.%s" % (where, k))
    return used, n_alerts


# ---------------------------------------------------------------------------------------
# Dashboards


def iter_panels(panels):
    for p in panels or []:
        yield p
        yield from iter_panels(p.get("panels"))


def var_query_exprs(v):
    """PromQL expressions inside a query variable's query (label_values(expr, label), query_result(expr))."""
    q = v.get("query")
    if isinstance(q, dict):
        q = q.get("query", "")
    q = (q or "").strip()
    out = []
    m = re.fullmatch(r"label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", q, re.S)
    if m:
        out.append(m.group(1))
    m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
    if m:
        out.append(m.group(1))
    # label_values(label) and label_names() name no metric; metrics(regex) lists names
    return out


def template_vars(text):
    """Names of the template variables a string uses: $name, ${name}, ${name:format}, [[name]]."""
    return {a or b or c for a, b, c in re.findall(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", text or "")}


def check_dashboard(path, exported, problems):
    used = set()
    where0 = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        problems.append("%s: not valid JSON: %s" % (where0, e))
        return used, 0
    if not isinstance(d, dict):
        problems.append("%s: not a dashboard object" % where0)
        return used, 0
    for k in ("uid", "title"):
        if not d.get(k):
            problems.append("%s: no %s" % (where0, k))
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 39:
        problems.append("%s: schemaVersion %r (want >= 39)" % (where0, d.get("schemaVersion")))

    tvars = (d.get("templating") or {}).get("list") or []
    var_names = {v.get("name") for v in tvars}
    ds_vars = [v for v in tvars if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    if not any(v.get("name") == "datasource" for v in ds_vars):
        problems.append("%s: no template variable `datasource` of type datasource with query prometheus" % where0)
    defined = var_names | GRAFANA_BUILTIN_VARS

    def check_vars(text, where):
        for name in template_vars(text):
            if name not in defined:
                problems.append("%s: template variable $%s is not defined" % (where, name))

    def check_ds(ds, where):
        if ds != DS_REF:
            problems.append("%s: datasource %r (want %r)" % (where, ds, DS_REF))

    for v in tvars:
        if v.get("type") == "query":
            where = "%s: variable %s" % (where0, v.get("name"))
            check_ds(v.get("datasource"), where)
            for e in var_query_exprs(v):
                check_vars(e, where)
                used.update(check_expr(e, where, exported, problems))

    for a in (d.get("annotations") or {}).get("list") or []:
        if a.get("builtIn"):
            continue
        where = "%s: annotation %s" % (where0, a.get("name"))
        check_ds(a.get("datasource"), where)
        if "expr" in a:
            check_vars(a["expr"], where)
            used.update(check_expr(a["expr"], where, exported, problems))

    ids = {}
    n_exprs = 0
    for p in iter_panels(d.get("panels")):
        pid = p.get("id")
        where = "%s: panel %r (%s)" % (where0, pid, p.get("title"))
        if not isinstance(pid, int):
            problems.append("%s: panel id is not an integer" % where)
        elif pid in ids:
            problems.append("%s: duplicate panel id (also %r)" % (where, ids[pid]))
        else:
            ids[pid] = p.get("title")
        gp = p.get("gridPos") or {}
        if not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")) or gp["x"] + gp["w"] > 24:
            problems.append("%s: bad gridPos %r" % (where, gp))
        if p.get("type") == "row":
            continue
        check_ds(p.get("datasource"), where)
        targets = p.get("targets") or []
        if not targets:
            problems.append("%s: no targets" % where)
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids):
            problems.append("%s: duplicate refIds %r" % (where, refids))
        for t in targets:
            tw = "%s target %s" % (where, t.get("refId"))
            if "datasource" in t:
                check_ds(t.get("datasource"), tw)
            check_vars(t.get("expr"), tw)
            used.update(check_expr(t.get("expr"), tw, exported, problems))
            n_exprs += 1
    return used, n_exprs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("-v", "--verbose", action="store_true", help="list the exported metrics nothing uses")
    args = ap.parse_args()
    repo = os.path.abspath(args.repo)
    problems = []

    doc = os.path.join(repo, "docs", "observability.md")
    exported = load_exported(doc)
    if len(exported) < 10:
        print("check_dashboards: only %d metrics found in %s" % (len(exported), doc), file=sys.stderr)
        return 1

    rule_files = sorted(glob.glob(os.path.join(repo, "prometheus", "rules", "*.yml")))
    if not rule_files:
        problems.append("no prometheus/rules/*.yml")
    used, n_alerts = check_rules(rule_files, exported, problems)

    n_exprs = 0
    for name in ("feature_store_qa.json", "liquidity_regime.json"):
        path = os.path.join(repo, "grafana", name)
        if not os.path.exists(path):
            problems.append("missing grafana/%s" % name)
            continue
        u, n = check_dashboard(path, exported, problems)
        used |= u
        n_exprs += n

    if problems:
        for p in problems:
            print("check_dashboards: " + p, file=sys.stderr)
        print("check_dashboards: %d problem(s)" % len(problems), file=sys.stderr)
        return 1
    bases = {resolve(n, exported)[0] for n in used}
    print("check_dashboards: OK: %d alerts in %d rule file(s), %d dashboard queries; %d of %d documented metrics used"
          % (n_alerts, len(rule_files), n_exprs, len(bases - {"up"}), len(exported)))
    if args.verbose:
        print("unused: " + ", ".join(sorted(set(exported) - bases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
