"""ORACLE_SOURCE_MODE=shadow against fakeupstream (docs/ingestion.md): every source's
features arrive normalized to the catalog's units, with evidence and publication delays;
FRED's "." dates are skipped; keys never leak; the circuit breaker opens on 500s, timeouts,
garbage, resets and rate limits, goes half-open and closes again while lavd keeps serving;
sources without keys are not polled; lavd serves with every upstream unreachable."""

import datetime as dt
import json
import re
import time

import pytest
import requests

import fakeupstream as fu
import ingesthelpers as ih
import lavhelpers as lh

HISTORY_FEATURES = sorted(f for f in ih.FEATURES if ih.history_kind(f) != "none")
CURRENT_FEATURES = sorted(f for f in ih.FEATURES if ih.history_kind(f) == "none")
HEX64 = re.compile(r"^[0-9a-f]{64}$")

F_WALCL = "macro/us/walcl_total_usd"
F_TGA = "macro/us/tga_balance_usd"
F_RRP = "macro/us/rrp_total_usd"
F_BTC = "crypto/btc/price_usd"

# The part of each series' gap-repair lookback (docs/ingestion.md "Polling") that must be
# complete shortly after start.
WINDOW_US = {"1w": 20 * 7 * ih.DAY_US, "1d": 20 * ih.DAY_US, "1h": 28 * ih.HOUR_US, "5m": 12 * ih.HOUR_US,
             "1m": 12 * ih.HOUR_US, "tick": 12 * ih.HOUR_US}


def window(fid, t0):
    return t0 - WINDOW_US[ih.FEATURES[fid]["frequency"]], t0


def missing_slots(fid, rows, t0):
    since, until = window(fid, t0)
    want = ih.expected_slots(fid, since, until, now_us=t0)
    have = {r[0] for r in rows.get(fid, [])}
    return [t for t in want if t not in have], want


def fmt_slots(ts_list, n=8):
    s = ", ".join(lh.fmt_ts(t) for t in ts_list[:n])
    return s + (" ... (%d in all)" % len(ts_list) if len(ts_list) > n else "")


@pytest.fixture(scope="module")
def fake():
    f = fu.FakeUpstream().start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def shadow(fake, lavd_factory):
    t0 = lh.now_us()
    d = lavd_factory("lavd-shadow", redis=True, overrides=ih.shadow_overrides(fake))
    d.t0 = t0
    return d


@pytest.fixture(scope="module")
def ingested(shadow, fake):
    """Waits (up to 45 s) until every feature's start window is stored; returns the rows
    by feature (whatever arrived: the per-feature tests report what is missing)."""
    t0 = shadow.t0

    def complete():
        rows = ih.rows_by_feature(shadow.dsn)
        for fid in HISTORY_FEATURES:
            if missing_slots(fid, rows, t0)[0]:
                return None
        for fid in CURRENT_FEATURES:
            if not rows.get(fid):
                return None
        return rows

    lh.poll(complete, timeout=45, interval=0.5)
    shadow.assert_alive()
    return ih.rows_by_feature(shadow.dsn)


def check_evidence(fid, row, fake, t0):
    sid = ih.source_of(fid)
    ev = row[5]
    assert isinstance(ev, list) and len(ev) == 1, "%s evidence %r" % (fid, ev)
    e = ev[0]
    assert e.get("source") == sid, "%s evidence source %r" % (fid, e)
    ref = e.get("ref")
    assert isinstance(ref, str) and ref.startswith(fake.base_url + "/"), "%s evidence ref %r" % (fid, ref)
    assert fake.fred_key not in ref and fake.etherscan_key not in ref, "%s evidence leaks a key: %r" % (fid, ref)
    if sid == "fred":
        assert "api_key=***" in ref, "FRED evidence ref must show api_key=***: %r" % ref
    if sid == "etherscan":
        assert "apikey=***" in ref, "Etherscan evidence ref must show apikey=***: %r" % ref
    assert HEX64.match(e.get("sha256") or ""), "%s evidence sha256 %r" % (fid, e.get("sha256"))
    served = {r.sha256 for r in fake.requests(family=sid) if r.sha256}
    assert e["sha256"] in served, "%s evidence sha256 %s is not the hash of any body the upstream served" % (fid, e["sha256"])
    fetched = lh.parse_ts(e["fetched_at"])
    assert t0 - lh.US <= fetched <= lh.now_us() + lh.US, "%s fetched_at %s" % (fid, e["fetched_at"])
    return fetched


def check_available_at(fid, ts, available_at, fetched_at):
    """available_at = min(ts + publication_delay, fetch time)."""
    delay = ih.delay_us(fid)
    want = min(ts + delay, fetched_at)
    # the fetch time lavd uses may differ from fetched_at by the time it takes to parse
    assert available_at == ts + delay or abs(available_at - want) <= 5 * lh.US, (
        "%s ts %s: available_at %s, want min(ts + %s, fetched %s)"
        % (fid, lh.fmt_ts(ts), lh.fmt_ts(available_at), ih.FEATURES[fid].get("publication_delay", "0"), lh.fmt_ts(fetched_at)))
    assert available_at <= ts + delay, "%s ts %s: available_at %s after ts + delay" % (fid, lh.fmt_ts(ts), lh.fmt_ts(available_at))


# ---------------------------------------------------------------------------------------
# Readiness


@pytest.mark.smoke
def test_readyz_reports_every_source(shadow, ingested):
    st, body = ih.readyz(shadow)
    assert st == 200, body
    ing = body["checks"].get("ingest")
    assert isinstance(ing, dict), body
    assert ing.get("mode") == "shadow" and ing.get("ok") is True, ing
    assert set(ing.get("sources", {})) == set(fu.SOURCE_IDS), ing
    for sid, s in ing["sources"].items():
        for k in ("state", "consecutive_failures", "requests", "failures", "last_error", "last_success_at",
                  "last_failure_at"):
            assert k in s, "source %s lacks %r: %r" % (sid, k, s)
        assert s["state"] == "closed", "source %s: %r" % (sid, s)
        assert s["requests"] >= 1 and s["last_success_at"], "source %s made no successful request: %r" % (sid, s)
        lh.parse_ts(s["last_success_at"])
        assert s["consecutive_failures"] == 0, (sid, s)
        assert isinstance(s["failures"], int)


# ---------------------------------------------------------------------------------------
# Values, per feature


@pytest.mark.parametrize("fid", HISTORY_FEATURES)
def test_history_feature_values(fid, shadow, fake, ingested):
    rows = ingested.get(fid, [])
    missing, want = missing_slots(fid, ingested, shadow.t0)
    assert want, "test bug: no expected slots for %s" % fid
    assert not missing, "%s: %d of %d expected points missing after 45 s: %s\nrequests of %s:\n%s" % (
        fid, len(missing), len(want), fmt_slots(missing), ih.source_of(fid),
        ih.request_summary(fake.requests(family=ih.source_of(fid))))
    bad = []
    for r in rows:
        ts, av, value, conf, meta, ev = r
        exp = ih.expected_value(fid, ts)
        if exp is None:
            bad.append("%s: no upstream value at this ts (stored %r)" % (lh.fmt_ts(ts), value))
        elif not ih.approx_equal(value, exp):
            bad.append("%s: stored %r, upstream says %r" % (lh.fmt_ts(ts), value, exp))
        assert meta == {"mode": "shadow"} or (isinstance(meta, dict) and meta.get("mode") == "shadow"), (fid, meta)
        fetched = check_evidence(fid, r, fake, shadow.t0)
        check_available_at(fid, ts, av, fetched)
    assert not bad, "%s: %d of %d stored values wrong:\n%s" % (fid, len(bad), len(rows), "\n".join(bad[:20]))
    # one row per ts: re-polling the same history wrote no revisions
    assert len({r[0] for r in rows}) == len(rows), "%s has several rows for one ts" % fid


@pytest.mark.parametrize("fid", CURRENT_FEATURES)
def test_current_value_features(fid, shadow, fake, ingested):
    rows = ingested.get(fid, [])
    assert rows, "%s: nothing stored after 45 s; requests:\n%s" % (
        fid, ih.request_summary(fake.requests(family=ih.source_of(fid))))
    kind, _ = ih.spec(fid)
    step = {"gas": 5 * lh.US_MIN, "dex": lh.US_HOUR, "tv": lh.US_DAY}[kind]
    for r in rows:
        ts, av, value, conf, meta, ev = r
        assert ts % step == 0, "%s ts %s is not on its %d s slot" % (fid, lh.fmt_ts(ts), step // lh.US)
        assert shadow.t0 - step <= ts <= lh.now_us(), "%s ts %s is not the fetch time's slot" % (fid, lh.fmt_ts(ts))
        exp = ih.expected_value(fid, ts)
        assert ih.approx_equal(value, exp), "%s at %s: stored %r, upstream served %r" % (fid, lh.fmt_ts(ts), value, exp)
        assert meta.get("mode") == "shadow", meta
        fetched = check_evidence(fid, r, fake, shadow.t0)
        if kind == "tv":  # the scanner's close is known at the fetch time
            assert abs(av - fetched) <= 5 * lh.US, "%s available_at %s, fetched_at %s" % (fid, lh.fmt_ts(av), lh.fmt_ts(fetched))
        else:
            assert ts <= av <= fetched + 5 * lh.US, (fid, lh.fmt_ts(ts), lh.fmt_ts(av))
    # the latest answers from memory with the same point
    r = lh.latest(shadow, fid)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["value"] == rows[-1][2] or lh.parse_ts(p["ts"]) >= rows[-1][0], (p, rows[-1])
    assert p["meta"]["mode"] == "shadow" and p["evidence"][0]["source"] == ih.source_of(fid), p


def test_latest_serves_normalized_values_with_evidence(shadow, fake, ingested):
    for fid in (F_WALCL, F_RRP, "onchain/btc/hashrate_ehs", "crypto/etf/btc_net_flow_usd", "onchain/eth/gas_price_gwei"):
        r = lh.latest(shadow, fid)
        assert r.status_code == 200, (fid, r.text)
        p = r.json()
        exp = ih.expected_value(fid, lh.parse_ts(p["ts"]))
        assert ih.approx_equal(p["value"], exp), "%s latest %r, upstream %r" % (fid, p, exp)
        assert p.get("entity", "") == "", p
        assert p["meta"] == {"mode": "shadow"}, p
        assert len(p["evidence"]) == 1 and HEX64.match(p["evidence"][0]["sha256"]), p
        if ih.source_of(fid) == "fred":
            assert "api_key=***" in p["evidence"][0]["ref"], p
    # a unit sanity check independent of the helpers: WALCL is served in millions
    p = lh.latest(shadow, F_WALCL).json()
    raw = fu.fred_value("WALCL", ih.day_of(lh.parse_ts(p["ts"])))
    assert p["value"] == pytest.approx(float(raw) * 1e6, rel=1e-12), (p, raw)
    lo, hi = ih.expected_range(F_WALCL)
    assert lo <= p["value"] <= hi


def test_tga_is_normalized_from_billions(shadow, ingested):
    """FRED serves WTREGEN in billions of USD (as the catalog's description says)."""
    rows = ingested.get(F_TGA, [])
    assert rows, "no WTREGEN points"
    ts, _, value = rows[-1][:3]
    raw = fu.fred_value("WTREGEN", ih.day_of(ts))
    assert value == pytest.approx(float(raw) * 1e9, rel=1e-12), (
        "%s at %s: stored %r for FRED's %s (billions of USD): want %r" % (F_TGA, lh.fmt_ts(ts), value, raw, float(raw) * 1e9))


def test_fred_missing_dates_are_skipped(shadow, ingested):
    for fid, series in ((F_WALCL, "WALCL"), (F_RRP, "RRPONTSYD")):
        since, until = window(fid, shadow.t0)
        dots = [t for t in range(since // lh.US_DAY * lh.US_DAY, until, lh.US_DAY)
                if fu.fred_dates(series, ih.day_of(t), ih.day_of(t)) and fu.fred_is_missing(series, ih.day_of(t))
                and t < ih.today_us()]
        assert dots, "test bug: no '.' date of %s in the window" % series
        stored = {r[0] for r in ingested.get(fid, [])}
        assert not stored & set(dots), "%s stored FRED '.' dates: %s" % (fid, fmt_slots(sorted(stored & set(dots))))
        # its neighbours are there
        assert stored, fid


def test_farside_missing_and_summary_rows_are_skipped(shadow, ingested):
    for fid, kind in (("crypto/etf/btc_net_flow_usd", "btc"), ("crypto/etf/eth_net_flow_usd", "eth")):
        rows = ingested.get(fid, [])
        assert rows, fid
        for ts, *_ in rows:
            d = ih.day_of(ts)
            assert ts % lh.US_DAY == 0 and fu.nyse_open(d), "%s: stored ts %s (a summary row?)" % (fid, lh.fmt_ts(ts))
            assert not fu.farside_is_missing(kind, d), "%s: stored a '-' day %s" % (fid, d)
        # a negative "(x.y)" total is stored negative
        negs = [r for r in rows if r[2] < 0]
        exp_negs = [t for t in (r[0] for r in rows) if (fu.farside_usd(kind, ih.day_of(t)) or 0) < 0]
        assert len(negs) == len(exp_negs), "%s: %d negative flows stored, %d expected" % (fid, len(negs), len(exp_negs))


# ---------------------------------------------------------------------------------------
# Requests


def test_fred_requests_carry_key_and_range(shadow, fake, ingested):
    reqs = fake.requests(prefix="/fred/")
    assert reqs, "no FRED requests"
    series_seen = set()
    for r in reqs:
        assert r.path == "/fred/series/observations", r
        assert r.q.get("api_key") == fake.fred_key, "FRED request without the key as api_key: %r" % r
        assert r.q.get("file_type") == "json", r
        series_seen.add(r.q.get("series_id"))
        for k in ("observation_start", "observation_end"):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", r.q.get(k, "")), "FRED %s missing or not a date: %r" % (k, r)
        assert r.q["observation_start"] <= r.q["observation_end"], r
    assert series_seen == {"WALCL", "WTREGEN", "RRPONTSYD"}, series_seen
    # the start-up gap repair asks for the weekly series' 30-week lookback
    starts = [r.q["observation_start"] for r in reqs if r.q.get("series_id") == "WALCL"]
    oldest = min(starts)
    assert oldest <= ih.day_of(shadow.t0 - 20 * 7 * lh.US_DAY).isoformat(), "WALCL never fetched from 20 weeks back: %s" % starts


def test_etherscan_requests_carry_key(shadow, fake, ingested):
    reqs = fake.requests(prefix="/v2/api")
    assert reqs, "no Etherscan requests"
    for r in reqs:
        assert r.q.get("apikey") == fake.etherscan_key, r
        assert r.q.get("chainid") == "1" and r.q.get("module") == "gastracker" and r.q.get("action") == "gasoracle", r


def test_tradingview_requests_are_scanner_posts(shadow, fake, ingested):
    reqs = fake.requests(prefix="/global/scan")
    assert reqs, "no TradingView requests"
    tickers = set()
    for r in reqs:
        assert r.method == "POST", r
        doc = r.json()
        assert doc["columns"] == ["close"], doc
        assert doc["symbols"]["query"] == {"types": []}, doc
        tickers.update(doc["symbols"]["tickers"])
    assert tickers == {ih.FEATURES[f]["source"]["series"] for f in ih.features_of("tradingview")}, tickers


def test_klines_paginate_and_skip_the_open_candle(shadow, fake, ingested):
    reqs = [r for r in fake.requests(prefix="/api/v3/klines") if r.q.get("interval") == "1m" and r.q.get("symbol") == "BTCUSDT"]
    assert reqs, "no 1m BTCUSDT klines requests"
    assert all(r.q.get("limit") == "1000" for r in reqs), [r.q for r in reqs[:5]]
    # the 1-day start-up lookback is 1440 candles: at least two pages, each starting after the previous
    full = [r for r in reqs if r.status == 200 and r.q.get("startTime")]
    starts = sorted(int(r.q["startTime"]) for r in full)
    assert len(starts) >= 2 and starts[1] - starts[0] >= 1000 * 60000 - 60000, (
        "klines were not paginated at limit=1000: startTimes %s" % starts[:5])
    rows = ingested.get(F_BTC, [])
    for ts, av, *_ in rows:
        assert av == ts, "%s: kline at %s has available_at %s (an unclosed candle?)" % (F_BTC, lh.fmt_ts(ts), lh.fmt_ts(av))
        assert ts <= lh.now_us()


def test_funding_time_is_truncated_to_the_second(shadow, ingested):
    fid = "cex/binance/btcusdt_funding_rate"
    rows = ingested.get(fid, [])
    assert rows, fid
    for ts, *_ in rows:
        assert ts % lh.US == 0, lh.fmt_ts(ts)
        slot = ts // 1000 // fu.FUNDING_MS * fu.FUNDING_MS
        assert ts // 1000 == slot, "funding ts %s is not its fundingTime to the second" % lh.fmt_ts(ts)


def test_keys_never_leak(shadow, fake, ingested):
    keys = (fake.fred_key, fake.etherscan_key)
    for fid, rows in ingested.items():
        for r in rows:
            text = json.dumps(r[5]) + json.dumps(r[4])
            for k in keys:
                assert k not in text, "%s stores a key in meta/evidence: %s" % (fid, text)
    body = requests.get(shadow.url("/readyz"), timeout=5).text
    for k in keys:
        assert k not in body, "/readyz shows a key"
        assert k not in shadow.log_text(), "lavd's log shows a key"
    r = shadow.get("/api/features/v1/latest?featureId=%s&featureId=%s" % (F_WALCL, "onchain/eth/gas_price_gwei"), role="reader")
    assert r.status_code == 200 and not any(k in r.text for k in keys), r.text


def test_repolling_writes_nothing_new(shadow, fake, ingested):
    """Polling an upstream that returns what is already stored writes no new rows."""
    daily = [f for f in HISTORY_FEATURES if ih.FEATURES[f]["frequency"] in ("1d", "1w")]

    def counts():
        rows = lh.pg_query(shadow.dsn, "SELECT feature_id, count(*) FROM features_values WHERE feature_id = ANY(%s)"
                                       " GROUP BY 1", (daily,))
        return dict(rows)

    if lh.now_us() % lh.US_DAY > lh.US_DAY - 30 * lh.US:
        time.sleep(35)  # not across midnight
    before = counts()
    t = time.time()
    time.sleep(4)
    after = counts()
    polled = {r.family for r in fake.requests(since=t) if r.status == 200}
    for sid in ("fred", "farside", "defillama", "blockchain-com"):
        assert sid in polled, "source %s was not polled in 4 s (LAV_POLL_INTERVAL_MS=500)" % sid
    assert after == before, "re-polling wrote rows: %r -> %r" % (before, after)


def test_publication_delay_hides_points_from_earlier_as_of(shadow, ingested):
    for fid in (F_WALCL, F_RRP, "crypto/etf/btc_net_flow_usd"):
        delay = ih.delay_us(fid)
        rows = [r for r in ingested.get(fid, []) if r[0] + delay < shadow.t0]
        assert rows, fid
        ts, av = rows[-1][0], rows[-1][1]
        assert av == ts + delay, "%s: available_at %s, want ts + %s" % (fid, lh.fmt_ts(av), ih.FEATURES[fid]["publication_delay"])
        body = {"featureIds": [fid], "since": lh.fmt_ts(ts), "until": lh.fmt_ts(ts + 1)}
        res = lh.query_ok(shadow, dict(body, as_of=lh.fmt_ts(ts + delay - 1)))["results"][0]
        assert res["points"] == [], "%s: as_of before ts + delay sees %r" % (fid, res["points"])
        res = lh.query_ok(shadow, dict(body, as_of=lh.fmt_ts(ts + delay)))["results"][0]
        assert [lh.parse_ts(p["ts"]) for p in res["points"]] == [ts], res
        assert res["points"][0]["value"] == rows[-1][2]


# ---------------------------------------------------------------------------------------
# The circuit breaker


NOTOK = json.dumps(fu.ETHERSCAN_NOTOK_RATE)

BREAKER_CASES = [
    # id, source, path prefixes, fault
    ("fred-500", "fred", ["/fred/"], dict(kind="status", status=500)),
    ("blockchain-timeout", "blockchain-com", ["/charts/"], dict(kind="delay", delay=6.0)),
    ("defillama-truncated-json", "defillama", ["/stablecoincharts", "/v2/historicalChainTvl", "/protocols"],
     dict(kind="garbage", garbage="truncated")),
    ("farside-html", "farside", ["/bitcoin-etf-flow-all-data", "/ethereum-etf-flow-all-data"], dict(kind="garbage", garbage="html")),
    ("binance-reset", "binance-api", ["/api/v3/", "/fapi/", "/futures/"], dict(kind="reset")),
    ("etherscan-notok", "etherscan", ["/v2/api"], dict(kind="status", status=200, body=NOTOK)),
    ("tradingview-429", "tradingview", ["/global/scan"], dict(kind="status", status=429)),
    ("aggregator-400", "cex-aggregator", ["/v1/series/"], dict(kind="status", status=400)),
    ("aggregator-eof", "cex-aggregator", ["/v1/series/"], dict(kind="close")),
]

OPEN_MS = 3000


def assert_serving(d, fid=None):
    """healthz, readyz (200) and latest (from memory) answer."""
    r = requests.get(d.url("/healthz"), timeout=3)
    assert r.status_code == 200, r.text
    r = requests.get(d.url("/readyz"), timeout=3)
    assert r.status_code == 200, "readiness must not depend on sources: %s" % r.text
    if fid:
        r = lh.latest(d, fid, timeout=3)
        assert r.status_code == 200, "latest %s while its source is down: %d %s" % (fid, r.status_code, r.text)


@pytest.mark.parametrize("case", BREAKER_CASES, ids=[c[0] for c in BREAKER_CASES])
def test_breaker_opens_half_opens_and_closes(case, lavd_factory):
    name, sid, prefixes, fault = case
    fake = fu.FakeUpstream().start()
    rec = None
    try:
        hide = sid == "fred"
        if hide:  # the last 10 days are published only after the recovery
            fake.horizon["/fred/"] = time.time() - 10 * 86400
        d = lavd_factory("lavd-breaker-" + name, overrides=ih.shadow_overrides(
            fake, LAV_SOURCE_BREAKER_OPEN_MS=OPEN_MS, LAV_SOURCE_TIMEOUT_MS=1500))
        fid = ih.features_of(sid)[0]
        ih.wait_source(d, sid, lambda s: s["state"] == "closed" and s["last_success_at"], 30, "succeeded")
        assert lh.poll(lambda: lh.latest(d, fid).status_code == 200, timeout=30), "no %s point before the fault" % fid
        rows_before = len(ih.rows_by_feature(d.dsn).get(F_RRP, []))

        rec = ih.StateRecorder(d).start()
        t_fault = time.time()
        kw = dict(fault)
        kind = kw.pop("kind")
        for p in prefixes:
            fake.set_fault(p, kind, **kw)
        s = ih.wait_state(d, sid, "open", timeout=30)
        t_open = time.time()
        assert s["consecutive_failures"] >= 3 and s["failures"] >= 3, s
        assert isinstance(s["last_error"], str) and s["last_error"], s
        assert s["last_failure_at"] and lh.parse_ts(s["last_failure_at"]) >= int(t_fault * 1e6) - lh.US, s
        for k in (fake.fred_key, fake.etherscan_key):
            assert k not in s["last_error"], s
        failed = [r for r in fake.requests(family=sid, since=t_fault)]
        assert len(failed) >= 3, "breaker opened after %d requests" % len(failed)

        # lavd keeps serving
        for _ in range(3):
            assert_serving(d, fid)
        # no request reaches the source while it rests
        time.sleep(max(0.0, t_open + 2.2 - time.time()))
        during = [r for r in fake.requests(family=sid, since=t_open + 0.3) if r.time <= t_open + 2.2]
        assert not during, "requests reached %s while its breaker was open:\n%s" % (sid, ih.request_summary(during))
        assert ih.source_state(d, sid)["state"] == "open"

        # recovery: the trial request succeeds slowly (0.7 s) so that half_open is visible
        fake.clear_faults()
        for p in prefixes:
            fake.set_fault(p, "delay", delay=0.7)
        if hide:
            fake.horizon.clear()
        ih.wait_state(d, sid, "closed", timeout=30)
        t_closed = time.time()
        time.sleep(0.3)
        rec.stop()
        seq = rec.states(sid)
        assert ih.is_subsequence(["closed", "open", "half_open", "closed"], seq), (
            "%s states seen: %s (want closed -> open -> half_open -> closed)" % (sid, seq))
        fake.clear_faults()

        # data flows again
        ok = lh.poll(lambda: [r for r in fake.requests(family=sid, since=t_closed) if r.status == 200 and r.fault is None],
                     timeout=20)
        assert ok, "no successful %s request after the breaker closed" % sid
        s = ih.wait_source(d, sid, lambda s: s["last_success_at"] and lh.parse_ts(s["last_success_at"]) > int(t_closed * 1e6),
                           20, "succeeded after closing")
        assert s["consecutive_failures"] == 0, s
        if hide:
            got = lh.poll(lambda: len(ih.rows_by_feature(d.dsn).get(F_RRP, [])) > rows_before, timeout=30)
            assert got, "the RRP days published after the recovery never arrived"
        assert_serving(d, fid)
        d.assert_alive()
    finally:
        if rec is not None:
            rec.stop()
        fake.stop()


def test_retries_absorb_transient_errors(lavd_factory):
    """Two 500s then success: the request is retried (same URL), the data arrives and the
    breaker (3 consecutive failures) stays closed."""
    fake = fu.FakeUpstream().start()
    try:
        fake.set_fault("/charts/", "status", status=500, count=2)
        d = lavd_factory("lavd-retries", overrides=ih.shadow_overrides(
            fake, LAV_SOURCE_RETRIES=3, LAV_SOURCE_BREAKER_FAILURES=3))
        fid = "onchain/btc/hashrate_ehs"
        assert lh.poll(lambda: ih.rows_by_feature(d.dsn).get(fid), timeout=30), "no hash rate after two 500s"
        reqs = fake.requests(prefix="/charts/")
        assert [r.status for r in reqs[:2]] == [500, 500], ih.request_summary(reqs)
        retried = [r for r in reqs[2:] if r.target == reqs[0].target]
        assert retried and retried[0].status == 200, "the failed request was not retried:\n%s" % ih.request_summary(reqs)
        s = ih.source_state(d, "blockchain-com")
        assert s["state"] == "closed" and s["consecutive_failures"] == 0 and s["failures"] == 2, s
        assert s["last_error"] and s["last_failure_at"] and s["last_success_at"], s
    finally:
        fake.stop()


def test_upstream_error_text_is_reported(lavd_factory):
    """last_error quotes the upstream's own error message (FRED's error_message)."""
    fake = fu.FakeUpstream().start()
    try:
        d = lavd_factory("lavd-fred-badkey", overrides=ih.shadow_overrides(
            fake, LAV_SOURCE_FRED_KEY="ffffffffffffffffffffffffffffffff"))
        s = ih.wait_source(d, "fred", lambda s: s["failures"] >= 1 and s["last_error"], 30, "failed")
        assert "not registered" in s["last_error"], "last_error %r does not quote FRED's message" % s["last_error"]
        assert "ffffffffffffffffffffffffffffffff" not in s["last_error"] and "ffffffffffffffffffffffffffffffff" not in d.log_text()
        ih.wait_state(d, "fred", "open", timeout=30)
        assert_serving(d)
    finally:
        fake.stop()


# ---------------------------------------------------------------------------------------
# Gap repair


def test_gap_repair_fetches_late_data(lavd_factory):
    """Dates FRED first serves as "." and fills in later are fetched by the periodic gap
    repair (LAV_GAP_CHECK_INTERVAL_MS), although polling has moved past them."""
    fake = fu.FakeUpstream().start()
    try:
        today = ih.day_of(lh.now_us())
        late = [d for d in (today - dt.timedelta(days=n) for n in range(10, 17))
                if fu.us_federal_open(d) and not fu.fred_is_missing("RRPONTSYD", d)][:3]
        assert late, "test bug: no late dates"
        fake.fred_hidden = {("RRPONTSYD", d) for d in late}
        d = lavd_factory("lavd-gaprepair", overrides=ih.shadow_overrides(fake, LAV_GAP_CHECK_INTERVAL_MS=2000))
        late_ts = {ih.day_us(x) for x in late}

        def rrp_ts():
            return {r[0] for r in ih.rows_by_feature(d.dsn).get(F_RRP, [])}

        newest = ih.day_us(today - dt.timedelta(days=1))
        newest = max(t for t in ih.expected_slots(F_RRP, newest - 5 * lh.US_DAY, newest + 1))
        assert lh.poll(lambda: newest in rrp_ts(), timeout=30), "RRP never arrived"
        time.sleep(1)
        assert not rrp_ts() & late_ts, "dates served as '.' were stored"
        t_fill = time.time()
        fake.fred_hidden = set()
        got = lh.poll(lambda: late_ts <= rrp_ts(), timeout=30, interval=0.3)
        reqs = [r for r in fake.requests(prefix="/fred/", since=t_fill) if r.q.get("series_id") == "RRPONTSYD"]
        assert got, "late RRP dates %s never fetched by the gap repair; RRPONTSYD requests since:\n%s" % (
            late, ih.request_summary(reqs))
        assert any(r.q["observation_start"] <= min(late).isoformat() for r in reqs), ih.request_summary(reqs)
        rows = {r[0]: r for r in ih.rows_by_feature(d.dsn)[F_RRP]}
        for t in late_ts:
            assert ih.approx_equal(rows[t][2], ih.expected_value(F_RRP, t)), rows[t]
            # published long ago: available_at = ts + delay, not the late fetch time
            assert rows[t][1] == t + ih.delay_us(F_RRP), (lh.fmt_ts(t), lh.fmt_ts(rows[t][1]))
    finally:
        fake.stop()


# ---------------------------------------------------------------------------------------
# Keys, unreachable upstreams


def test_sources_without_key_are_not_polled(lavd_factory):
    fake = fu.FakeUpstream().start()
    try:
        d = lavd_factory("lavd-nokey", overrides=ih.shadow_overrides(fake, keys=False))
        ih.wait_source(d, "binance-api", lambda s: s["last_success_at"], 30, "succeeded")
        time.sleep(2)
        ing = ih.ingest_check(d)
        for sid in ("fred", "etherscan"):
            s = ing["sources"][sid]
            assert s["state"] == "no_key", s
            assert s["requests"] == 0 and s["failures"] == 0, s
        assert not fake.requests(family="fred") and not fake.requests(family="etherscan"), (
            ih.request_summary(fake.requests(family="fred") + fake.requests(family="etherscan")))
        assert ing["sources"]["binance-api"]["state"] == "closed"
        assert requests.get(d.url("/readyz"), timeout=5).status_code == 200
        for fid in ih.features_of("fred") + ih.features_of("etherscan"):
            assert not ih.rows_by_feature(d.dsn).get(fid), fid
    finally:
        fake.stop()


def test_serves_with_every_upstream_unreachable(lavd_factory):
    port = lh.free_port()  # nothing listens there
    env = {fu.source_env_name(s): "http://127.0.0.1:%d" % port for s in fu.SOURCE_IDS}
    env.update({fu.source_env_name("fred", "KEY"): fu.FRED_KEY, fu.source_env_name("etherscan", "KEY"): fu.ETHERSCAN_KEY})
    d = lavd_factory("lavd-unreachable", overrides=ih.shadow_overrides(None, **env))

    def all_open():
        ing = ih.ingest_check(d)
        return ing if all(s["state"] in ("open", "half_open") for s in ing["sources"].values()) else None

    for _ in range(5):
        assert_serving(d)
        time.sleep(0.2)
    ing = lh.poll(all_open, timeout=40, interval=0.3)
    assert ing, "not every source opened its breaker: %s" % json.dumps(ih.ingest_check(d)["sources"], indent=1)
    for sid, s in ing["sources"].items():
        assert s["failures"] >= 1 and s["last_error"] and s["last_success_at"] is None, (sid, s)
    # the store still takes and serves points
    e = lh.unique_entity("UNREACH")
    ts = (lh.now_us() - lh.US_HOUR) // lh.US * lh.US
    lh.publish_ok(d, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "value": 61000.0}])
    r = lh.latest(d, F_BTC, e)
    assert r.status_code == 200 and r.json()["value"] == 61000.0, r.text
    assert_serving(d)
    d.assert_alive()
    assert ih.count_rows(d.dsn) == 1
