"""Shared by the ingestion suites (test_ingest_shadow, test_ingest_mock, test_backfill):
what lavd must store for each catalog feature when it ingests from fakeupstream, readyz
helpers, `lavd backfill` runs and row dumps.

Times are integer microseconds (as in lavhelpers) unless a name says _s (seconds)."""

import datetime as dt
import json
import re
import threading

import requests

import fakeupstream as fu
import lavhelpers as lh

US = lh.US
DAY_US = lh.US_DAY
HOUR_US = lh.US_HOUR
MIN_US = lh.US_MIN

CATALOG = lh.load_catalog()
# Source "lav": the semáforo's score and components, computed by lavd itself. They are never
# ingested, backfilled nor publishable (docs/semaforo.md), so no upstream expectation exists.
COMPUTED_SOURCE = "lav"
COMPUTED = sorted(f["id"] for f in CATALOG if f["source"]["id"] == COMPUTED_SOURCE)
# The features lavd ingests from upstream sources.
FEATURES = {f["id"]: f for f in CATALOG if f["source"]["id"] != COMPUTED_SOURCE}

# Features whose upstream serves only the current value: nothing to backfill.
CURRENT_ONLY_SOURCES = {"etherscan", "tradingview"}

FREQ_US = {"tick": MIN_US, "1m": MIN_US, "5m": 5 * MIN_US, "1h": HOUR_US, "1d": DAY_US, "1w": 7 * DAY_US}


def parse_duration_us(s):
    if not s:
        return 0
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", s)
    assert m, "unparsable publication_delay %r" % s
    n = int(m.group(1))
    return n * {"ms": 1000, "s": US, "m": MIN_US, "h": HOUR_US, "d": DAY_US, "w": 7 * DAY_US}[m.group(2)]


def delay_us(fid):
    return parse_duration_us(FEATURES[fid].get("publication_delay"))


def period_us(fid):
    return FREQ_US[FEATURES[fid]["frequency"]]


# Upstreams that publish less often than their feature's catalog frequency: lavd's slots
# (mock values, gap detection) follow the coarser upstream cadence.
UPSTREAM_PERIOD_US = {"funding": 8 * HOUR_US, "chaintvl": DAY_US}


def slot_period_us(fid):
    return max(period_us(fid), UPSTREAM_PERIOD_US.get(spec(fid)[0], 0))


def source_of(fid):
    return FEATURES[fid]["source"]["id"]


def features_of(source_id):
    return sorted(f for f in FEATURES if source_of(f) == source_id)


def expected_range(fid):
    return FEATURES[fid]["quality"]["expected_range"]


def day_of(ts_us):
    return fu.secs_day(ts_us // US)


def day_us(d):
    return fu.day_secs(d) * US


def today_us():
    return lh.now_us() // DAY_US * DAY_US


# ---------------------------------------------------------------------------------------
# Which upstream series a feature reads (from its catalog source.series)


def spec(fid):
    """(kind, params) of a feature's upstream series."""
    f = FEATURES[fid]
    src, series = f["source"]["id"], f["source"].get("series") or ""
    if f.get("derived", {}).get("op") == "yoy":
        return "yoy", {"input": f["derived"]["inputs"][0]}
    if src == "fred":
        return "fred", {"series": series}
    if src == "farside":
        return "farside", {"kind": series}
    if src == "defillama":
        if series.startswith("stablecoincharts"):
            return "stables", {}
        if series.startswith("v2/historicalChainTvl/"):
            return "chaintvl", {"chain": series.split("/")[-1]}
        if series.startswith("protocols"):
            return "dex", {}
    if src == "binance-api":
        p = series.split("/")
        if p[0] == "klines" and len(p) == 4:
            return "klines", {"symbol": p[1], "interval": p[2], "field": p[3]}
        if p[0] == "fundingRate":
            return "funding", {"symbol": p[1]}
        if p[0] == "openInterestHist":
            return "oi", {"symbol": p[1], "period": p[2]}
        # the catalog names only the symbol: the feature id says what is read
        sym = p[-1]
        if "funding" in fid:
            return "funding", {"symbol": sym}
        if "volume" in fid:
            return "klines", {"symbol": sym, "interval": "1h", "field": "quote_volume"}
        return "klines", {"symbol": sym, "interval": "1m", "field": "close"}
    if src == "blockchain-com":
        return "chart", {"name": series}
    if src == "etherscan":
        return "gas", {}
    if src == "tradingview":
        return "tv", {"ticker": series}
    if src == "cex-aggregator":
        return "agg", {"series": series}
    raise AssertionError("no expectation for %s (%s %s)" % (fid, src, series))


def history_kind(fid):
    """"range" (any past range), "full" (whole history in each answer) or "none" (current value)."""
    kind, _ = spec(fid)
    if kind in ("gas", "tv", "dex"):
        return "none"
    if kind in ("stables", "chaintvl", "farside", "yoy"):
        return "full"
    return "range"


def expected_value(fid, ts_us, fake=None):
    """The value lavd must store for a feature at ts (catalog units), or None when the
    upstream has no value there ("." / "-" / not a slot). fake: the FakeUpstream, for its
    fred_missing / farside_missing settings (default: both on)."""
    kind, p = spec(fid)
    fred_missing = True if fake is None else fake.fred_missing
    farside_missing = True if fake is None else fake.farside_missing
    ts_s, ts_ms = ts_us // US, ts_us // 1000
    midnight = ts_us % DAY_US == 0
    d = day_of(ts_us)
    if kind == "fred":
        return fu.fred_usd(p["series"], d, fred_missing) if midnight else None
    if kind == "farside":
        return fu.farside_usd(p["kind"], d, farside_missing) if midnight and fu.nyse_open(d) else None
    if kind == "stables":
        return fu.stable_usd(d) if midnight else None
    if kind == "yoy":
        if not midnight or d - dt.timedelta(days=365) < fu.STABLE_FIRST:
            return None
        return fu.stable_usd(d) / fu.stable_usd(d - dt.timedelta(days=365)) - 1
    if kind == "chaintvl":
        return fu.chain_tvl(p["chain"], d) if midnight else None
    if kind == "dex":
        return fu.dex_tvl(ts_s) if ts_us % HOUR_US == 0 else None
    if kind == "klines":
        iv = fu.INTERVAL_MS[p["interval"]]
        if ts_ms % iv:
            return None
        if p["field"] == "close":
            return fu.kline_close(p["symbol"], ts_ms)
        return fu.kline_quote_volume(p["symbol"], iv, ts_ms - iv)
    if kind == "oi":
        if ts_ms % fu.OI_PERIOD_MS[p["period"]]:
            return None
        return float(fu.oi_entry(p["symbol"], ts_ms)["sumOpenInterestValue"])
    if kind == "funding":
        slot = ts_ms // fu.FUNDING_MS * fu.FUNDING_MS
        if fu.funding_time(slot) // 1000 * 1000 != ts_ms:
            return None
        return float(fu.funding_rate(p["symbol"], slot))
    if kind == "chart":
        if not midnight:
            return None
        v = fu.chart_value(p["name"], d)
        return v / 1e6 if p["name"] == "hash-rate" else v
    if kind == "gas":
        return fu.gas_gwei(ts_s) if ts_us % (5 * MIN_US) == 0 else None
    if kind == "tv":
        return fu.tv_close(p["ticker"], d) if midnight else None
    if kind == "agg":
        return fu.agg_value(p["series"], ts_s) if ts_us % HOUR_US == 0 else None
    raise AssertionError(kind)


def expected_slots(fid, since_us, until_us, now_us=None, fake=None):
    """The valid times in [since, until) at which the upstream has a value for a history
    feature as of now (missing "." / "-" dates excluded), sorted."""
    now_us = lh.now_us() if now_us is None else now_us
    kind, p = spec(fid)
    today = now_us // DAY_US * DAY_US
    fred_missing = True if fake is None else fake.fred_missing
    farside_missing = True if fake is None else fake.farside_missing
    out = []
    if kind in ("fred", "farside", "stables", "yoy", "chaintvl", "chart"):
        last = {"fred": today - DAY_US, "farside": today - DAY_US, "chart": today - DAY_US}.get(kind, today)
        t = -(-since_us // DAY_US) * DAY_US
        while t < until_us and t <= last:
            d = day_of(t)
            if kind == "fred":
                ok = d in fu.fred_dates(p["series"], d, d) and not (fred_missing and fu.fred_is_missing(p["series"], d))
            elif kind == "farside":
                ok = fu.nyse_open(d) and d >= fu.FARSIDE[p["kind"]]["first"] and not (
                    farside_missing and fu.farside_is_missing(p["kind"], d))
            elif kind == "yoy":
                ok = d - dt.timedelta(days=365) >= fu.STABLE_FIRST
            else:
                ok = True
            if ok:
                out.append(t)
            t += DAY_US
        return out
    if kind in ("klines", "agg"):
        step = fu.INTERVAL_MS[p["interval"]] * 1000 if kind == "klines" else HOUR_US
        t = -(-since_us // step) * step
        while t < until_us and t <= now_us:  # klines: closed candles only (close <= now)
            out.append(t)
            t += step
        return out
    if kind == "oi":  # Binance keeps 30 days
        step = fu.OI_PERIOD_MS[p["period"]] * 1000
        oldest = (now_us - 30 * DAY_US) // step * step
        t = -(-max(since_us, oldest) // step) * step
        while t < until_us and t <= now_us:
            out.append(t)
            t += step
        return out
    if kind == "funding":
        step = fu.FUNDING_MS * 1000
        slot = (since_us - step) // step * step
        while slot < until_us:
            ts = fu.funding_time(slot // 1000) // 1000 * 1000 * 1000
            if since_us <= ts < until_us and ts <= now_us:
                out.append(ts)
            slot += step
        return out
    raise AssertionError("%s has no history" % fid)


def approx_equal(a, b, rel=1e-12):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + 1e-300


# ---------------------------------------------------------------------------------------
# lavd environment and readiness


def shadow_overrides(fake=None, keys=True, **extra):
    """lavd environment for shadow mode against a FakeUpstream (or none)."""
    env = {
        "ORACLE_SOURCE_MODE": "shadow",
        "LAV_POLL_INTERVAL_MS": "500",
        "LAV_SOURCE_TIMEOUT_MS": "2000",
        "LAV_SOURCE_RETRIES": "1",
        "LAV_SOURCE_BACKOFF_MS": "50",
        "LAV_SOURCE_BREAKER_FAILURES": "3",
        "LAV_SOURCE_BREAKER_OPEN_MS": "2000",
        "FEATURE_API_RATE_LIMIT_RPM": "1000000",
    }
    if fake is not None:
        env.update(fake.env(keys=keys))
    env.update({k: str(v) for k, v in extra.items()})
    return env


def readyz(d, timeout=5.0):
    r = requests.get(d.url("/readyz"), timeout=timeout)
    return r.status_code, r.json()


def ingest_check(d, timeout=5.0):
    st, body = readyz(d, timeout)
    ing = body.get("checks", {}).get("ingest")
    assert isinstance(ing, dict), "/readyz has no checks.ingest: %s" % json.dumps(body)[:2000]
    return ing


def source_state(d, sid):
    return ingest_check(d)["sources"][sid]


def wait_source(d, sid, pred, timeout=30.0, what=""):
    """Poll /readyz until pred(source entry) holds; returns the entry."""
    last = [None]

    def check():
        s = source_state(d, sid)
        last[0] = s
        return s if pred(s) else None

    got = lh.poll(check, timeout=timeout, interval=0.1)
    assert got, "source %s never %s within %.0f s; last: %r" % (sid, what or "matched", timeout, last[0])
    return got


def wait_state(d, sid, state, timeout=30.0):
    states = (state,) if isinstance(state, str) else tuple(state)
    return wait_source(d, sid, lambda s: s.get("state") in states, timeout, "reached state %s" % (states,))


class StateRecorder:
    """Samples /readyz in a thread and records each source's state transitions."""

    def __init__(self, d, interval=0.03):
        self.d = d
        self.interval = interval
        self.seen = {}  # sid -> [states, without consecutive repeats]
        self.samples = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                ing = ingest_check(self.d, timeout=5)
                for sid, s in ing.get("sources", {}).items():
                    seq = self.seen.setdefault(sid, [])
                    if not seq or seq[-1] != s.get("state"):
                        seq.append(s.get("state"))
                self.samples += 1
            except Exception as e:  # recorded, the test decides
                self.errors.append(repr(e))
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def states(self, sid):
        return list(self.seen.get(sid, []))


def is_subsequence(want, seq):
    it = iter(seq)
    return all(any(x == w for x in it) for w in want)


# ---------------------------------------------------------------------------------------
# Stored rows


DUMP_SQL = ("SELECT feature_id, entity, ts, available_at, value, confidence, meta::text, evidence::text"
            " FROM features_values ORDER BY 1, 2, 3, 4")


def dump_rows(dsn):
    """Every stored row as text, for byte-for-byte comparison."""
    rows = lh.pg_query(dsn, "SELECT feature_id, entity, ts::text, available_at::text, value::text,"
                            " confidence::text, meta::text, evidence::text FROM features_values ORDER BY 1, 2, 3, 4")
    return [tuple(r) for r in rows]


def rows_by_feature(dsn, entity=""):
    """{feature_id: [(ts_us, available_at_us, value, confidence, meta, evidence)]}."""
    rows = lh.pg_query(
        dsn,
        "SELECT feature_id, (extract(epoch FROM ts) * 1000000)::int8, (extract(epoch FROM available_at) * 1000000)::int8,"
        " value, confidence, meta, evidence FROM features_values WHERE entity = %s ORDER BY 1, 2, 3",
        (entity,),
    )
    out = {}
    for r in rows:
        out.setdefault(r[0], []).append(tuple(r[1:]))
    return out


def count_rows(dsn):
    return lh.pg_query(dsn, "SELECT count(*) FROM features_values")[0][0]


def has_table(dsn):
    return bool(lh.pg_query(dsn, "SELECT to_regclass('features_values') IS NOT NULL")[0][0])


# ---------------------------------------------------------------------------------------
# lavd backfill


def backfill_env(dsn, overrides=None, config_dir=None):
    return lh.lavd_env(dsn, config_dir=config_dir, overrides=overrides)


def run_backfill(env, since_us=None, until_us=None, source=None, extra=(), timeout=180.0):
    """Run `lavd backfill`; returns (returncode, stdout, stderr)."""
    args = ["backfill"]
    if since_us is not None:
        args += ["--since", lh.fmt_ts(since_us)]
    if until_us is not None:
        args += ["--until", lh.fmt_ts(until_us)]
    if source is not None:
        args += ["--source", source]
    args += list(extra)
    rc, out, err = lh.run_lavd_command(env, args, timeout=timeout)
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in err, "`lavd %s` reported a sanitizer error:\n%s" % (" ".join(args), err[-5000:])
    return rc, out, err


def request_summary(reqs, limit=40):
    lines = ["%s %s -> %s" % (r.method, r.target, r.status) for r in reqs[:limit]]
    if len(reqs) > limit:
        lines.append("... %d more" % (len(reqs) - limit))
    return "\n".join(lines)
