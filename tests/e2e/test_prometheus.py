"""GET /metrics scraped by a real Prometheus (docs/observability.md).

A lavd in mock mode (ORACLE_SOURCE_MODE=mock, semáforo on a 1 s grid so that grid points
appear within seconds, a private redis-server) is scraped every second by Debian's `prometheus` binary, which
also evaluates the repository's alert rules (prometheus/rules/*.yml). Then:

- the target is up and the rule groups are all loaded and evaluated without errors;
- every query of both Grafana dashboards (panel targets, annotations, template variable
  queries), with the template variables substituted, runs as an instant query and as a
  range query over the last minute: status success, and data for every query except the
  few listed in MAY_BE_EMPTY with the reason.

Needs /usr/bin/prometheus (or LAV_PROMETHEUS_BIN); the module is skipped without it.
"""

import glob
import json
import os
import re
import signal
import subprocess
import time

import pytest
import requests
import yaml

import lavhelpers as lh
import wshelpers as wh

PROMETHEUS = os.environ.get("LAV_PROMETHEUS_BIN") or "/usr/bin/prometheus"
if not (os.path.isfile(PROMETHEUS) and os.access(PROMETHEUS, os.X_OK)):
    pytest.skip("%s is not installed (Debian: apt-get install prometheus); CI installs it" % PROMETHEUS,
                allow_module_level=True)

GRAFANA_DIR = os.path.join(lh.REPO, "grafana")
DASHBOARDS = ("feature_store_qa.json", "liquidity_regime.json")
RULES_GLOB = os.path.join(lh.REPO, "prometheus", "rules", "*.yml")
JOB = "lavd"
SCRAPES = 20  # scrapes (1 s apart) to wait for before querying: every rate over [1m] has points

# Queries allowed to return no data against a freshly started mock-mode lavd, and why.
# Keyed by (dashboard file, panel title or "annotation: name", refId). Everything else
# must return data: lavd exports its counters at 0 for every feature / source / endpoint /
# type from the start (outliers, out-of-range flags, DQ rejections, source requests in mock
# mode are all 0, not absent), and the test itself sends one request to every read
# endpoint and opens and closes WebSocket sessions.
MAY_BE_EMPTY = {
    # marks steps where the semáforo's state changed; a flip needs its candidate to hold
    # for the 24 h confirmation window, so none happens during the test
    ("liquidity_regime.json", "annotation: Semáforo flips", "-"):
        "no semáforo state change during the test",
}

HTTP_TIMEOUT = 10.0


# =======================================================================================
# Prometheus


class Prometheus:
    """One prometheus process on a free loopback port with its own TSDB directory."""

    def __init__(self, workdir, lavd_target):
        self.workdir = str(workdir)
        self.target = lavd_target
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.workdir, "prometheus.log")
        self.config_path = os.path.join(self.workdir, "prometheus.yml")
        self._log = None

    def write_config(self):
        cfg = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [RULES_GLOB],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [self.target]}]}],
        }
        with open(self.config_path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)

    def start(self, timeout=30.0):
        self.write_config()
        for attempt in range(3):
            self.port = lh.free_port()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [PROMETHEUS,
                 "--config.file=" + self.config_path,
                 "--storage.tsdb.path=" + os.path.join(self.workdir, "data-%d" % attempt),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--storage.tsdb.retention.time=1d",
                 "--log.level=info"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if requests.get(self.url("/-/ready"), timeout=1.0).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            log = self.log_tail()
            self.stop()
            if re.search(r"address already in use", log, re.I) and attempt < 2:
                continue
            pytest.fail("prometheus did not become ready:\n%s" % log, pytrace=False)
        return self

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def api(self, path, **params):
        r = requests.get(self.url("/api/v1/" + path), params=params, timeout=HTTP_TIMEOUT)
        try:
            body = r.json()
        except ValueError:
            body = {"status": "error", "error": "HTTP %d: %r" % (r.status_code, r.text[:300])}
        return body

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout=15.0):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


# =======================================================================================
# Fixtures


@pytest.fixture(scope="module")
def mockd(lavd_factory, tmp_path_factory):
    """lavd in mock mode with the semáforo on a 1 s grid, no tokens, and a private
    redis-server (the suite's shared Redis would carry this lavd's mock points and regime
    events over pub/sub to the other lavds of the run)."""
    rs = lh.PrivateRedis(tmp_path_factory.mktemp("prometheus-redis"))
    rs.start()
    try:
        d = lavd_factory("lavd-prometheus", auth=False, redis=rs.url,
                         overrides={"ORACLE_SOURCE_MODE": "mock", "LAV_MOCK_SEED": "4242",
                                    "LIQ_SCORE_GRID_STEP": "1s", "LIQ_SCORE_GRID_DELAY": "1s",
                                    "FEATURE_API_RATE_LIMIT_RPM": "1000000"})
        lh.wait_store_settled(d, timeout=30)
        # the gap repair fills the mock history; the grid catches up and then ticks every second
        ok = lh.poll(lambda: d.get("/api/liquidity/v1/regime/latest").status_code == 200, timeout=60, interval=0.5)
        assert ok, "no semáforo grid point within 60 s: %s" % d.get("/api/liquidity/v1/regime/latest").text[:300]
        yield d
        d.stop(timeout=5)  # before its Redis goes away (lavd_factory stops it again: a no-op)
    finally:
        rs.stop()


def _traffic(d):
    """One successful request to every read endpoint (feature_query_duration_seconds by
    endpoint), a 404, and WebSocket sessions: one closed (lav_ws_closes_total), one kept
    open with a subscription."""
    now = lh.now_us()
    reqs = [
        ("GET", "/api/features/v1/catalog", None),
        ("GET", "/api/features/v1/latest?featureId=crypto/btc/price_usd", None),
        ("POST", "/api/features/v1/query", {"featureIds": ["crypto/btc/price_usd"],
                                            "since": lh.fmt_ts(now - lh.US_HOUR), "until": lh.fmt_ts(now)}),
        ("GET", "/api/liquidity/v1/regime/latest", None),
        ("GET", "/api/liquidity/v1/scoreboard", None),
        ("GET", "/api/liquidity/v1/hints", None),
        ("GET", "/api/liquidity/v1/history?since=%s&until=%s" % (lh.fmt_ts(now - lh.US_MIN), lh.fmt_ts(now)), None),
    ]
    for method, path, body in reqs:
        r = d.request(method, path, json=body) if body is not None else d.request(method, path)
        assert r.status_code == 200, "%s %s answered %d: %s" % (method, path, r.status_code, r.text[:300])
    assert d.get("/no/such/route").status_code == 404
    c = wh.WSClient(d, name="closed")
    c.subscribe(["regime"])
    c.close()
    keep = wh.WSClient(d, name="open")
    keep.subscribe(["regime"])
    return keep


@pytest.fixture(scope="module")
def prom(mockd, tmp_path_factory):
    ws = _traffic(mockd)
    p = Prometheus(tmp_path_factory.mktemp("prometheus"), "127.0.0.1:%d" % mockd.port)
    p.start()
    try:
        def target_up():
            t = p.api("targets", state="active")
            act = (t.get("data") or {}).get("activeTargets") or []
            return [a for a in act if a.get("labels", {}).get("job") == JOB and a.get("health") == "up"]

        up = lh.poll(target_up, timeout=30, interval=0.5)
        assert up, "the lavd target never became up: %s\n%s" % (json.dumps(p.api("targets")), p.log_tail())
        p.instance = up[0]["labels"]["instance"]

        def scraped():
            r = p.api("query", query='count_over_time(up{job="%s"}[1m])' % JOB)
            res = (r.get("data") or {}).get("result") or []
            return res and float(res[0]["value"][1]) >= SCRAPES

        assert lh.poll(scraped, timeout=SCRAPES * 3, interval=1.0), "fewer than %d scrapes of lavd" % SCRAPES
        # a second round of read requests inside the rate windows, then two more scrapes
        ws.ping()
        _traffic(mockd).close()
        time.sleep(2.5)
        yield p
    finally:
        ws.close()
        p.stop()


# =======================================================================================
# Dashboard queries


def load_dashboard(name):
    with open(os.path.join(GRAFANA_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def iter_panels(panels):
    for p in panels or []:
        yield p
        yield from iter_panels(p.get("panels"))


def dashboard_queries(name):
    """[(key, expr)] of a dashboard: every panel target, every Prometheus annotation."""
    d = load_dashboard(name)
    out = []
    for p in iter_panels(d.get("panels")):
        for t in p.get("targets") or []:
            if t.get("expr"):
                out.append(((name, p.get("title"), t.get("refId")), t["expr"]))
    for a in (d.get("annotations") or {}).get("list") or []:
        if a.get("expr"):
            out.append(((name, "annotation: " + a.get("name", "?"), "-"), a["expr"]))
    return out


def variable_values(name, instance):
    """Values of the dashboard's template variables for this lavd: job and instance the real
    ones (as a regex, the dots match themselves too), multi-value variables their "All" value."""
    d = load_dashboard(name)
    vals = {"job": JOB, "instance": instance}
    for v in (d.get("templating") or {}).get("list") or []:
        n = v.get("name")
        if n in vals or v.get("type") == "datasource":
            continue
        vals[n] = v.get("allValue") or ".*"
    return vals


BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__interval_ms": "15000", "__range": "1m",
            "__range_s": "60", "__range_ms": "60000"}


def substitute(expr, values):
    allv = dict(BUILTINS, **values)

    def rep(m):
        n = m.group(1) or m.group(2) or m.group(3)
        assert n in allv, "unknown template variable $%s in %r" % (n, expr)
        return allv[n]

    out = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", rep, expr)
    assert "$" not in out, out
    return out


def all_queries():
    return [(key, expr) for name in DASHBOARDS for key, expr in dashboard_queries(name)]


def test_target_up_and_metrics_scraped(prom, mockd):
    r = prom.api("query", query='up{job="%s"}' % JOB)
    assert r["status"] == "success" and r["data"]["result"], r
    assert [float(x["value"][1]) for x in r["data"]["result"]] == [1.0], r
    # what the scrape gave: no sample was rejected (bad exposition, duplicates, ...)
    r = prom.api("query", query='scrape_samples_scraped{job="%s"}' % JOB)
    n = float(r["data"]["result"][0]["value"][1])
    assert n > 100, "only %d samples per scrape" % n
    t = prom.api("targets", state="active")["data"]["activeTargets"]
    t = [a for a in t if a["labels"]["job"] == JOB][0]
    assert t["lastError"] == "", "scrape error: %s" % t["lastError"]
    mockd.assert_alive()


def test_rule_groups_loaded_and_healthy(prom):
    want = {}
    for path in sorted(glob.glob(RULES_GLOB)):
        with open(path) as f:
            for g in yaml.safe_load(f)["groups"]:
                want[g["name"]] = len(g["rules"])
    assert want, "no rule groups in %s" % RULES_GLOB

    def evaluated():
        groups = prom.api("rules")["data"]["groups"]
        ok = all(not r.get("lastEvaluation", "").startswith("0001-") for g in groups for r in g["rules"])
        return groups if ok and {g["name"] for g in groups} == set(want) else None

    groups = lh.poll(evaluated, timeout=15, interval=0.5) or prom.api("rules")["data"]["groups"]
    got = {g["name"]: len(g["rules"]) for g in groups}
    assert got == want, "rule groups loaded %r, in the files %r" % (got, want)
    bad = ["%s/%s: health %r, error %r" % (g["name"], r["name"], r.get("health"), r.get("lastError"))
           for g in groups for r in g["rules"] if r.get("health") != "ok" or r.get("lastError")]
    assert not bad, "rules with evaluation errors:\n" + "\n".join(bad)


def test_no_critical_alert_on_a_healthy_lavd(prom):
    """A healthy lavd with PostgreSQL (and Redis) up, one leader, a ticking grid: none of the
    server's critical alerts is pending or firing (the data-quality ones may: the mock's
    weekday-only series and hourly features fed daily are the data's business)."""
    alerts = prom.api("alerts")["data"]["alerts"]
    crit = {"LavdDown", "PostgresUnreachable", "NoLeader", "MultipleLeaders"}
    bad = [a for a in alerts if a["labels"].get("alertname") in crit]
    assert not bad, "critical alerts on a healthy lavd: %s" % json.dumps(bad, indent=1)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_variables_resolve(prom, name):
    """The template variables' label_values() queries, as Grafana sends them."""
    d = load_dashboard(name)
    values = variable_values(name, prom.instance)
    for v in d["templating"]["list"]:
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\s*\)", q.strip(), re.S)
        assert m, "variable %s: unexpected query %r" % (v["name"], q)
        match = substitute(m.group(1), values)
        r = requests.get(prom.url("/api/v1/label/%s/values" % m.group(2)), params={"match[]": match},
                         timeout=HTTP_TIMEOUT).json()
        assert r["status"] == "success", (v["name"], match, r)
        assert r["data"], "variable %s: no values for %s" % (v["name"], q)
        if v["name"] == "job":
            assert JOB in r["data"], r["data"]
        if v["name"] == "instance":
            assert prom.instance in r["data"], r["data"]


def _query_id(key):
    return "%s:%s:%s" % (key[0].split("_")[0], re.sub(r"[^A-Za-z0-9]+", "_", key[1]).strip("_"), key[2])


_QUERIES = all_queries()


@pytest.mark.parametrize("key,expr", _QUERIES, ids=[_query_id(k) for k, _ in _QUERIES])
def test_dashboard_query(prom, key, expr):
    name = key[0]
    q = substitute(expr, variable_values(name, prom.instance))
    now = time.time()
    inst = prom.api("query", query=q, time="%.3f" % now)
    assert inst.get("status") == "success", "%s: instant query failed: %s\n%s" % (key, inst, q)
    rng = prom.api("query_range", query=q, start="%.3f" % (now - 60), end="%.3f" % now, step="5")
    assert rng.get("status") == "success", "%s: range query failed: %s\n%s" % (key, rng, q)
    if key not in MAY_BE_EMPTY:
        assert inst["data"]["result"], "%s: the instant query returned no data:\n%s" % (key, q)
        assert rng["data"]["result"], "%s: the range query returned no data:\n%s" % (key, q)


def _panel_values(prom, name, title, ref="A"):
    """{labels-as-tuple: float} of a panel target's instant query."""
    for key, expr in dashboard_queries(name):
        if key[1] == title and key[2] == ref:
            r = prom.api("query", query=substitute(expr, variable_values(name, prom.instance)))
            assert r["status"] == "success", r
            return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in r["data"]["result"]}
    raise AssertionError("%s has no panel %r with target %s" % (name, title, ref))


def test_dashboard_values_plausible(prom, mockd):
    """A few panels against what lavd itself says."""
    state = _panel_values(prom, "liquidity_regime.json", "Semáforo now")
    assert list(state.values()) in ([1.0], [2.0], [3.0]), "verde = 1, amarillo = 2, rojo = 3: %r" % state
    # a flip needs 24 h of grid time: the state does not change during the test
    reg = mockd.get("/api/liquidity/v1/regime/latest").json()
    assert {1.0: "verde", 2.0: "amarillo", 3.0: "rojo"}[list(state.values())[0]] == reg["state"], (state, reg)
    score = list(_panel_values(prom, "liquidity_regime.json", "LAV_LIQ_SCORE now").values())
    assert len(score) == 1 and 0 <= score[0] <= 100, score
    comps = _panel_values(prom, "liquidity_regime.json", "Component and composite z-scores")
    assert {dict(k)["component"] for k in comps} == {"gl", "cn", "mp"}, comps
    feeds = _panel_values(prom, "liquidity_regime.json", "Feed z-scores")
    assert feeds and all(-3 <= v <= 3 for v in feeds.values()), feeds
    # every read endpoint got requests within the rate window: a finite p99 for each
    p99 = _panel_values(prom, "feature_store_qa.json", "Read latency p50 / p95 / p99 by endpoint", "C")
    got = {dict(k)["endpoint"]: v for k, v in p99.items()}
    want = {"latest", "query", "catalog", "regime_latest", "scoreboard", "hints", "history"}
    assert set(got) == want, got
    assert all(0 < v < 10 for v in got.values()), got
    cov = _panel_values(prom, "feature_store_qa.json", "Coverage ratio per feature")
    assert cov and all(0 <= v <= 1 for v in cov.values()), cov
    assert list(_panel_values(prom, "feature_store_qa.json", "PostgreSQL").values()) == [1.0]
    assert list(_panel_values(prom, "feature_store_qa.json", "Leader").values()) == [1.0]
