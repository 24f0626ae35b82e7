"""POST /api/features/v1/query: aggregation into UTC and time-zone buckets, forward fill
with max_age, checked against Python; and the query's validation errors."""

import datetime as dt
import math
import random
from zoneinfo import ZoneInfo

import pytest

import lavhelpers as lh

F_BTC = "crypto/btc/price_usd"
F_DXY = "macro/us/dxy_index"
F_FUND = "cex/binance/btcusdt_funding_rate"  # ttl 9 h, range [-0.003, 0.003]
MX = ZoneInfo("America/Mexico_City")
AGGS = ["sum", "avg", "min", "max", "first", "last", "count"]


def asof_points(revs, as_of):
    """revs: {ts: {available_at: value}} -> sorted [(ts, value)] as of as_of."""
    out = []
    for ts in sorted(revs):
        known = [a for a in revs[ts] if a <= as_of]
        if known:
            out.append((ts, revs[ts][max(known)]))
    return out


def py_agg(points, agg, bucket_of):
    """points sorted by ts -> [(bucket start, value, count)] for non-empty buckets."""
    buckets = {}
    for ts, v in points:
        buckets.setdefault(bucket_of(ts), []).append(v)
    out = []
    for b in sorted(buckets):
        vs = buckets[b]
        value = {
            "sum": math.fsum(vs), "avg": math.fsum(vs) / len(vs), "min": min(vs), "max": max(vs),
            "first": vs[0], "last": vs[-1], "count": float(len(vs)),
        }[agg]
        out.append((b, value, len(vs)))
    return out


def utc_bucket(size):
    return lambda ts: ts // size * size


def mx_day_bucket(ts):
    local = dt.datetime.fromtimestamp(ts / 1e6, MX)
    midnight = dt.datetime(local.year, local.month, local.day, tzinfo=MX)
    return lh.parse_ts(midnight.astimezone(dt.timezone.utc).isoformat())


def check_buckets(got_points, want, agg, what):
    got = [(lh.parse_ts(p["ts"]), p["value"], p["count"]) for p in got_points]
    assert [(g[0], g[2]) for g in got] == [(w[0], w[2]) for w in want], "%s: buckets/counts\n got %r\nwant %r" % (
        what, [(lh.fmt_ts(g[0]), g[2]) for g in got], [(lh.fmt_ts(w[0]), w[2]) for w in want])
    for g, w in zip(got, want):
        if agg in ("sum", "avg"):
            assert g[1] == pytest.approx(w[1], rel=1e-12, abs=1e-9), "%s %s bucket %s" % (what, agg, lh.fmt_ts(w[0]))
        else:
            assert g[1] == w[1], "%s %s bucket %s: %r != %r" % (what, agg, lh.fmt_ts(w[0]), g[1], w[1])


@pytest.fixture(scope="module")
def agg_data(_session_lavd):
    d = lh.ensure_running(_session_lavd)
    rng = random.Random(20251020)
    e = lh.unique_entity("AGG")
    now = lh.now_us()
    start = (now - 12 * lh.US_DAY) // lh.US_DAY * lh.US_DAY
    revs = {}
    pts = []
    ts = start + 17 * lh.US_MIN
    while ts < start + 3 * lh.US_DAY:
        v = round(rng.uniform(30000, 70000), 3)
        revs[ts] = {ts: v}
        pts.append({"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "value": v})
        if rng.random() < 0.3:  # a revision known a day later
            av = ts + lh.US_DAY
            v2 = round(v + rng.uniform(-500, 500), 3)
            revs[ts][av] = v2
            pts.append({"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(av), "value": v2})
        ts += rng.randrange(7, 95) * lh.US_MIN + rng.randrange(0, lh.US)
    rng.shuffle(pts)
    for i in range(0, len(pts), 40):
        lh.publish_ok(d, pts[i : i + 40])
    return d, e, start, revs, now


@pytest.mark.parametrize("agg", AGGS)
def test_utc_buckets(agg_data, lavd, agg):
    d, e, start, revs, now = agg_data
    for bucket, size in [("1h", lh.US_HOUR), ("6h", 6 * lh.US_HOUR), ("1d", lh.US_DAY)]:
        doc = lh.query_ok(d, {"featureIds": [F_BTC], "entity": e, "agg": agg, "bucket": bucket})
        (res,) = doc["results"]
        assert res["featureId"] == F_BTC and res["entity"] == e and res["truncated"] is False
        want = py_agg(asof_points(revs, lh.now_us()), agg, utc_bucket(size))
        check_buckets(res["points"], want, agg, "%s/%s" % (agg, bucket))


@pytest.mark.parametrize("agg", ["sum", "first", "last", "count"])
def test_buckets_as_of_and_range(agg_data, lavd, agg):
    """Aggregation reads the revisions known at as_of, inside [since, until)."""
    d, e, start, revs, now = agg_data
    since = start + 5 * lh.US_HOUR + 123 * lh.US  # not aligned: partial first bucket
    until = start + 2 * lh.US_DAY + 7 * lh.US_HOUR
    as_of = start + lh.US_DAY + 12 * lh.US_HOUR  # some revisions known, some not yet
    doc = lh.query_ok(d, {"featureIds": [F_BTC], "entity": e, "agg": agg, "bucket": "4h",
                          "since": lh.fmt_ts(since), "until": lh.fmt_ts(until), "as_of": lh.fmt_ts(as_of)})
    pts = [(t, v) for t, v in asof_points(revs, as_of) if since <= t < until]
    check_buckets(doc["results"][0]["points"], py_agg(pts, agg, utc_bucket(4 * lh.US_HOUR)), agg, "as_of " + agg)
    # as_of matters here: with every revision the answer differs (for sums at least)
    if agg == "sum":
        later = [(t, v) for t, v in asof_points(revs, now) if since <= t < until]
        assert py_agg(later, agg, utc_bucket(4 * lh.US_HOUR)) != py_agg(pts, agg, utc_bucket(4 * lh.US_HOUR))


@pytest.mark.parametrize("agg", ["sum", "avg", "count", "first", "last"])
def test_mexico_city_day_buckets(agg_data, lavd, agg):
    d, e, start, revs, now = agg_data
    doc = lh.query_ok(d, {"featureIds": [F_BTC], "entity": e, "agg": agg, "bucket": "1d", "tz": "America/Mexico_City"})
    want = py_agg(asof_points(revs, now), agg, mx_day_bucket)
    assert all(lh.fmt_ts(w[0]).endswith("T06:00:00.000Z") for w in want)  # UTC-6 since late 2022
    check_buckets(doc["results"][0]["points"], want, agg, "Mexico City " + agg)


def test_mexico_city_day_buckets_across_dst_end(lavd):
    """2022-10-30: the last DST change in Mexico City; that local day lasts 25 h."""
    e = lh.unique_entity("AGGDST")
    t = lh.parse_ts("2022-10-28T00:00:00Z")
    pts = []
    while t < lh.parse_ts("2022-11-02T00:00:00Z"):
        pts.append((t, 80.0 + (t // lh.US_HOUR) % 37))
        t += lh.US_HOUR
    for i in range(0, len(pts), 50):
        lh.publish_ok(lavd, [{"featureId": F_DXY, "entity": e, "ts": lh.fmt_ts(a), "available_at": lh.fmt_ts(a), "value": v}
                             for a, v in pts[i : i + 50]])
    since, until = "2022-10-28T05:00:00Z", "2022-11-01T06:00:00Z"  # local midnights (CDT, then CST)
    inside = [p for p in pts if lh.parse_ts(since) <= p[0] < lh.parse_ts(until)]
    for agg in ["sum", "count", "first", "last"]:
        doc = lh.query_ok(lavd, {"featureIds": [F_DXY], "entity": e, "agg": agg, "bucket": "1d", "tz": "America/Mexico_City",
                                 "since": since, "until": until})
        want = py_agg(inside, agg, mx_day_bucket)
        assert [w[2] for w in want] == [24, 24, 25, 24], want
        assert [lh.fmt_ts(w[0]) for w in want] == ["2022-10-28T05:00:00.000Z", "2022-10-29T05:00:00.000Z",
                                                   "2022-10-30T05:00:00.000Z", "2022-10-31T06:00:00.000Z"]
        check_buckets(doc["results"][0]["points"], want, agg, "DST " + agg)


def _fill_series(lavd, feature, e, base, offsets_values):
    lh.publish_ok(lavd, [{"featureId": feature, "entity": e, "ts": lh.fmt_ts(base + off), "available_at": lh.fmt_ts(base + off), "value": v}
                         for off, v in offsets_values])


def test_ffill_with_max_age(lavd):
    e = lh.unique_entity("FILL")
    d0 = (lh.now_us() - 30 * lh.US_DAY) // lh.US_DAY * lh.US_DAY
    data = {0: 100.0, 1: 101.5, 4: 99.25, 12: 103.0}
    _fill_series(lavd, F_DXY, e, d0, [(k * lh.US_DAY, v) for k, v in data.items()])
    body = {"featureIds": [F_DXY], "entity": e, "agg": "last", "bucket": "1d", "since": lh.fmt_ts(d0),
            "until": lh.fmt_ts(d0 + 15 * lh.US_DAY), "fill": {"method": "ffill", "max_age": "60h"}}
    res = lh.query_ok(lavd, body)["results"][0]
    got = [(lh.parse_ts(p["ts"]), p["value"], p["count"]) for p in res["points"]]
    want = []
    last = None
    for k in range(15):
        if k in data:
            last = (k, data[k])
            want.append((d0 + k * lh.US_DAY, data[k], 1))
        elif last and (k - last[0]) * 24 <= 60:
            want.append((d0 + k * lh.US_DAY, last[1], 0))
        else:
            want.append((d0 + k * lh.US_DAY, None, 0))
    assert got == want, "\n got %r\nwant %r" % (got, want)
    assert res["truncated"] is False

    # columnar: the same values, nulls where nothing is filled
    body["format"] = "columnar"
    col = lh.query_ok(lavd, body)["results"][0]
    assert [lh.parse_ts(t) for t in col["ts"]] == [w[0] for w in want]
    assert col["value"] == [w[1] for w in want]

    # without fill: only non-empty buckets
    del body["fill"], body["format"]
    res = lh.query_ok(lavd, body)["results"][0]
    assert [(lh.parse_ts(p["ts"]), p["value"]) for p in res["points"]] == [(d0 + k * lh.US_DAY, v) for k, v in data.items()]


def test_ffill_default_max_age_is_ttl(lavd):
    """fill "ffill" without max_age fills up to the feature's ttl (9 h for the funding rate)."""
    e = lh.unique_entity("FILLTTL")
    h0 = (lh.now_us() - 3 * lh.US_DAY) // lh.US_DAY * lh.US_DAY
    _fill_series(lavd, F_FUND, e, h0, [(0, 0.0001), (14 * lh.US_HOUR, -0.0002)])
    res = lh.query_ok(lavd, {"featureIds": [F_FUND], "entity": e, "agg": "avg", "bucket": "2h", "since": lh.fmt_ts(h0),
                             "until": lh.fmt_ts(h0 + 20 * lh.US_HOUR), "fill": "ffill"})["results"][0]
    got = [p["value"] for p in res["points"]]
    #         0h      2h      4h      6h      8h      10h   12h   14h      16h      18h
    assert got == [0.0001, 0.0001, 0.0001, 0.0001, 0.0001, None, None, -0.0002, -0.0002, -0.0002], got
    assert [lh.parse_ts(p["ts"]) - h0 for p in res["points"]] == [k * 2 * lh.US_HOUR for k in range(10)]


def test_limit_on_buckets(agg_data, lavd):
    d, e, start, revs, now = agg_data
    res = lh.query_ok(d, {"featureIds": [F_BTC], "entity": e, "agg": "count", "bucket": "1h", "limit": 5})["results"][0]
    assert res["truncated"] is True
    want = py_agg(asof_points(revs, now), "count", utc_bucket(lh.US_HOUR))[:5]
    check_buckets(res["points"], want, "count", "limit 5")


# ---------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"featureIds": [F_BTC], "bogus": 1}, 400, "bad_parameter"),
        ({"featureIds": F_BTC}, 400, "bad_parameter"),
        ({"featureIds": []}, 400, "bad_parameter"),
        ({}, 400, "bad_parameter"),
        ({"featureIds": [F_BTC], "entity": 5}, 400, "bad_parameter"),
        ({"featureIds": [F_BTC], "since": "last tuesday"}, 400, "bad_parameter"),
        ({"featureIds": [F_BTC], "until": 1700000000}, 400, "bad_parameter"),
        ({"featureIds": [F_BTC], "as_of": "2025-02-30T00:00:00Z"}, 400, "bad_parameter"),
        ({"featureIds": [F_BTC], "since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "since": "2025-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "median", "bucket": "1h"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "sum"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "bucket": "1h"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "sum", "bucket": "1 hour"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "sum", "bucket": "1d", "tz": "Mars/Olympus_Mons"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "sum", "bucket": "1d", "fill": "ffill"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "sum", "bucket": "1d", "since": "2025-01-01T00:00:00Z", "fill": "bfill"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "agg": "sum", "bucket": "1d", "since": "2025-01-01T00:00:00Z",
          "fill": {"method": "ffill", "max_age": "soon"}}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "limit": 0}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "limit": "10"}, 422, "invalid_query"),
        ({"featureIds": [F_BTC], "format": "csv"}, 422, "invalid_query"),
        ({"featureIds": ["crypto/btc/nope"]}, 404, "unknown_feature"),
        ({"featureIds": [F_BTC, "crypto/btc/nope"]}, 404, "unknown_feature"),
    ],
)
def test_query_validation(lavd, body, status, code):
    r, _ = lh.query(lavd, body)
    lh.assert_error(r, status, code)


def test_query_malformed_and_scope(lavd):
    r = lavd.post("/api/features/v1/query", role="reader", data=b"{oops", headers={"Content-Type": "application/json"})
    lh.assert_error(r, 400, "malformed_body")
    r = lavd.post("/api/features/v1/query", role="reader", data=b"{}", headers={"Content-Type": "text/csv"})
    lh.assert_error(r, 415, "unsupported_media_type")
    r = lavd.post("/api/features/v1/query", role=None, json={"featureIds": [F_BTC]})
    assert r.status_code == 401
