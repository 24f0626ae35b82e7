"""GET /metrics (docs/observability.md) end to end.

Two lavds of this module's own:
- "off": ORACLE_SOURCE_MODE=off, no Redis, tokens file (auth on). Nothing writes to it but
  the tests, so counters move by exactly what a test does; every test uses features of its
  own (see the F_* constants).
- "mock": ORACLE_SOURCE_MODE=mock, a 1s semáforo grid, a private redis-server (stopped and
  restarted by the last Redis test).
A third lavd runs on a PostgreSQL cluster of its own that a test stops and starts.

The exposition is parsed by a small parser below (strict: a malformed line fails the test)
and checked with Debian's `promtool check metrics`. Expectations for freshness and coverage
come from a Python model of their definitions (a US federal holiday calendar of its own).
"""

import datetime as dt
import math
import os
import re
import socket
import secrets
import shutil
import subprocess
import time

import pytest
import requests

import fakeupstream as fu
import lavhelpers as lh
import wshelpers as wh

PROMTOOL = "/usr/bin/promtool"
PROM_CTYPE = "text/plain; version=0.0.4; charset=utf-8"
DOC = os.path.join(lh.REPO, "docs", "observability.md")
ROUTES_C = os.path.join(lh.REPO, "src", "api", "routes.c")
RULES_C = os.path.join(lh.REPO, "src", "dq", "rules.c")
BASE = "/api/liquidity/v1"
LATEST = "/api/features/v1/latest"
PUBLISH = "/api/features/v1/publish"
FAST = {"FEATURE_API_RATE_LIMIT_RPM": "1000000"}

US, H, D = lh.US, lh.US_HOUR, lh.US_DAY

# features used by the tests on the "off" lavd (one owner each)
F_BTC = "crypto/btc/price_usd"  # counters: expected_range [1e4, 3e5], on_violation flag
F_SUPPLY = "onchain/btc/supply_btc"  # counters: expected_range [1.8e7, 2.1e7], on_violation reject
F_LATEST = "crypto/eth/price_usd"  # HTTP counters
F_WS = "onchain/eth/gas_price_gwei"  # WebSocket counters
F_TVL = "onchain/eth/tvl_usd"  # freshness (defillama: always open)
F_OI = "cex/agg/perp_oi_usd"  # coverage 30 of 30 (cex-aggregator, 1h slots)
F_DEPTH = "cex/agg/spot_depth_2pct_usd"  # coverage 24 of 30
F_RRP = "macro/us/rrp_total_usd"  # fred, daily, publication delay 18h, calendar us_federal
F_WALCL = "macro/us/walcl_total_usd"  # fred, weekly (Wednesdays), delay 2d: business age over a year
F_TGA = "macro/us/tga_balance_usd"  # fred, weekly (Wednesdays), delay 2d: weekly coverage
F_DXY = "macro/us/dxy_index"  # tradingview, daily, delay 1d, calendar weekdays

COUNTER_FAMILIES = ("feature_ingest_total", "feature_ingest_fail_total", "feature_dq_rejected_total",
                    "feature_dq_flagged_total", "lav_dq_unknown_feature_total")
FEATURE_FAMILIES_ALWAYS = ("feature_ingest_total", "feature_ingest_fail_total", "feature_dq_rejected_total",
                           "feature_dq_flagged_total", "feature_ttl_seconds")
FEATURE_FAMILIES_SOME = ("feature_freshness_seconds", "feature_freshness_business_seconds", "feature_coverage_ratio")
WS_TYPES = {"feature.point", "regime.update", "regime.flip", "dq.alert", "snapshot", "subscribed", "unsubscribed",
            "pong", "error"}
ENDPOINTS = {"latest", "query", "catalog", "regime_latest", "scoreboard", "hints", "history"}


# =======================================================================================
# The text format


_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESC = {"\\": "\\", '"': '"', "n": "\n"}


def _parse_sample(line):
    """(name, {label: value}, float) of one sample line; AssertionError when malformed."""
    m = _NAME_RE.match(line)
    assert m, "bad sample line %r" % line
    name, i, labels = m.group(0), m.end(), {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            if line[i] == "}":
                i += 1
                break
            lm = _LABEL_RE.match(line, i)
            assert lm and line[lm.end(): lm.end() + 2] == '="', "bad label in %r" % line
            key, i, val = lm.group(0), lm.end() + 2, []
            while line[i] != '"':
                if line[i] == "\\":
                    assert line[i + 1] in _ESC, "bad escape in %r" % line
                    val.append(_ESC[line[i + 1]])
                    i += 2
                else:
                    val.append(line[i])
                    i += 1
            i += 1
            assert key not in labels, "label %s twice in %r" % (key, line)
            labels[key] = "".join(val)
            if line[i] == ",":
                i += 1
            else:
                assert line[i] == "}", "bad label list in %r" % line
    rest = line[i:]
    assert rest.startswith(" "), "no space before the value in %r" % line
    parts = rest.split()
    assert len(parts) in (1, 2), "bad value in %r" % line
    v = parts[0]
    assert re.match(r"^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|NaN|[+-]Inf)$", v), "bad value %r in %r" % (v, line)
    return name, labels, float(v)


class Exposition:
    """One scrape: `# TYPE`/`# HELP` lines and samples, parsed strictly."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.helps = {}
        self.samples = []
        seen = set()
        assert text.endswith("\n"), "the exposition does not end with a newline"
        for line in text.split("\n")[:-1]:
            if line.startswith("# TYPE "):
                parts = line.split(" ")
                assert len(parts) == 4, "bad TYPE line %r" % line
                assert parts[2] not in self.types, "TYPE of %s twice" % parts[2]
                self.types[parts[2]] = parts[3]
            elif line.startswith("# HELP "):
                name = line.split(" ")[2]
                self.helps[name] = line[len("# HELP ") + len(name) + 1:]
            elif line.startswith("#"):
                continue
            else:
                assert line.strip(), "empty line in the exposition"
                name, labels, v = _parse_sample(line)
                key = (name, tuple(sorted(labels.items())))
                assert key not in seen, "sample %s%r twice" % (name, labels)
                seen.add(key)
                self.samples.append((name, labels, v))

    def family_of(self, name):
        if name in self.types:
            return name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and self.types.get(name[: -len(suf)]) == "histogram":
                return name[: -len(suf)]
        return None

    def series(self, name, **match):
        """[(labels, value)] of the samples called name whose labels include `match`."""
        return [(l, v) for n, l, v in self.samples if n == name and all(l.get(k) == w for k, w in match.items())]

    def get(self, name, **labels):
        """The value of the sample with exactly these labels, or None."""
        for n, l, v in self.samples:
            if n == name and l == labels:
                return v
        return None

    def value(self, name, **labels):
        v = self.get(name, **labels)
        assert v is not None, "no sample %s%r in the exposition" % (name, labels)
        return v

    def label_values(self, name, label):
        return {l[label] for n, l, v in self.samples if n == name and label in l}

    def family_samples(self, family):
        return [(n, l, v) for n, l, v in self.samples if self.family_of(n) == family]


def scrape(d, headers=None):
    r = requests.get(d.url("/metrics"), headers=headers or {}, timeout=lh.HTTP_TIMEOUT)
    assert r.status_code == 200, "GET /metrics answered %d: %r" % (r.status_code, r.text[:300])
    return Exposition(r.text)


def scrape_timed(d):
    """(exposition, time before the request, time after) with times in µs."""
    t0 = lh.now_us()
    x = scrape(d)
    return x, t0, lh.now_us()


def promtool_check(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


# =======================================================================================
# The documentation's tables and the code's fixed lists


def doc_metrics():
    """{name: (type, [labels], meaning)} of every row of docs/observability.md's tables."""
    out = {}
    with open(DOC) as f:
        for line in f:
            if not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) >= 4, "unexpected table row %r" % line
            names = re.findall(r"`([^`]+)`", cells[0])
            labels = [x.strip() for x in cells[2].split(",") if x.strip()]
            for n in names:
                out[n] = (cells[1], labels, cells[3])
    assert len(out) > 30, "could not read the metric tables of %s" % DOC
    return out


def doc_type(name, typ):
    """The type a documented family must have (the process row documents none: the
    client_golang conventions, counter for *_total, gauge otherwise)."""
    if typ:
        return typ
    return "counter" if name.endswith("_total") else "gauge"


def route_patterns():
    with open(ROUTES_C) as f:
        pats = set(re.findall(r'\{\s*"(/[^"]*)"\s*,\s*LAV_M', f.read()))
    assert "/metrics" in pats and LATEST in pats, "could not read the route table of %s: %r" % (ROUTES_C, pats)
    return pats


def rules_codes():
    with open(RULES_C) as f:
        codes = set(re.findall(r'REJECT\(\s*"([a-z_]+)"', f.read()))
    assert "out_of_range" in codes, "could not read the rejection codes of %s" % RULES_C
    return codes


# =======================================================================================
# Calendars and the models of freshness and coverage


# The calendar model the fake upstream serves by (fakeupstream.py), written apart from
# lavd's C rules so the suites check one against the other.
def us_federal_holidays(y):
    return fu._holidays(y, False)


us_federal_open = fu.us_federal_open


def day_of_us(t):
    return dt.date(1970, 1, 1) + dt.timedelta(days=t // D)


def open_us(is_open, a, b):
    """µs of [a, b) on open UTC days."""
    total, t = 0, a
    while t < b:
        end = min(b, (t // D + 1) * D)
        if is_open(day_of_us(t)):
            total += end - t
        t = end
    return total


def coverage_model(pts_ts, period, delay, now, is_open=None, anchor=0):
    """The ratio lav_dq_coverage defines (docs: distinct expected periods observed /
    expected over the last 30 due periods; periods before the first point are not judged),
    or None when no period is due."""
    k = (now - delay - period - anchor) // period
    oldest = min(pts_ts)
    expected = seen = steps = 0
    while expected < 30 and steps < 120:
        s = anchor + k * period
        if s + period <= oldest:
            break
        if period > D or is_open is None or is_open(day_of_us(s)):
            expected += 1
            seen += any(s <= t < s + period for t in pts_ts)
        steps += 1
        k -= 1
    return None if expected == 0 else seen / expected


def test_calendar_model_matches_the_2026_list():
    want = {dt.date(2026, m, d) for m, d in [(1, 1), (1, 19), (2, 16), (5, 25), (6, 19), (7, 3), (9, 7), (10, 12),
                                             (11, 11), (11, 26), (12, 25)]}
    assert us_federal_holidays(2026) == want
    assert not us_federal_open(dt.date(2021, 12, 31))  # New Year's Day 2022 was a Saturday
    assert us_federal_open(dt.date(2026, 11, 20)) and not us_federal_open(dt.date(2026, 11, 21))


# =======================================================================================
# Fixtures


@pytest.fixture(scope="module")
def offd(lavd_factory):
    """ORACLE_SOURCE_MODE=off (lavhelpers' default), no Redis, tokens file."""
    t0 = time.time()
    # (retention 400 days: a test publishes a point 330 days old)
    d = lavd_factory("lavd-metrics-off", redis=False, overrides=dict(FAST, FEATURE_STORE_RETENTION_DAYS="400"))
    d.started_between = (t0, time.time())
    lh.wait_store_settled(d)
    return d


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed", pytrace=False)
    rs = lh.PrivateRedis(tmp_path_factory.mktemp("metrics-redis"))
    rs.start()
    yield rs
    rs.stop()


def _redis_connected(d):
    r = requests.get(d.url("/readyz"), timeout=lh.HTTP_TIMEOUT)
    return r.json()["checks"]["redis"]["state"] == "connected"


@pytest.fixture(scope="module")
def mockd(lavd_factory, private_redis):
    """ORACLE_SOURCE_MODE=mock, a 1s grid, its own redis-server; waits for a grid point."""
    t0 = time.time()
    d = lavd_factory("lavd-metrics-mock", redis=private_redis.url,
                     overrides=dict(FAST, ORACLE_SOURCE_MODE="mock", LAV_MOCK_SEED="97", LIQ_SCORE_GRID_STEP="1s"))
    d.started_between = (t0, time.time())
    d.redis = private_redis
    lh.wait_store_settled(d)
    ok = lh.poll(lambda: d.get(BASE + "/regime/latest", role="reader").status_code == 200, timeout=40, interval=0.3)
    assert ok, "the mock lavd produced no grid point: %r" % d.get(BASE + "/regime/latest", role="reader").text
    assert lh.poll(lambda: _redis_connected(d), timeout=15), "the mock lavd never connected to its Redis"
    return d


def _lavd(request, which):
    return request.getfixturevalue({"off": "offd", "mock": "mockd"}[which])


# =======================================================================================
# 1. The endpoint


@pytest.mark.parametrize("which", ["off", "mock"])
def test_promtool_check_metrics_is_clean(request, which):
    d = _lavd(request, which)
    r = requests.get(d.url("/metrics"), timeout=lh.HTTP_TIMEOUT)
    assert r.status_code == 200, r.text[:300]
    rc, out = promtool_check(r.text)
    assert rc == 0 and out == "", "promtool check metrics (%s lavd): exit %d\n%s" % (which, rc, out)
    Exposition(r.text)  # and our own parser agrees it is well formed


def test_content_type_head_post_and_no_token(offd):
    d = offd
    r = requests.get(d.url("/metrics"), timeout=lh.HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.headers["content-type"] == PROM_CTYPE, r.headers
    lh.assert_correlation(r)
    # a token is neither needed nor looked at (auth is on: LAV_TOKENS_FILE)
    for h in ({"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"},
              d.tokens.header("reader")):
        r2 = requests.get(d.url("/metrics"), headers=h, timeout=lh.HTTP_TIMEOUT)
        assert r2.status_code == 200 and r2.headers["content-type"] == PROM_CTYPE, (h, r2.status_code, r2.text[:200])
    assert requests.get(d.url(LATEST + "?featureId=" + F_BTC), timeout=lh.HTTP_TIMEOUT).status_code == 401, \
        "auth is not on for this lavd"
    # HEAD: headers, no body
    r = requests.head(d.url("/metrics"), timeout=lh.HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b"", (r.status_code, r.content[:200])
    assert r.headers["content-type"] == PROM_CTYPE, r.headers
    lh.assert_correlation(r)
    # POST and others: 405 with the JSON error shape and Allow
    for method in ("POST", "PUT", "DELETE"):
        r = d.request(method, "/metrics", data=b"x")
        lh.assert_error(r, 405, "method_not_allowed")
        assert lh.allow_methods(r) == {"GET", "HEAD"}, r.headers.get("allow")
    d.assert_alive()


# Prometheus itself always adds */* to its Accept header; other clients ask for the text
# format alone (curl -H 'Accept: text/plain'; prom2json and tools copied from it send the
# protobuf type and text/plain;version=0.0.4 only). /metrics serves nothing but text/plain.
@pytest.mark.parametrize("accept", [
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "text/plain",
    "text/plain; version=0.0.4",
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,"
    "text/plain;version=0.0.4;q=0.3",
], ids=["prometheus", "text-plain", "text-plain-0.0.4", "prom2json"])
def test_scrape_with_accept_text_plain(offd, accept):
    r = requests.get(offd.url("/metrics"), headers={"Accept": accept}, timeout=lh.HTTP_TIMEOUT)
    assert r.status_code == 200, "GET /metrics with Accept: %s answered %d: %r" % (accept, r.status_code, r.text[:300])
    assert r.headers["content-type"] == PROM_CTYPE
    Exposition(r.text)


# =======================================================================================
# 2. Families and types against docs/observability.md


@pytest.mark.parametrize("which", ["off", "mock"])
def test_documented_families_and_types(request, which):
    d = _lavd(request, which)
    x = scrape(d)
    doc = doc_metrics()
    redis = which == "mock"
    problems = []
    for name, (typ, labels, _) in sorted(doc.items()):
        want = doc_type(name, typ)
        if name.startswith("lav_redis_") and not redis:
            if name in x.types or x.family_samples(name) or x.series(name):
                problems.append("%s is exposed but this lavd has no Redis" % name)
            continue
        if x.types.get(name) != want:
            problems.append("%s: TYPE %r, documented %r" % (name, x.types.get(name), want))
            continue
        for n, l, v in x.family_samples(name):
            got = set(l) - ({"le"} if n.endswith("_bucket") else set())
            if got != set(labels):
                problems.append("%s: sample %s has labels %s, documented %s" % (name, n, sorted(l), labels))
                break
    undocumented = sorted(set(x.types) - set(doc))
    if undocumented:
        problems.append("exposed but not documented: %s" % undocumented)
    untyped = sorted({n for n, l, v in x.samples if x.family_of(n) is None})
    if untyped:
        problems.append("samples without a TYPE line: %s" % untyped)
    # redis-only series of other families
    if not redis and x.get("feature_storage_size_bytes", layer="redis") is not None:
        problems.append('feature_storage_size_bytes{layer="redis"} without Redis')
    assert not problems, "%s lavd:\n  " % which + "\n  ".join(problems)
    if redis:
        assert x.value("lav_redis_up") == 1
        assert x.value("lav_redis_command_duration_seconds_count") > 0


def test_documented_label_values(mockd):
    """The label values the tables spell out are the ones exposed."""
    # (the PostgreSQL size is measured 1 s after the start, then every 30 s)
    x = lh.poll(lambda: (lambda x: x if x.get("feature_storage_size_bytes", layer="postgres") is not None else None)(
        scrape(mockd)), timeout=40, interval=0.5) or scrape(mockd)
    doc = doc_metrics()
    problems = []

    def ticks(name):
        """The label values a row's meaning spells out in backticks."""
        labels = set(doc[name][1])
        return {t for t in re.findall(r"`([^`]+)`", doc[name][2]) if re.match(r"^[a-z_.]+$", t) and t not in labels}

    checks = [
        ("feature_query_duration_seconds_count", "endpoint", ticks("feature_query_duration_seconds"), "=="),
        ("lav_ws_messages_sent_total", "type", ticks("lav_ws_messages_sent_total"), "=="),
        ("feature_dq_flagged_total", "rule", ticks("feature_dq_flagged_total"), "=="),
        ("feature_storage_size_bytes", "layer", ticks("feature_storage_size_bytes"), "=="),
        ("lav_source_breaker_state", "state", ticks("lav_source_breaker_state"), "=="),
        ("liquidity_regime_state", "state", ticks("liquidity_regime_state"), "=="),
        ("liquidity_composite_zscore", "stage", ticks("liquidity_composite_zscore"), "=="),
        ("lav_pg_pool_connections", "state", ticks("lav_pg_pool_connections"), "=="),
        # "(`out_of_range`, `non_finite`, `future_ts`, ...)": examples, each must exist
        ("feature_dq_rejected_total", "reason", ticks("feature_dq_rejected_total"), "<="),
    ]
    for sample, label, documented, rel in checks:
        got = x.label_values(sample, label)
        if rel == "==" and got != documented:
            problems.append("%s{%s}: exposed %s, documented %s" % (sample, label, sorted(got), sorted(documented)))
        if rel == "<=" and not documented <= got:
            problems.append("%s{%s}: documented %s are not exposed (exposed: %s)" % (
                sample, label, sorted(documented - got), sorted(got)))
    assert not problems, "\n  ".join([""] + problems)


# =======================================================================================
# 3. Bounded labels


def test_feature_labels_are_the_catalog(offd, catalog_spec, datasources):
    x = scrape(offd)
    ids = {f["id"] for f in catalog_spec}
    for fam in FEATURE_FAMILIES_ALWAYS:
        assert x.label_values(fam, "feature") == ids, "%s: feature labels differ from the catalog" % fam
    for fam in FEATURE_FAMILIES_SOME:
        assert x.label_values(fam, "feature") <= ids, fam
    # reasons: a closed list holding every rejection code of src/dq/rules.c (unknown_feature
    # has its own counter), nothing lands on "other" by accident
    reasons = x.label_values("feature_dq_rejected_total", "reason")
    missing = rules_codes() - {"unknown_feature"} - reasons
    assert not missing, "rejection codes of rules.c without a reason label: %s (exposed %s)" % (sorted(missing), sorted(reasons))
    for f in ids:
        assert {l["reason"] for l, v in x.series("feature_dq_rejected_total", feature=f)} == reasons
        assert {l["rule"] for l, v in x.series("feature_dq_flagged_total", feature=f)} == {"out_of_range", "outlier"}
    # sources: datasources.json, one breaker state set to 1 each
    src = {s["id"] for s in datasources}
    assert x.label_values("lav_source_requests_total", "source") == src
    assert x.label_values("lav_source_failures_total", "source") == src
    for s in src:
        states = {l["state"]: v for l, v in x.series("lav_source_breaker_state", source=s)}
        assert states == {"closed": 1, "open": 0, "half_open": 0}, (s, states)
    # mode off: nothing was requested upstream
    assert all(v == 0 for l, v in x.series("lav_source_requests_total")), x.series("lav_source_requests_total")


def test_route_labels_are_bounded(offd):
    d = offd
    pats = route_patterns()
    x0 = scrape(d)
    unmatched0 = x0.get("lav_http_requests_total", route="unmatched", method="GET", code="404") or 0
    healthz0 = x0.get("lav_http_requests_total", route="/healthz", method="GET", code="200") or 0
    metrics0 = x0.value("lav_http_requests_total", route="/metrics", method="GET", code="200")
    with requests.Session() as s:
        for i in range(50):
            path = "/%s/%s" % (secrets.token_hex(4), secrets.token_hex(3)) if i % 2 else "/api/features/v1/x" + secrets.token_hex(5)
            r = s.get(d.url(path), timeout=lh.HTTP_TIMEOUT)
            assert r.status_code == 404, (path, r.status_code)
        for i in range(10):
            r = s.get(d.url("/healthz?r=%s&q=%d" % (secrets.token_hex(6), i)), timeout=lh.HTTP_TIMEOUT)
            assert r.status_code == 200
        for i in range(3):
            r = s.get(d.url("/metrics?x=%s" % secrets.token_hex(6)), timeout=lh.HTTP_TIMEOUT)
            assert r.status_code == 200
    x1 = scrape(d)
    routes = x1.label_values("lav_http_requests_total", "route")
    assert routes <= pats | {"unmatched"}, "route labels that are not route patterns: %s" % sorted(routes - pats - {"unmatched"})
    assert x1.label_values("lav_http_request_duration_seconds_count", "route") == routes
    assert x1.value("lav_http_requests_total", route="unmatched", method="GET", code="404") - unmatched0 == 50
    assert x1.value("lav_http_requests_total", route="/healthz", method="GET", code="200") - healthz0 == 10
    assert x1.value("lav_http_requests_total", route="/metrics", method="GET", code="200") - metrics0 == 4
    keys0 = {(l["route"], l["method"], l["code"]) for l, v in x0.series("lav_http_requests_total")}
    keys1 = {(l["route"], l["method"], l["code"]) for l, v in x1.series("lav_http_requests_total")}
    new = keys1 - keys0
    assert new <= {("unmatched", "GET", "404")}, "50 unknown paths and query strings added series %s" % sorted(new)
    for l, v in x1.series("lav_http_requests_total"):
        assert l["method"] in {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}, l
        assert re.match(r"^[1-5]\d\d$", l["code"]), l


def test_wrong_method_is_counted_under_its_route(offd):
    """docs: "by route pattern (`unmatched` for 404s)": a 405 on /metrics names /metrics."""
    x0 = scrape(offd)
    r = offd.post("/metrics", data=b"")
    lh.assert_error(r, 405, "method_not_allowed")
    x1 = scrape(offd)
    got = {(l["route"], l["method"], l["code"]): v - (x0.get("lav_http_requests_total", **l) or 0)
           for l, v in x1.series("lav_http_requests_total", method="POST")}
    got = {k: v for k, v in got.items() if v}
    assert got == {("/metrics", "POST", "405"): 1}, "POST /metrics (405) was counted as %r" % got


# =======================================================================================
# 4. Ingest counters


def _K(name, **labels):
    return (name, tuple(sorted(labels.items())))


def counter_snapshot(x):
    return {(n, tuple(sorted(l.items()))): v for n, l, v in x.samples if n in COUNTER_FAMILIES}


def _computed_ids(catalog_spec):
    return {f["id"] for f in catalog_spec if f["source"]["id"] == "lav"}


def counter_deltas(a, b, ignore):
    out = {}
    for k in set(a) | set(b):
        if dict(k[1]).get("feature") in ignore:
            continue  # the semáforo's own features (it may evaluate a grid point meanwhile)
        diff = b.get(k, 0) - a.get(k, 0)
        if diff:
            out[k] = diff
    return out


def _fmt(d):
    return "{" + ", ".join("%s%s: %+g" % (k[0], dict(k[1]), v) for k, v in sorted(d.items())) + "}"


def test_ingest_counters_move_exactly(offd, catalog_spec):
    d = offd
    ignore = _computed_ids(catalog_spec)
    e1, e2, e3 = lh.unique_entity("MC1"), lh.unique_entity("MC2"), lh.unique_entity("MC3")
    t0 = (lh.now_us() - 2 * H) // (60 * US) * (60 * US)
    now = lh.now_us()

    def p(f, e, ts, v, **kw):
        out = {"featureId": f, "entity": e, "ts": lh.fmt_ts(ts), "value": v}
        out.update(kw)
        return out

    def step(what, points, want, status, accepted=None):
        before = counter_snapshot(scrape(d))
        r, doc = lh.publish(d, points)
        assert r.status_code == status, "%s: publish answered %d: %r" % (what, r.status_code, r.text[:500])
        if accepted is not None:
            assert doc["accepted"] == accepted, "%s: %r" % (what, doc)
        got = counter_deltas(before, counter_snapshot(scrape(d)), ignore)
        assert got == want, "%s: counters moved by\n  %s\nexpected\n  %s" % (what, _fmt(got), _fmt(want))
        return doc

    ING, FAIL = "feature_ingest_total", "feature_ingest_fail_total"
    REJ, FLAG = "feature_dq_rejected_total", "feature_dq_flagged_total"
    batch = [p(F_BTC, e1, t0 + i * 60 * US, 50000.0 + i) for i in range(5)]
    step("5 new points", batch, {_K(ING, feature=F_BTC): 5}, 200, accepted=5)
    step("the same 5 again", batch, {}, 200, accepted=5)
    step("the same 5 again, reversed", list(reversed(batch)), {}, 200, accepted=5)
    step("out of range, on_violation reject", [p(F_SUPPLY, e1, t0, 5.0)],
         {_K(FAIL, feature=F_SUPPLY): 1, _K(REJ, feature=F_SUPPLY, reason="out_of_range"): 1}, 422)
    step("out of range, on_violation flag", [p(F_BTC, e2, t0, 5.0)],
         {_K(ING, feature=F_BTC): 1, _K(FLAG, feature=F_BTC, rule="out_of_range"): 1}, 200, accepted=1)
    step("a conflict (same ts and available_at, other value)", [dict(batch[2], value=batch[2]["value"] + 1)],
         {_K(FAIL, feature=F_BTC): 1}, 422)
    step("an unknown featureId", [p("crypto/btc/no_such_feature", e1, t0, 50000.0)],
         {_K("lav_dq_unknown_feature_total"): 1}, 422)
    step("no featureId", [{"entity": e1, "ts": lh.fmt_ts(t0), "value": 50000.0}],
         {_K("lav_dq_unknown_feature_total"): 1}, 422)
    for v in ("NaN", "Infinity", "-Infinity"):
        step("value %s" % v, [p(F_BTC, e1, t0 + 30 * US, v)],
             {_K(FAIL, feature=F_BTC): 1, _K(REJ, feature=F_BTC, reason="invalid_value"): 1}, 422)
    step("ts an hour ahead", [p(F_BTC, e1, now + H, 50000.0)],
         {_K(FAIL, feature=F_BTC): 1, _K(REJ, feature=F_BTC, reason="future_timestamp"): 1}, 422)
    step("available_at an hour ahead", [p(F_BTC, e1, t0 + 40 * US, 50000.0, available_at=lh.fmt_ts(now + H))],
         {_K(FAIL, feature=F_BTC): 1, _K(REJ, feature=F_BTC, reason="future_timestamp"): 1}, 422)
    k = p(F_BTC, e1, t0 + 50 * US, 50050.0)
    step("two values for one key in one batch", [k, dict(k, value=50051.0)], {_K(ING, feature=F_BTC): 1,
                                                                             _K(FAIL, feature=F_BTC): 1}, 200, accepted=1)
    # a feature lavd computes (the semáforo's score): refused as computed_feature
    score = sorted(ignore)[-1]
    before = scrape(d)
    r, _ = lh.publish(d, [p(score, "", t0, 50.0)])
    assert r.status_code == 422, r.text
    after = scrape(d)
    for fam, labels in (("feature_dq_rejected_total", dict(feature=score, reason="computed_feature")),
                        ("feature_ingest_fail_total", dict(feature=score))):
        assert after.value(fam, **labels) - before.value(fam, **labels) == 1, (fam, labels)
    # outliers: 12 calm points, then a spike (flagged, stored)
    calm = [p(F_BTC, e3, t0 + i * 60 * US, 50000.0 + 10 * (i % 5)) for i in range(12)]
    step("12 calm points", calm, {_K(ING, feature=F_BTC): 12}, 200, accepted=12)
    step("a spike", [p(F_BTC, e3, t0 + 20 * 60 * US, 80000.0)],
         {_K(ING, feature=F_BTC): 1, _K(FLAG, feature=F_BTC, rule="outlier"): 1}, 200, accepted=1)
    # one batch of everything: new, repeat, conflict, NaN, unknown, reject, flag, bad ts
    mixed = [
        p(F_BTC, e1, t0 + 10 * 60 * US, 50010.0),  # new
        batch[0],  # repeat
        dict(batch[1], value=1.5 + batch[1]["value"]),  # conflict
        p(F_BTC, e1, t0 + 11 * 60 * US, "NaN"),
        p("no/such/feature", e1, t0, 1.0),
        p(F_SUPPLY, e1, t0 - D, 2.5e7),  # reject
        p(F_SUPPLY, e2, t0, 1.95e7),  # new
        p(F_BTC, e2, t0 + 60 * US, 9999.0),  # flagged
        {"featureId": F_BTC, "entity": e1, "ts": "yesterday", "value": 50000.0},
    ]
    step("a mixed batch", mixed, {
        _K(ING, feature=F_BTC): 2, _K(ING, feature=F_SUPPLY): 1,
        _K(FAIL, feature=F_BTC): 3, _K(FAIL, feature=F_SUPPLY): 1,
        _K(REJ, feature=F_BTC, reason="invalid_value"): 1, _K(REJ, feature=F_BTC, reason="invalid_timestamp"): 1,
        _K(REJ, feature=F_SUPPLY, reason="out_of_range"): 1,
        _K(FLAG, feature=F_BTC, rule="out_of_range"): 1,
        _K("lav_dq_unknown_feature_total"): 1,
    }, 200, accepted=4)
    d.assert_alive()


# =======================================================================================
# 5. HTTP counters


def test_http_counters(offd):
    d = offd
    e = lh.unique_entity("MH")
    lh.publish_ok(d, [{"featureId": F_LATEST, "entity": e, "ts": lh.fmt_ts(lh.now_us() - 5 * 60 * US), "value": 3000.0}])
    x0 = scrape(d)
    n = 7
    for _ in range(n):
        r = lh.latest(d, F_LATEST, e)
        assert r.status_code == 200, r.text
    assert d.get(LATEST, role="reader").status_code == 400  # no featureId
    assert d.get(LATEST + "?featureId=" + F_LATEST).status_code == 401  # no token
    assert lh.latest(d, F_LATEST, e + "-none").status_code == 404  # no data
    r, _ = lh.publish(d, [], role="reader")  # a reader may not publish
    assert r.status_code == 403, r.text
    x1 = scrape(d)

    def delta(name, **labels):
        return x1.value(name, **labels) - (x0.get(name, **labels) or 0)

    assert delta("lav_http_requests_total", route=LATEST, method="GET", code="200") == n
    for code in ("400", "401", "404"):
        assert delta("lav_http_requests_total", route=LATEST, method="GET", code=code) == 1, code
    assert delta("lav_http_requests_total", route=PUBLISH, method="POST", code="403") == 1
    assert delta("lav_http_request_duration_seconds_count", route=LATEST) == n + 3
    assert delta("lav_http_request_duration_seconds_bucket", route=LATEST, le="+Inf") == n + 3
    assert delta("feature_query_duration_seconds_count", endpoint="latest") == n, "only successful answers are timed"
    assert delta("feature_query_duration_seconds_sum", endpoint="latest") > 0
    for ep in ENDPOINTS - {"latest"}:
        assert delta("feature_query_duration_seconds_count", endpoint=ep) == 0, ep
    assert delta("lav_http_requests_total", route="/metrics", method="GET", code="200") == 1
    assert x1.value("lav_http_connections_total") > x0.value("lav_http_connections_total")
    assert x1.value("lav_http_connections") >= 1


@pytest.mark.parametrize("which", ["off", "mock"])
def test_histograms_are_consistent(request, which):
    x = scrape(_lavd(request, which))
    hists = [n for n, t in x.types.items() if t == "histogram"]
    assert hists
    problems = []
    for h in hists:
        for l, count in x.series(h + "_count"):
            buckets = sorted(((float(bl["le"]), v) for bl, v in x.series(h + "_bucket", **l)
                              if set(bl) == set(l) | {"le"}))
            if not buckets or buckets[-1][0] != math.inf:
                problems.append("%s%r: no +Inf bucket" % (h, l))
                continue
            counts = [v for _, v in buckets]
            if counts != sorted(counts):
                problems.append("%s%r: buckets not cumulative: %r" % (h, l, buckets))
            if buckets[-1][1] != count:
                problems.append("%s%r: +Inf bucket %g != _count %g" % (h, l, buckets[-1][1], count))
            s = x.get(h + "_sum", **l)
            if s is None or s < 0 or (count == 0 and s != 0):
                problems.append("%s%r: _sum %r with _count %g" % (h, l, s, count))
    # lav_http_requests_total and the duration histogram count the same requests
    for route in x.label_values("lav_http_requests_total", "route"):
        total = sum(v for l, v in x.series("lav_http_requests_total", route=route))
        if x.get("lav_http_request_duration_seconds_count", route=route) != total:
            problems.append("route %s: %g requests, duration _count %r" % (
                route, total, x.get("lav_http_request_duration_seconds_count", route=route)))
    assert not problems, "\n  ".join([""] + problems)


# =======================================================================================
# 6. WebSocket


def test_websocket_counters(offd):
    d = offd
    e = lh.unique_entity("MW")
    ch = "feature:%s|%s" % (F_WS, e)
    x0 = scrape(d)
    assert x0.value("lav_ws_sessions") == 0 and x0.value("lav_ws_subscriptions") == 0
    clients = []
    try:
        for i in range(3):
            clients.append(wh.WSClient(d, protocols=(wh.JSON_P,), name="m%d" % i))
            assert clients[-1].subprotocol == wh.JSON_P
        for c in clients:
            c.subscribe([ch])
        x1 = scrape(d)

        def delta(x, a, name, **labels):
            return x.value(name, **labels) - (a.get(name, **labels) or 0)

        assert x1.value("lav_ws_sessions") == 3
        assert x1.value("lav_ws_subscriptions") == 3
        assert delta(x1, x0, "lav_ws_sessions_total") == 3
        assert delta(x1, x0, "lav_ws_messages_sent_total", type="subscribed") == 3
        assert delta(x1, x0, "lav_ws_messages_sent_total", type="snapshot") == 3
        assert delta(x1, x0, "lav_ws_messages_received_total") == 3
        for t in WS_TYPES - {"subscribed", "snapshot"}:
            assert delta(x1, x0, "lav_ws_messages_sent_total", type=t) == 0, t
        assert delta(x1, x0, "lav_http_requests_total", route="/ws", method="GET", code="101") == 3

        ts = (lh.now_us() - 60 * US) // 1000 * 1000
        lh.publish_ok(d, [{"featureId": F_WS, "entity": e, "ts": lh.fmt_ts(ts), "value": 21.5}])
        for c in clients:
            c.wait_for(lambda m: m["type"] == "feature.point" and m["point"]["entity"] == e, what="feature.point")
        x2 = scrape(d)
        assert delta(x2, x1, "lav_ws_messages_sent_total", type="feature.point") == 3
        assert delta(x2, x1, "lav_ws_messages_received_total") == 0
        c = clients[0]
        c.ping(id="m")
        x3 = scrape(d)
        assert delta(x3, x2, "lav_ws_messages_sent_total", type="pong") == 1
        assert delta(x3, x2, "lav_ws_messages_received_total") == 1
    finally:
        for c in clients:
            c.close()
    for c in clients:
        assert c.close_code == 1000, (c.name, c.close_code)
    x4 = lh.poll(lambda: (lambda x: x if x.value("lav_ws_sessions") == 0 else None)(scrape(d)), timeout=15)
    x4 = x4 or scrape(d)
    assert x4.value("lav_ws_sessions") == 0
    assert x4.value("lav_ws_subscriptions") == 0
    assert x4.value("lav_ws_closes_total", code="1000") - (x0.get("lav_ws_closes_total", code="1000") or 0) == 3
    others = {l["code"]: v - (x0.get("lav_ws_closes_total", **l) or 0) for l, v in x4.series("lav_ws_closes_total")}
    assert {k: v for k, v in others.items() if v} == {"1000": 3}, others


def test_websocket_other_messages_and_close_codes(offd):
    """error, dq.alert and unsubscribed replies; closes 1000, 1002 (protocol error) and
    1006 (the client vanished without a close frame)."""
    d = offd
    x0 = scrape(d)
    e = lh.unique_entity("MWQ")
    with wh.WSClient(d, name="dq") as c:
        c.subscribe(["dq"])
        c.send_raw("not json{")
        assert c.reply()["type"] == "error"
        r, doc = lh.publish(d, [{"featureId": F_SUPPLY, "entity": e, "ts": lh.fmt_ts(lh.now_us() - 60 * US),
                                 "value": 1.0}])
        assert r.status_code == 422, r.text
        c.wait_for(lambda m: m["type"] == "dq.alert" and m.get("entity") == e, what="dq.alert")
        c.unsubscribe(["dq"])
        x1 = scrape(d)
    with wh.RawWS(d) as raw:
        assert raw.request({"op": "ping", "id": 1})["type"] == "pong"
        raw.send_bytes(wh.frame(wh.OP_TEXT, b'{"op":"ping"}', mask=False))
        assert raw.expect_close(timeout=10) == 1002
        raw.finish_close()
    raw = wh.RawWS(d)
    assert raw.request({"op": "ping", "id": 2})["type"] == "pong"
    raw.close()  # no close frame

    def sent(x, t):
        return x.value("lav_ws_messages_sent_total", type=t) - x0.value("lav_ws_messages_sent_total", type=t)

    want = {"subscribed": 1, "snapshot": 1, "error": 1, "dq.alert": 1, "unsubscribed": 1}
    assert {t: sent(x1, t) for t in WS_TYPES if sent(x1, t)} == want
    assert x1.value("lav_ws_messages_received_total") - x0.value("lav_ws_messages_received_total") == 3
    assert x1.value("lav_ws_subscriptions") == 0 and x1.value("lav_ws_sessions") == 1

    def settled():
        x = scrape(d)
        closes = {l["code"]: v - (x0.get("lav_ws_closes_total", **l) or 0) for l, v in x.series("lav_ws_closes_total")}
        closes = {k: v for k, v in closes.items() if v}
        return (x, closes) if x.value("lav_ws_sessions") == 0 and sum(closes.values()) >= 3 else None

    got = lh.poll(settled, timeout=20)
    assert got, "sessions %r, closes %r" % (scrape(d).value("lav_ws_sessions"), scrape(d).series("lav_ws_closes_total"))
    x2, closes = got
    assert closes == {"1000": 1, "1002": 1, "1006": 1}, closes
    assert x2.value("lav_ws_sessions_total") - x0.value("lav_ws_sessions_total") == 3
    assert sent(x2, "pong") == 2


def test_peer_close_codes_do_not_make_new_series(offd):
    """A peer's own close code is echoed back (RFC 6455): codes 3000-4999 are the
    client's to choose, so they all land on code="other" instead of a series each."""
    d = offd
    x0 = scrape(d)
    for code in (4001, 4002, 3999):
        with wh.RawWS(d) as raw:
            assert raw.request({"op": "ping", "id": code})["type"] == "pong"
            raw.send_close(code)
            assert raw.expect_close(timeout=10) == code  # echoed
            lh.wait_closed(raw.sock, 8.0)

    def settled():
        x = scrape(d)
        closes = {l["code"]: v - (x0.get("lav_ws_closes_total", **l) or 0) for l, v in x.series("lav_ws_closes_total")}
        closes = {k: v for k, v in closes.items() if v}
        return closes if x.value("lav_ws_sessions") == 0 and sum(closes.values()) >= 3 else None

    closes = lh.poll(settled, timeout=20)
    assert closes == {"other": 3}, closes
    codes = {l["code"] for l, _ in scrape(d).series("lav_ws_closes_total")}
    assert not codes & {"4001", "4002", "3999"}, codes


def test_unparsed_request_line_counts_as_method_unknown(offd):
    """Before the request line parses there is no method: not "DELETE" (method 0)."""
    d = offd
    x0 = scrape(d)
    for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(junk)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 400"), data[:100]
        finally:
            s.close()
    x1 = scrape(d)
    delta = (x1.get("lav_http_requests_total", route="unmatched", method="unknown", code="400") or 0) - (
        x0.get("lav_http_requests_total", route="unmatched", method="unknown", code="400") or 0)
    assert delta >= 1, x1.series("lav_http_requests_total")
    assert not x1.get("lav_http_requests_total", route="unmatched", method="DELETE", code="400")


# =======================================================================================
# 7. Freshness, TTL, coverage


def test_ttl_is_the_catalog(offd, catalog_spec):
    x = scrape(offd)
    for f in catalog_spec:
        assert x.value("feature_ttl_seconds", feature=f["id"]) == f["ttl_ms"] / 1000, f["id"]


def test_freshness_of_a_point_ten_minutes_old(offd):
    d = offd
    e = lh.unique_entity("MF")
    x0 = scrape(d)
    assert x0.get("feature_freshness_seconds", feature=F_TVL) is None, "no point of %s yet: no freshness" % F_TVL
    ts = (lh.now_us() - 10 * 60 * US) // 1000 * 1000
    lh.publish_ok(d, [{"featureId": F_TVL, "entity": e, "ts": lh.fmt_ts(ts), "value": 5.0e10}])
    x, a, b = scrape_timed(d)
    f = x.value("feature_freshness_seconds", feature=F_TVL)
    fb = x.value("feature_freshness_business_seconds", feature=F_TVL)
    want = ((a + b) / 2 - ts) / 1e6
    assert abs(f - 600) <= 30 and abs(f - want) <= 30, "freshness %r, expected ~%r" % (f, want)
    assert fb == f, "defillama's calendar is always open: business freshness %r != %r" % (fb, f)
    # a second series, 20 minutes old: the feature's freshness is its stalest series
    lh.publish_ok(d, [{"featureId": F_TVL, "entity": e + "-b", "ts": lh.fmt_ts(ts - 10 * 60 * US), "value": 5.0e10}])
    f2 = scrape(d).value("feature_freshness_seconds", feature=F_TVL)
    assert abs(f2 - 1200) <= 30, "freshness %r with series 10 and 20 minutes old" % f2


def _hourly_points(f, e, hours, skip=()):
    h0 = lh.now_us() // H * H
    return [{"featureId": f, "entity": e, "ts": lh.fmt_ts(h0 - i * H), "value": 5.0e10 + i}
            for i in range(1, hours + 1) if i not in skip]


def _check_coverage(d, f, pts):
    ts = [lh.parse_ts(p["ts"]) for p in pts]
    x, a, b = scrape_timed(d)
    got = x.value("feature_coverage_ratio", feature=f)
    want = {coverage_model(ts, H, 0, a), coverage_model(ts, H, 0, b)}
    assert got in want, "%s: coverage %r, expected %r" % (f, got, sorted(want))
    return got


def _not_near_an_hour_boundary():
    """Wait (no assertion) if the next hour begins within 30 s, so that the 30 due hours
    do not move between the publish and the scrape."""
    left = H - lh.now_us() % H
    if left < 30 * US:
        time.sleep(left / US + 0.5)


def test_coverage_of_an_hourly_feature(offd):
    d = offd
    _not_near_an_hour_boundary()
    x0 = scrape(d)
    assert x0.value("feature_coverage_ratio", feature=F_OI) == 0, "nothing stored: covers none of its periods"
    full = _hourly_points(F_OI, lh.unique_entity("MCOV"), 30)
    lh.publish_ok(d, full)
    assert _check_coverage(d, F_OI, full) == 1
    # six of the thirty hours left out (not the first: the series starts there)
    part = _hourly_points(F_DEPTH, lh.unique_entity("MCOV"), 30, skip=(2, 5, 9, 14, 20, 27))
    assert len(part) == 24
    lh.publish_ok(d, part)
    got = _check_coverage(d, F_DEPTH, part)
    assert got == 24 / 30, got


def test_business_day_feature_freshness_and_coverage(offd):
    """macro/us/rrp_total_usd (fred, daily, us_federal): a point at 00:00 UTC of every open
    day of the last 60 days. Coverage 1; freshness counts every hour since the newest point,
    the business freshness only those of open days."""
    d = offd
    now = lh.now_us()
    today = now // D * D
    # the global series (no entity)
    pts = [{"featureId": F_RRP, "ts": lh.fmt_ts(today - k * D), "value": 4.0e11}
           for k in range(60, -1, -1) if us_federal_open(day_of_us(today - k * D))]
    lh.publish_ok(d, pts)
    ts = [lh.parse_ts(p["ts"]) for p in pts]
    newest = max(ts)
    x, a, b = scrape_timed(d)
    mid = (a + b) // 2
    cov = x.value("feature_coverage_ratio", feature=F_RRP)
    assert coverage_model(ts, D, 18 * H, mid, us_federal_open) == 1
    assert cov == 1, "coverage %r of a series with every open day" % cov
    f = x.value("feature_freshness_seconds", feature=F_RRP)
    fb = x.value("feature_freshness_business_seconds", feature=F_RRP)
    want_f = (mid - newest) / 1e6
    want_fb = open_us(us_federal_open, newest, mid) / 1e6
    assert abs(f - want_f) <= 30, "freshness %r, expected %r (newest point %s)" % (f, want_f, lh.fmt_ts(newest))
    assert abs(fb - want_fb) <= 30, "business freshness %r, expected %r (newest point %s, now %s)" % (
        fb, want_fb, lh.fmt_ts(newest), lh.fmt_ts(mid))
    if want_f - want_fb > 3600:  # a closed day (weekend, holiday) since the newest point
        assert fb < f, (fb, f)


def test_business_freshness_across_a_year_of_holidays(offd):
    """One point of a fred feature 330 days ago, at 15:00 UTC: the business freshness is
    the time since then on US federal open days (every 2026 holiday is in the range)."""
    d = offd
    ts = (lh.now_us() // D - 330) * D + 15 * H
    lh.publish_ok(d, [{"featureId": F_WALCL, "ts": lh.fmt_ts(ts), "value": 7.0e12}])
    x, a, b = scrape_timed(d)
    mid = (a + b) // 2
    f = x.value("feature_freshness_seconds", feature=F_WALCL)
    fb = x.value("feature_freshness_business_seconds", feature=F_WALCL)
    assert abs(f - (mid - ts) / 1e6) <= 30, (f, (mid - ts) / 1e6)
    want = open_us(us_federal_open, ts, mid) / 1e6
    assert abs(fb - want) <= 30, "business freshness %r s, expected %r s (%.3f open days of %.3f)" % (
        fb, want, want / 86400, f / 86400)


def test_weekly_coverage(offd):
    """A fred weekly feature (slots from Wednesday 00:00 UTC, publication delay 2 days):
    a point on each of the last 12 Wednesdays but one."""
    d = offd
    anchor, week = 6 * D, 7 * D  # 1970-01-07 was a Wednesday
    now = lh.now_us()
    last_wed = anchor + (now - anchor) // week * week
    ts = [last_wed - k * week for k in range(11, -1, -1) if k != 4]
    lh.publish_ok(d, [{"featureId": F_TGA, "ts": lh.fmt_ts(t), "value": 7.5e11} for t in ts])
    x, a, b = scrape_timed(d)
    got = x.value("feature_coverage_ratio", feature=F_TGA)
    want = {coverage_model(ts, week, 2 * D, a, anchor=anchor), coverage_model(ts, week, 2 * D, b, anchor=anchor)}
    assert got in want and got < 1, "weekly coverage %r, expected %r" % (got, sorted(want))


def test_weekday_calendar_coverage_with_gaps(offd):
    """macro/us/dxy_index (tradingview: Monday..Friday, delay 1d): every weekday of the
    last 50 days at 00:00 UTC but three of them; weekends are not expected."""
    d = offd
    now = lh.now_us()
    today = now // D * D
    days = [today - k * D for k in range(50, -1, -1) if day_of_us(today - k * D).weekday() < 5]
    ts = [t for i, t in enumerate(days) if i not in (len(days) - 6, len(days) - 9, len(days) - 17)]
    lh.publish_ok(d, [{"featureId": F_DXY, "ts": lh.fmt_ts(t), "value": 100.0} for t in ts])

    def weekdays(day):
        return day.weekday() < 5

    x, a, b = scrape_timed(d)
    got = x.value("feature_coverage_ratio", feature=F_DXY)
    want = {coverage_model(ts, D, D, a, weekdays), coverage_model(ts, D, D, b, weekdays)}
    assert got in want, "coverage %r, expected %r (weekdays calendar)" % (got, sorted(want))
    assert got < 1
    f = x.value("feature_freshness_seconds", feature=F_DXY)
    fb = x.value("feature_freshness_business_seconds", feature=F_DXY)
    mid = (a + b) // 2
    assert abs(fb - open_us(weekdays, max(ts), mid) / 1e6) <= 30, (fb, open_us(weekdays, max(ts), mid) / 1e6, f)


# =======================================================================================
# 8. The semáforo


def test_semaforo_gauges_equal_the_api(mockd):
    d = mockd
    for _ in range(40):
        reg = d.get(BASE + "/regime/latest", role="reader")
        x = scrape(d)
        sb = d.get(BASE + "/scoreboard", role="reader")
        reg2 = d.get(BASE + "/regime/latest", role="reader")
        assert reg.status_code == 200 and sb.status_code == 200 and reg2.status_code == 200, (reg.text, sb.text)
        reg, sb, reg2 = reg.json(), sb.json(), reg2.json()
        T = lh.parse_ts(reg["ts"])
        g = x.get("liquidity_grid_timestamp_seconds")
        if g is not None and reg["ts"] == reg2["ts"] == sb["ts"] and round(g * 1e6) == T:
            break
    else:
        pytest.fail("regime/latest, scoreboard and /metrics never showed the same grid point")
    assert reg["provisional"] is False
    assert x.value("liquidity_score", block="composite") == reg["score"]
    states = {l["state"]: v for l, v in x.series("liquidity_regime_state")}
    assert sorted(states.values()) == [0, 0, 1], states
    assert states[reg["state"]] == 1, (states, reg["state"])
    for c, v in reg["components"].items():
        if v is None:
            assert x.get("liquidity_component_zscore", component=c) is None
            assert x.get("liquidity_score", block=c) is None
        else:
            assert x.value("liquidity_component_zscore", component=c) == v, c
            assert x.value("liquidity_score", block=c) == min(100.0, max(0.0, 100.0 * (v + 3.0) / 6.0)), c
    assert x.label_values("liquidity_component_zscore", "component") == {c for c, v in reg["components"].items()
                                                                          if v is not None}
    assert x.value("liquidity_composite_zscore", stage="raw") == reg["raw"]
    assert x.value("liquidity_composite_zscore", stage="smoothed") == reg["smoothed"]
    assert x.value("liquidity_confidence") == reg["confidence"]
    for c, v in sb["coherence"].items():
        assert x.value("liquidity_coherence", component=c) == v, c
    feeds = {(s["component"], s["featureId"]): s["z"] for s in sb["signals"] if s["sufficient"]}
    got = {(l["component"], l["feed"]): v for l, v in x.series("liquidity_feed_zscore")}
    assert got == feeds
    assert x.value("lav_leader") == 1


# =======================================================================================
# 9. Dependencies, process, event loop


def test_dependencies_and_process(mockd):
    d = mockd
    x = lh.poll(lambda: (lambda x: x if x.get("feature_storage_size_bytes", layer="postgres") is not None else None)(
        scrape(d)), timeout=40, interval=0.5) or scrape(d)
    assert x.value("lav_pg_up") == 1
    assert x.value("lav_pg_pool_connections", state="down") == 0
    assert x.value("lav_pg_pool_connections", state="ready") + x.value("lav_pg_pool_connections", state="busy") >= 1
    assert x.value("lav_pg_query_duration_seconds_count") > 0
    assert x.value("lav_redis_up") == 1
    assert x.value("lav_redis_command_duration_seconds_count") > 0
    for layer in ("postgres", "redis", "memory"):
        assert x.value("feature_storage_size_bytes", layer=layer) > 0, layer
    assert x.value("process_resident_memory_bytes") > 0
    assert x.value("process_virtual_memory_bytes") >= x.value("process_resident_memory_bytes")
    assert x.value("process_open_fds") > 0
    assert x.value("process_cpu_seconds_total") >= 0
    with open("/proc/%d/limits" % d.proc.pid) as f:
        soft = [ln.split()[3] for ln in f if ln.startswith("Max open files")][0]
    assert x.value("process_max_fds") == (math.inf if soft == "unlimited" else int(soft))
    a, b = d.started_between
    assert a - 1 <= x.value("process_start_time_seconds") <= b + 1, (x.value("process_start_time_seconds"), a, b)
    assert x.value("lav_leader") == 1
    builds = x.series("lav_build_info")
    assert len(builds) == 1 and builds[0][1] == 1 and builds[0][0]["version"], builds
    # mock mode asks no upstream
    assert all(v == 0 for l, v in x.series("lav_source_requests_total")), x.series("lav_source_requests_total")
    # the lag probe fires every 100 ms (at most once per 100 ms: the upper bound)
    m0 = time.monotonic()
    x0 = scrape(d)
    time.sleep(1.0)
    x1 = scrape(d)
    elapsed = time.monotonic() - m0
    n = x1.value("lav_event_loop_lag_seconds_count") - x0.value("lav_event_loop_lag_seconds_count")
    assert 5 <= n <= elapsed / 0.1 + 2, "the 100 ms lag probe fired %d times in %.2f s" % (n, elapsed)


def _proc_stat(pid):
    """(utime + stime in clock ticks) of /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_process_fds_and_cpu_match_proc(offd):
    """process_open_fds is lavd's descriptor count while the scrape's own connection is
    open; process_cpu_seconds_total lies between /proc readings taken around the scrape."""
    d = offd
    pid = d.proc.pid
    tick = os.sysconf("SC_CLK_TCK")
    for _ in range(10):
        s = d.connect()
        try:
            s.sendall(lh.raw_request("GET", "/healthz"))
            rd = lh.SockReader(s)
            assert rd.read_response().status == 200  # the connection is accepted: it has its fd
            fds0 = len(os.listdir("/proc/%d/fd" % pid))
            cpu0 = _proc_stat(pid)
            s.sendall(lh.raw_request("GET", "/metrics"))
            resp = rd.read_response()
            cpu1 = _proc_stat(pid)
            fds1 = len(os.listdir("/proc/%d/fd" % pid))
        finally:
            s.close()
        assert resp.status == 200
        x = Exposition(resp.body.decode())
        assert cpu0 / tick <= x.value("process_cpu_seconds_total") <= cpu1 / tick
        if fds0 == fds1:
            assert x.value("process_open_fds") == fds0, "process_open_fds %r, /proc/%d/fd holds %d" % (
                x.value("process_open_fds"), pid, fds0)
            return
    pytest.fail("lavd's descriptor count never held still around a scrape")


def test_connection_counters(offd):
    d = offd
    x0 = scrape(d)
    for _ in range(5):
        assert requests.get(d.url("/healthz"), timeout=lh.HTTP_TIMEOUT).status_code == 200
    x1 = scrape(d)
    # five connections, and the one of the second scrape
    assert x1.value("lav_http_connections_total") - x0.value("lav_http_connections_total") == 6
    socks = []
    try:
        for _ in range(3):
            s = d.connect()
            s.sendall(lh.raw_request("GET", "/healthz"))
            assert lh.SockReader(s).read_response().status == 200
            socks.append(s)
        x = lh.poll(lambda: (lambda x: x if x.value("lav_http_connections") == 4 else None)(scrape(d)), timeout=15)
        assert x, "3 open keep-alive connections and the scrape's: lav_http_connections %r" % scrape(d).value(
            "lav_http_connections")
    finally:
        for s in socks:
            s.close()
    x = lh.poll(lambda: (lambda x: x if x.value("lav_http_connections") == 1 else None)(scrape(d)), timeout=15)
    assert x, "after closing them: lav_http_connections %r" % scrape(d).value("lav_http_connections")


def test_redis_up_follows_the_server(mockd):
    d, rs = mockd, mockd.redis
    assert scrape(d).value("lav_redis_up") == 1
    rs.stop()
    try:
        x = lh.poll(lambda: (lambda x: x if x.get("lav_redis_up") == 0 else None)(scrape(d)), timeout=30, interval=0.3)
        assert x, "lav_redis_up stayed %r with the Redis server stopped" % scrape(d).get("lav_redis_up")
        assert x.types.get("lav_redis_command_duration_seconds") == "histogram", "Redis is configured: keep the family"
        assert x.value("lav_pg_up") == 1
    finally:
        rs.start()
    x = lh.poll(lambda: (lambda x: x if x.get("lav_redis_up") == 1 else None)(scrape(d)), timeout=30, interval=0.3)
    assert x, "lav_redis_up is %r after the Redis server came back" % scrape(d).get("lav_redis_up")
    d.assert_alive()


def test_pg_up_and_pool_follow_the_server(lavd_factory):
    """A PostgreSQL of the test's own stopped and started again: lav_pg_up 1 → 0 → 1 and
    pool connections `down` while it is away."""
    pg = lh.PrivatePostgres()
    try:
        pg.start()
        d = lavd_factory("lavd-metrics-pg", dsn=pg.dsn, redis=False, overrides=FAST)
        lh.wait_store_settled(d)
        x = scrape(d)
        assert x.value("lav_pg_up") == 1 and x.value("lav_pg_pool_connections", state="down") == 0
        pool = sum(x.value("lav_pg_pool_connections", state=s) for s in ("ready", "busy", "down"))
        assert pool >= 1
        pg.stop()
        x = lh.poll(lambda: (lambda x: x if x.get("lav_pg_up") == 0 and
                             x.get("lav_pg_pool_connections", state="down") == pool else None)(scrape(d)), timeout=30)
        assert x, "PostgreSQL stopped: lav_pg_up %r, pool %r" % (scrape(d).get("lav_pg_up"),
                                                                 scrape(d).series("lav_pg_pool_connections"))
        assert x.value("lav_pg_pool_connections", state="ready") == 0
        pg.start()
        x = lh.poll(lambda: (lambda x: x if x.get("lav_pg_up") == 1 and
                             x.get("lav_pg_pool_connections", state="down") == 0 else None)(scrape(d)), timeout=40)
        assert x, "PostgreSQL back: lav_pg_up %r, pool %r" % (scrape(d).get("lav_pg_up"),
                                                              scrape(d).series("lav_pg_pool_connections"))
        d.assert_alive()
        d.stop(timeout=5)
    finally:
        pg.destroy()


# =======================================================================================
# After all the traffic above


@pytest.mark.parametrize("which", ["off", "mock"])
def test_promtool_after_traffic(request, which):
    d = _lavd(request, which)
    text = requests.get(d.url("/metrics"), timeout=lh.HTTP_TIMEOUT).text
    rc, out = promtool_check(text)
    assert rc == 0 and out == "", "promtool check metrics (%s lavd, after the tests): exit %d\n%s" % (which, rc, out)
    d.assert_alive()
