"""Helpers for the semáforo suite (test_semaforo.py): the feeds of config/liquidity.feeds.json,
data sets published through POST /publish, the liquidity endpoints, and an independent
Python model of DESIGN.md section 5 / docs/semaforo.md.

The model is exact where it can be: every value a test publishes is an integer multiple of
a power of two (integers for the USD feeds, k / 2^16 for stables_yoy), so the window sums
Σx and Σx² are exact Python integers and z = (n·x − Σx) / sqrt(n·(nΣx² − (Σx)²)/(n − 1))
comes out correctly rounded, whatever the order lavd sums in. Components, composite, EMA,
score and confidence then repeat lavd's floating-point steps in the same order.
"""

import bisect
import copy
import heapq
import json
import math
import os
from fractions import Fraction

import msgpack

import lavhelpers as lh

BASE = "/api/liquidity/v1"
FEEDS_FILE = "liquidity.feeds.json"

WALCL = "macro/us/walcl_total_usd"
TGA = "macro/us/tga_balance_usd"
RRP = "macro/us/rrp_total_usd"
BTC_FLOW = "crypto/etf/btc_net_flow_usd"
ETH_FLOW = "crypto/etf/eth_net_flow_usd"
STABLES_YOY = "crypto/stables/mcap_total_usd_yoy"
DEPTH = "cex/agg/spot_depth_2pct_usd"
PERP_OI = "cex/agg/perp_oi_usd"
DEX_LIQ = "dex/agg/active_liquidity_usd"

SCORE_F = "liquidity/score/lav_liq_score"
COMP_F = {"gl": "liquidity/component/gl", "cn": "liquidity/component/cn", "mp": "liquidity/component/mp"}
COMPUTED = [SCORE_F] + list(COMP_F.values())
COMPS = ("gl", "cn", "mp")

# stables_yoy is a ratio: its values are k / 2^16 (exact doubles); the USD feeds are integers
SCALE = {STABLES_YOY: 1 << 16}

ROW_KEYS = {"ts", "raw", "smoothed", "score", "components", "candidate", "state", "confidence", "flip", "from",
            "computed_at"}
REGIME_KEYS = {"state", "confidence", "components", "score", "updated_at", "ts", "provisional", "candidate", "raw",
               "smoothed"}
SIGNAL_KEYS = {"featureId", "component", "weight", "value", "ts", "z", "mean", "sd", "observations", "sufficient",
               "stale", "contribution"}
STATES = {"verde", "amarillo", "rojo"}


def parse_duration_us(s):
    units = {"ms": 1000, "s": lh.US, "m": lh.US_MIN, "h": lh.US_HOUR, "d": lh.US_DAY, "w": 7 * lh.US_DAY}
    for u in ("ms", "s", "m", "h", "d", "w"):
        if s.endswith(u) and s[: -len(u)].isdigit():
            return int(s[: -len(u)]) * units[u]
    raise ValueError("duration %r" % s)


def load_feeds(config_dir=lh.CONFIG_DIR):
    with open(os.path.join(config_dir, FEEDS_FILE)) as f:
        return json.load(f)


def write_feeds(config_dir, doc):
    with open(os.path.join(config_dir, FEEDS_FILE), "w") as f:
        json.dump(doc, f, indent=2)


def feed_order(feeds_doc):
    """[(component, featureId, weight)] in liquidity.feeds.json order."""
    out = []
    for c in COMPS:
        comp = feeds_doc["components"][c]
        for fid, w in zip(comp["feeds"], comp["weights"]):
            out.append((c, fid, float(w)))
    return out


# ---------------------------------------------------------------------------------------
# Model


class Params:
    """The semáforo parameters the model uses (defaults: the shipped config)."""

    def __init__(self, feeds_doc=None, catalog=None, freshness_ratio=1.5, confirm_hours=None, weights=None,
                 thresholds=None, alpha=None):
        doc = feeds_doc or load_feeds()
        cat = {f["id"]: f for f in (catalog or lh.load_catalog())}
        self.feeds = feed_order(doc)
        self.window = parse_duration_us(doc.get("normalization", {}).get("window", "180d"))
        self.min_obs = int(doc.get("normalization", {}).get("min_obs", 10))
        self.lookback = parse_duration_us(doc.get("trend_lookback", "7d"))
        self.step = parse_duration_us(doc.get("grid", {}).get("step", "1h"))
        flip = doc.get("regime", {}).get("confirmation_windows", {}).get("flip", "24h")
        self.confirm = parse_duration_us(flip) if confirm_hours is None else int(round(confirm_hours * lh.US_HOUR))
        self.weights = [float(x) for x in (weights or doc["score"]["weights"])]
        self.alpha = float(alpha if alpha is not None else doc["score"].get("smoothing", {}).get("alpha", 0.2))
        th = thresholds or (doc["regime"]["thresholds"]["green"], doc["regime"]["thresholds"]["red"])
        self.theta_hi, self.theta_lo = float(th[0]), float(th[1])
        self.ratio = float(freshness_ratio)
        self.ttl = {fid: cat[fid]["ttl_ms"] * 1000 for _, fid, _ in self.feeds}
        rules = doc["rules"]
        self.etf = list(rules["etf_flows"])
        self.stables = rules["stables_yoy"]
        self.rrp, self.tga = rules["rrp"], rules["tga"]


class Data:
    """Every published revision: {featureId: [(ts, available_at, numerator)]}; the value is
    numerator / SCALE.get(featureId, 1)."""

    def __init__(self):
        self.revs = {}

    def add(self, fid, ts, av, num):
        assert isinstance(num, int)
        self.revs.setdefault(fid, []).append((int(ts), int(av), num))

    def value(self, fid, num):
        return num / SCALE.get(fid, 1)

    def points(self, fids=None, ts_from=None, ts_until=None):
        """The publish payloads (entity omitted: the global series)."""
        out = []
        for fid, revs in self.revs.items():
            if fids is not None and fid not in fids:
                continue
            for ts, av, num in revs:
                if ts_from is not None and ts < ts_from:
                    continue
                if ts_until is not None and ts >= ts_until:
                    continue
                out.append({"featureId": fid, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(av),
                            "value": self.value(fid, num)})
        return out

    def sorted_revs(self, fid):
        return sorted(self.revs.get(fid, []))

    def min_ts(self):
        return min(r[0] for revs in self.revs.values() for r in revs)


class _FeedWindow:
    """Incremental as-of window of one feed over increasing grid times."""

    def __init__(self, revs, window):
        self.window = window
        self.by_av = sorted(revs, key=lambda r: (r[1], r[0]))
        self.i = 0
        self.known = {}  # ts -> (av, num) of the latest revision known
        self.max_ts = None
        self.heap = []  # ts of window members
        self.inwin = set()
        self.n = 0
        self.S = 0
        self.Q = 0

    def advance(self, t):
        lo = t - self.window
        while self.i < len(self.by_av) and self.by_av[self.i][1] <= t:
            ts, av, num = self.by_av[self.i]
            self.i += 1
            old = self.known.get(ts)
            if old is not None and old[0] > av:
                continue
            self.known[ts] = (av, num)
            if self.max_ts is None or ts > self.max_ts:
                self.max_ts = ts
            if ts in self.inwin:
                self.S += num - old[1]
                self.Q += num * num - old[1] * old[1]
            elif ts > lo:
                self.inwin.add(ts)
                heapq.heappush(self.heap, ts)
                self.n += 1
                self.S += num
                self.Q += num * num
        while self.heap and self.heap[0] <= lo:
            ts = heapq.heappop(self.heap)
            self.inwin.discard(ts)
            num = self.known[ts][1]
            self.n -= 1
            self.S -= num
            self.Q -= num * num


def asof(revs_sorted, t, horizon=None):
    """(ts, numerator) as of t (newest ts <= t known at t, latest revision known), or None;
    None too when ts <= horizon."""
    keys = [r[0] for r in revs_sorted]
    i = bisect.bisect_right(keys, t)
    while i > 0:
        i -= 1
        ts, av, num = revs_sorted[i]
        if av <= t:
            if horizon is not None and ts <= horizon:
                return None
            return ts, num
    return None


def clamp(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


def evaluate(data, p, grid, carry=None):
    """Model rows for grid times (increasing). carry: (smoothed, state, run_candidate,
    run_start) of the point before, or None. Returns a list of dicts (one per grid time
    with data, like lavd's history) with extra keys: signals, rules, fresh."""
    wins = {fid: _FeedWindow(data.revs.get(fid, []), p.window) for _, fid, _ in p.feeds}
    sorted_revs = {fid: data.sorted_revs(fid) for fid in set(p.etf + [p.stables, p.rrp, p.tga])}
    rows = []
    has_prev = carry is not None
    if carry:
        s_prev, state, run_cand, run_start = carry
    for t in grid:
        horizon = t - p.window - p.lookback
        signals = []
        comp = {}
        fresh = {}
        wsum = csum = wall = 0.0
        for ci, c in enumerate(COMPS):
            num = den = 0.0
            nfresh = 0
            nfeeds = 0
            for cc, fid, w in p.feeds:
                if cc != c:
                    continue
                nfeeds += 1
                fw = wins[fid]
                fw.advance(t)
                sig = {"featureId": fid, "component": c, "weight": w, "present": False, "sufficient": False,
                       "stale": False, "z": None, "x": None, "ts": None, "n": fw.n}
                if fw.max_ts is not None and fw.max_ts > horizon:
                    sig["present"] = True
                    sig["ts"] = fw.max_ts
                    xnum = fw.known[fw.max_ts][1]
                    sig["x"] = data.value(fid, xnum)
                    sig["stale"] = float(t - fw.max_ts) > float(p.ttl[fid]) * p.ratio
                    n = fw.n
                    if n >= max(p.min_obs, 1) and n >= 2:
                        sig["sufficient"] = True
                        var_num = n * fw.Q - fw.S * fw.S
                        sig["mean"] = float(Fraction(fw.S, n * SCALE.get(fid, 1)))
                        sig["sd"] = math.sqrt(Fraction(var_num, n * (n - 1) * SCALE.get(fid, 1) ** 2))
                        if var_num > 0:
                            z = float(n * xnum - fw.S) / math.sqrt(Fraction(var_num * n, n - 1))
                            z = clamp(z, -3.0, 3.0)
                        else:
                            z = 0.0
                        sig["z"] = z
                        num += w * z
                        den += abs(w)
                        nfresh += not sig["stale"]
                signals.append(sig)
            fresh[c] = nfresh / nfeeds if nfeeds else 0.0
            wall += p.weights[ci]
            if den > 0:
                comp[c] = num / den
                csum += p.weights[ci] * comp[c]
                wsum += p.weights[ci]
            else:
                comp[c] = None
        if wsum <= 0:
            continue
        raw = csum / wsum
        s = p.alpha * raw + (1 - p.alpha) * s_prev if has_prev else raw
        score = clamp(100 * (s + 3) / 6, 0.0, 100.0)
        # rules
        e = [asof(sorted_revs[f], t, horizon) for f in p.etf]
        etf_present = any(x is not None for x in e)
        etf = sum(data.value(f, x[1]) for f, x in zip(p.etf, e) if x is not None) if etf_present else None
        st = asof(sorted_revs[p.stables], t, horizon)
        stables = data.value(p.stables, st[1]) if st else None

        def rising(fid):
            a = asof(sorted_revs[fid], t, horizon)
            b = asof(sorted_revs[fid], t - p.lookback, horizon)
            return a is not None and b is not None and a[1] > b[1]

        rrp_up, tga_up = rising(p.rrp), rising(p.tga)
        rules = {"etf_net_flow": etf, "stables_yoy": stables, "rrp_rising": rrp_up, "tga_rising": tga_up}
        cand = candidate_of(s, rules, p)
        flip = False
        frm = None
        if not has_prev:
            state = run_cand = cand
            run_start = t
        else:
            if cand != run_cand:
                run_cand = cand
                run_start = t
            if cand != state and t - run_start >= p.confirm:
                flip = True
                frm = state
                state = cand
        has_prev = True
        s_prev = s
        conf = 0.0
        for ci, c in enumerate(COMPS):
            if comp[c] is None:
                continue
            cs = comp[c] * s
            agree = 1.0 if cs > 0 else 0.5 if (comp[c] == 0 or s == 0) else 0.0
            conf += p.weights[ci] * agree * fresh[c]
        rows.append({"ts": t, "raw": raw, "smoothed": s, "score": score, "components": dict(comp), "candidate": cand,
                     "state": state, "flip": flip, "from": frm, "confidence": conf / wall if wall > 0 else 0.0,
                     "signals": signals, "rules": rules, "fresh": fresh, "run": (run_cand, run_start)})
    return rows


def candidate_of(s, rules, p):
    etf = rules["etf_net_flow"]
    stables = rules["stables_yoy"]
    if s > p.theta_hi and etf is not None and etf > 0 and stables is not None and stables > 0:
        return "verde"
    if s < p.theta_lo or (rules["rrp_rising"] and rules["tga_rising"] and etf is not None and etf < 0):
        return "rojo"
    return "amarillo"


def state_machine(rows, confirm_us, carry=None):
    """[(state, flip, from)] for stored rows, from their candidates (DESIGN.md 5 step 6)."""
    out = []
    if carry is None:
        state = run_cand = run_start = None
    else:
        state, run_cand, run_start = carry
    for r in rows:
        t = lh.parse_ts(r["ts"]) if isinstance(r["ts"], str) else r["ts"]
        cand = r["candidate"]
        if state is None:
            state, run_cand, run_start = cand, cand, t
            out.append((state, False, None))
            continue
        if cand != run_cand:
            run_cand, run_start = cand, t
        if cand != state and t - run_start >= confirm_us:
            out.append((cand, True, state))
            state = cand
        else:
            out.append((state, False, None))
    return out


def grid_range(since, until, step):
    """Grid times since <= T < until."""
    t = -(-since // step) * step
    out = []
    while t < until:
        out.append(t)
        t += step
    return out


# ---------------------------------------------------------------------------------------
# Comparisons


def close(a, b, rel=1e-9, abs_=1e-9):
    if a is None or b is None:
        return a is b
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def strip(row):
    """A history row without computed_at (what must be identical between evaluations)."""
    r = dict(row)
    r.pop("computed_at", None)
    return r


def diff_rows(got, want, limit=5):
    """Human-readable differences between two lists of rows (stripped)."""
    msgs = []
    gi = {r["ts"]: r for r in got}
    wi = {r["ts"]: r for r in want}
    for ts in sorted(set(gi) | set(wi)):
        a, b = gi.get(ts), wi.get(ts)
        if a != b:
            msgs.append("%s:\n   got  %r\n   want %r" % (ts, a, b))
            if len(msgs) >= limit:
                break
    return "\n".join(msgs)


def compare_model(stored, model, fields_tol=1e-9):
    """Differences between stored history rows (JSON) and model rows: numbers within
    fields_tol (relative, or absolute for values below 1), states and flips exact."""
    problems = []
    si = {lh.parse_ts(r["ts"]): r for r in stored}
    for m in model:
        r = si.get(m["ts"])
        if r is None:
            problems.append("%s: no stored row" % lh.fmt_ts(m["ts"]))
            continue
        for k in ("raw", "smoothed", "score", "confidence"):
            if not close(r[k], m[k], fields_tol, fields_tol):
                problems.append("%s %s: stored %r, model %r" % (lh.fmt_ts(m["ts"]), k, r[k], m[k]))
        for c in COMPS:
            if not close(r["components"][c], m["components"][c], fields_tol, fields_tol):
                problems.append("%s components.%s: stored %r, model %r" % (lh.fmt_ts(m["ts"]), c,
                                                                          r["components"][c], m["components"][c]))
        for k in ("candidate", "state", "flip", "from"):
            if r[k] != m[k]:
                problems.append("%s %s: stored %r, model %r (s=%r)" % (lh.fmt_ts(m["ts"]), k, r[k], m[k],
                                                                      m["smoothed"]))
        if len(problems) > 12:
            break
    extra = sorted(set(si) - {m["ts"] for m in model})
    if extra:
        problems.append("stored rows the model does not have: %s" % [lh.fmt_ts(t) for t in extra[:5]])
    return problems


# ---------------------------------------------------------------------------------------
# HTTP


def history(d, since, until, limit=1000000, role="reader", accept=None):
    params = {"since": lh.fmt_ts(since), "until": lh.fmt_ts(until), "limit": str(limit)}
    h = {"Accept": accept} if accept else {}
    r = d.get(BASE + "/history", role=role, params=params, headers=h, timeout=60)
    assert r.status_code == 200, "history answered %d: %r" % (r.status_code, r.content[:500])
    doc = lh.decode_body(r)
    assert doc["truncated"] is False
    return doc["points"]


def replay(d, since, until, role="admin", timeout=180):
    body = {"since": lh.fmt_ts(since) if isinstance(since, int) else since,
            "until": lh.fmt_ts(until) if isinstance(until, int) else until}
    r = d.post(BASE + "/replay", role=role, json=body, timeout=timeout)
    return r


def replay_ok(d, since, until, timeout=180):
    r = replay(d, since, until, timeout=timeout)
    assert r.status_code == 200, "replay answered %d: %r" % (r.status_code, r.content[:500])
    doc = r.json()
    assert set(doc) == {"since", "until", "evaluated", "stored", "flips", "deleted"}, doc
    return doc


def get_json(d, path, role="reader", **kw):
    r = d.get(BASE + path, role=role, **kw)
    return r, (lh.decode_body(r) if r.content else None)


def publish_batches(d, points, batch=2000):
    for i in range(0, len(points), batch):
        lh.publish_ok(d, points[i: i + batch], timeout=120)


def msgpack_get(d, path, role="reader"):
    r = d.get(BASE + path, role=role, headers={"Accept": "application/msgpack"})
    assert r.status_code == 200, r.content[:300]
    assert r.headers["content-type"].split(";")[0].strip() in ("application/msgpack", "application/x-msgpack")
    return msgpack.unpackb(r.content, raw=False, timestamp=3)


def msgpack_us(t):
    """µs of a msgpack-decoded timestamp (datetime)."""
    import datetime as dt

    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * lh.US + delta.microseconds


def same_shape(js, mp, path="$"):
    """JSON and msgpack decodings agree: same keys; numbers equal; timestamps (RFC 3339 in
    JSON, the timestamp extension in msgpack) the same instant."""
    import datetime as dt

    if isinstance(js, dict):
        assert isinstance(mp, dict) and set(js) == set(mp), "%s: keys %r vs %r" % (path, sorted(js), sorted(mp))
        for k in js:
            same_shape(js[k], mp[k], path + "." + k)
    elif isinstance(js, list):
        assert isinstance(mp, list) and len(js) == len(mp), "%s: lengths" % path
        for i, (a, b) in enumerate(zip(js, mp)):
            same_shape(a, b, "%s[%d]" % (path, i))
    elif isinstance(mp, dt.datetime):
        assert isinstance(js, str), "%s: %r vs %r" % (path, js, mp)
        assert msgpack_us(mp) == lh.parse_ts(js), "%s: %r vs %r" % (path, js, mp)
    elif isinstance(js, bool) or js is None or isinstance(js, str):
        assert js == mp and type(js) is type(mp), "%s: %r vs %r" % (path, js, mp)
    else:
        assert isinstance(mp, (int, float)) and not isinstance(mp, bool) and js == mp, "%s: %r vs %r" % (path, js, mp)


def config_with(tmp_dir, **changes):
    """A private config dir whose liquidity.feeds.json has changes applied:
    window, min_obs, trend_lookback, step, flip."""
    cfg = lh.copy_config(tmp_dir)
    doc = load_feeds(cfg)
    doc = copy.deepcopy(doc)
    if "window" in changes or "min_obs" in changes:
        doc.setdefault("normalization", {})
        if "window" in changes:
            doc["normalization"]["window"] = changes["window"]
        if "min_obs" in changes:
            doc["normalization"]["min_obs"] = changes["min_obs"]
    if "trend_lookback" in changes:
        doc["trend_lookback"] = changes["trend_lookback"]
    if "step" in changes:
        doc.setdefault("grid", {})["step"] = changes["step"]
    if "flip" in changes:
        doc["regime"]["confirmation_windows"]["flip"] = changes["flip"]
    write_feeds(cfg, doc)
    return cfg, doc


# ---------------------------------------------------------------------------------------
# Data sets


def _ramp(x, a, b, v0, v1):
    if x <= a:
        return v0
    if x >= b:
        return v1
    return v0 + (v1 - v0) * (x - a) / (b - a)


# Phases of the historical data set, in days after D0 (DESIGN.md 5 step 5):
#   A [0, 30)    risk-on: WALCL up, TGA and RRP down, ETF inflows, stables_yoy up, depth up -> verde
#   B [30, 60)   risk-off: everything reverses, s < -0.8 -> rojo
#   C [60, 85)   back to the middle: s near 0 -> amarillo
#   D [85, 120)  RRP and TGA rising with ETF outflows while WALCL and depth keep s > -0.8:
#                rojo by the rule, not by the threshold
PHASES = {"A": (0, 30), "B": (30, 60), "C": (60, 85), "D": (85, 120)}
HIST_DAYS = 120
WARMUP_DAYS = 84  # twelve weekly WALCL/TGA values before D0: every feed is sufficient at D0


def _hist_levels(day):
    if day < 0:
        return dict(walcl=0.0, tga=0.0, rrp=0.0, etf=1e8, stables=0.0, mp=0.0)
    if day < 30:
        k = _ramp(day, 0, 5, 0, 1)
        return dict(walcl=k * 2e11, tga=-k * 2e11, rrp=-k * 2e11, etf=1e8 + k * 7e8, stables=k * 0.1, mp=k * 0.15)
    if day < 60:
        k = _ramp(day, 30, 34, 1, -1)
        return dict(walcl=k * 2e11, tga=-k * 2e11, rrp=-k * 2e11, etf=k * 8e8, stables=k * 0.1, mp=k * 0.15)
    if day < 85:
        k = _ramp(day, 60, 63, -1, 0)
        return dict(walcl=k * 2e11, tga=-k * 2e11, rrp=-k * 2e11, etf=1e8 + k * 8e8, stables=0.02 + k * 0.1,
                    mp=k * 0.15)
    k = _ramp(day, 85, 120, 0, 1)
    return dict(walcl=k * 2.5e11, tga=k * 1.5e11, rrp=k * 1.5e11, etf=-3e8, stables=0.02 + k * 0.05, mp=k * 0.1)


def build_history(now_us, seed=7):
    """(d0, data): WARMUP_DAYS + HIST_DAYS of the nine feeds, ending 20 days before today.
    Weekly WALCL/TGA known 2 days after ts, daily RRP 18 h after, daily ETF flows 32 h after
    (the catalog's publication delays), stables_yoy daily and the three depth feeds hourly,
    known at ts."""
    import random

    rng = random.Random(seed)
    H, D = lh.US_HOUR, lh.US_DAY
    d0 = now_us // D * D - (HIST_DAYS + 20) * D
    start, end = d0 - WARMUP_DAYS * D, d0 + HIST_DAYS * D
    data = Data()

    def u(a):
        return rng.uniform(-a, a)

    for t in range(start, end, 7 * D):
        v = _hist_levels((t - d0) / D)
        data.add(WALCL, t, t + 2 * D, int(7.0e12 + v["walcl"] + u(2e9)))
        data.add(TGA, t, t + 2 * D, int(7.0e11 + v["tga"] + u(1e9)))
    for t in range(start, end, D):
        v = _hist_levels((t - d0) / D)
        data.add(RRP, t, t + 18 * H, int(5.0e11 + v["rrp"] + u(2e9)))
        data.add(BTC_FLOW, t, t + 32 * H, int(v["etf"] * 0.6 + u(3e7)))
        data.add(ETH_FLOW, t, t + 32 * H, int(v["etf"] * 0.4 + u(2e7)))
        data.add(STABLES_YOY, t, t, int((0.05 + v["stables"] + u(0.002)) * SCALE[STABLES_YOY]))
    for t in range(start, end, H):
        v = _hist_levels((t - d0) / D)
        data.add(DEPTH, t, t, int(2.0e9 * (1 + v["mp"] + u(0.01))))
        data.add(PERP_OI, t, t, int(8.0e10 * (1 + v["mp"] + u(0.01))))
        data.add(DEX_LIQ, t, t, int(3.0e10 * (1 + v["mp"] + u(0.01))))
    return d0, data


# Live data set (seconds since the first point): warm-up, risk-on, risk-off, flat; the
# three depth feeds stop at LIVE_MP_STOP_S (stale, then too few values: component mp null);
# at the end a burst of LIVE_BURST points 0.1 s apart for the other six.
LIVE_TICK_US = 400_000
LIVE_DURATION_S = 15.0
LIVE_MP_STOP_S = 10.0
LIVE_BURST = 20


def _live_level(e):
    if e < 1.5:
        return 0.0
    if e < 8:
        return ((e - 1.5) / 6.5) ** 2
    if e < 12.5:
        return 1 - 2 * ((e - 8) / 4.5) ** 2
    return -1.0


def live_points(rng, e):
    """The feeds' values at e seconds, as (featureId, numerator) pairs."""
    p = _live_level(e)

    def u(a):
        return rng.uniform(-a, a)

    out = [
        (WALCL, int(7.0e12 + p * 1e11 + u(1e9))),
        (TGA, int(7.0e11 - p * 1e11 + u(1e9))),
        (RRP, int(5.0e11 - p * 1e11 + u(1e9))),
        (BTC_FLOW, int(1e8 + p * 6e8 + u(2e7))),
        (ETH_FLOW, int(5e7 + p * 4e8 + u(1e7))),
        (STABLES_YOY, int((0.05 + p * 0.1 + u(0.002)) * SCALE[STABLES_YOY])),
    ]
    if e <= LIVE_MP_STOP_S:
        out += [
            (DEPTH, int(2.0e9 * (1 + p * 0.1 + u(0.005)))),
            (PERP_OI, int(8.0e10 * (1 + p * 0.1 + u(0.005)))),
            (DEX_LIQ, int(3.0e10 * (1 + p * 0.1 + u(0.005)))),
        ]
    return out
