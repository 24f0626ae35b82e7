"""POST /api/features/v1/publish: idempotency, conflicts, revisions, per-point errors,
malformed bodies, data-quality flags and partitions created on demand."""

import json
import time

import pytest

import lavhelpers as lh

F_BTC = "crypto/btc/price_usd"  # range [1e4, 3e5], on_violation flag, no publication delay
F_SUPPLY = "onchain/btc/supply_btc"  # range [1.8e7, 2.1e7], on_violation reject
F_DXY = "macro/us/dxy_index"  # publication_delay 1d
PUBLISH = "/api/features/v1/publish"


def _stored(d, f, e):
    """{(ts, available_at): (value, confidence, meta, evidence)} from PostgreSQL."""
    return {(r[0], r[1]): tuple(r[2:]) for r in lh.series_rows(d.dsn, f, e)}


def _smooth_batch(e, t0, n=8):
    pts = []
    for i in range(n):
        p = {"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t0 + i * lh.US_MIN), "value": 50000.0 + 7.25 * i}
        if i % 2:
            p["available_at"] = lh.fmt_ts(t0 + i * lh.US_MIN + 30 * lh.US)
        if i % 3 == 0:
            p["confidence"] = 0.9
            p["meta"] = {"batch": "a", "i": i}
            p["evidence"] = [{"source": "binance", "ref": "k%d" % i, "fetched_at": lh.fmt_ts(t0)}]
        pts.append(p)
    return pts


@pytest.mark.smoke
def test_republish_is_a_noop(lavd):
    e = lh.unique_entity("IDEM")
    t0 = (lh.now_us() - 3 * lh.US_HOUR) // lh.US_MIN * lh.US_MIN
    batch = _smooth_batch(e, t0)
    doc = lh.publish_ok(lavd, batch)
    assert doc["errors"] == []
    rows = lh.series_rows(lavd.dsn, F_BTC, e)
    assert len(rows) == len(batch)
    for _ in range(2):
        doc = lh.publish_ok(lavd, batch)
        assert doc == {"accepted": len(batch), "rejected": 0, "errors": []}
        assert lh.series_rows(lavd.dsn, F_BTC, e) == rows, "a re-publish changed PostgreSQL"
    # the same batch as {"points": [...]} and in another order is still the same data
    doc = lh.publish_ok(lavd, list(reversed(batch)), wrap=True)
    assert lh.series_rows(lavd.dsn, F_BTC, e) == rows
    # memory agrees: query returns each point once
    res = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e})["results"][0]
    assert [lh.parse_ts(p["ts"]) for p in res["points"]] == [t0 + i * lh.US_MIN for i in range(len(batch))]


def test_conflict_is_rejected_and_not_stored(lavd):
    e = lh.unique_entity("CONF")
    t0 = (lh.now_us() - 5 * lh.US_HOUR) // lh.US_MIN * lh.US_MIN
    batch = _smooth_batch(e, t0)
    lh.publish_ok(lavd, batch)
    before = _stored(lavd, F_BTC, e)

    # alone: nothing accepted -> 422
    changed = dict(batch[1], value=batch[1]["value"] + 1)
    r, doc = lh.publish(lavd, [changed])
    assert r.status_code == 422, (r.status_code, r.text)
    assert doc["accepted"] == 0 and doc["rejected"] == 1, doc
    assert [(x["index"], x["code"]) for x in doc["errors"]] == [(0, "conflict")], doc
    assert doc["errors"][0]["message"]

    # mixed: a new point, conflicts on value (default available_at = ts), on meta and on
    # confidence, an identical duplicate -> only the new one is stored
    new = {"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t0 + 100 * lh.US_MIN), "value": 50100.0}
    c_value = dict(batch[2], value=1.0 + batch[2]["value"])  # batch[2] has no available_at
    c_meta = dict(batch[3], meta={"batch": "other"})
    c_conf = dict(batch[4], confidence=0.5)
    r, doc = lh.publish(lavd, [new, c_value, batch[5], c_meta, c_conf])
    assert r.status_code == 200, r.text
    assert doc["accepted"] == 2 and doc["rejected"] == 3, doc
    assert [(x["index"], x["code"]) for x in doc["errors"]] == [(1, "conflict"), (3, "conflict"), (4, "conflict")], doc

    after = _stored(lavd, F_BTC, e)
    new_key = (t0 + 100 * lh.US_MIN, t0 + 100 * lh.US_MIN)
    assert set(after) == set(before) | {new_key}
    for k in before:
        assert after[k] == before[k], "stored row %r changed by a conflicting publish" % (k,)

    # two different values for one key in the same batch: the first is stored, the second conflicts
    k2 = {"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t0 + 200 * lh.US_MIN), "value": 50200.0}
    r, doc = lh.publish(lavd, [k2, dict(k2, value=50201.0)])
    assert r.status_code == 200, r.text
    assert doc["accepted"] == 1 and [(x["index"], x["code"]) for x in doc["errors"]] == [(1, "conflict")], doc
    assert _stored(lavd, F_BTC, e)[(t0 + 200 * lh.US_MIN,) * 2][0] == 50200.0

    # memory never saw a conflicting value
    r = lh.latest(lavd, F_BTC, e)
    assert r.status_code == 200 and r.json()["value"] == 50200.0, r.text
    res = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e})["results"][0]
    by_ts = {lh.parse_ts(p["ts"]): p["value"] for p in res["points"]}
    for p in batch:
        assert by_ts[lh.parse_ts(p["ts"])] == p["value"]


def test_revision_is_kept(lavd):
    e = lh.unique_entity("REV")
    ts = (lh.now_us() - lh.US_HOUR) // lh.US * lh.US
    av1, av2 = ts + 10 * lh.US, ts + 20 * lh.US_MIN
    lh.publish_ok(lavd, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(av1), "value": 60000.0}])
    lh.publish_ok(lavd, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(av2), "value": 60500.0}])
    rows = lh.series_rows(lavd.dsn, F_BTC, e)
    assert [(r[0], r[1], r[2]) for r in rows] == [(ts, av1, 60000.0), (ts, av2, 60500.0)]
    p = lh.latest(lavd, F_BTC, e).json()
    assert (lh.parse_ts(p["available_at"]), p["value"]) == (av2, 60500.0)
    for as_of, want in [(av1, (av1, 60000.0)), (av2 - 1, (av1, 60000.0)), (av2, (av2, 60500.0))]:
        res = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e, "as_of": lh.fmt_ts(as_of)})["results"][0]
        assert [(lh.parse_ts(x["available_at"]), x["value"]) for x in res["points"]] == [want]
    res = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e, "as_of": lh.fmt_ts(av1 - 1)})["results"][0]
    assert res["points"] == []


def test_republish_after_outlier_window_filled_is_a_noop(lavd):
    """The same batch twice is a no-op even when it holds a spike: the second time the
    spike's series has >= 10 points in memory, so the outlier rule now fires on it. The
    client sent identical points, so the reply must not be a conflict."""
    e = lh.unique_entity("IDEMSPIKE")
    t0 = (lh.now_us() - 5 * lh.US_HOUR) // lh.US_MIN * lh.US_MIN
    batch = [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t0 + i * lh.US_MIN), "value": 50000.0 + 5 * i} for i in range(14)]
    batch.append({"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t0 + 14 * lh.US_MIN), "value": 90000.0})
    lh.publish_ok(lavd, batch)
    rows = lh.series_rows(lavd.dsn, F_BTC, e)
    r, doc = lh.publish(lavd, batch)
    assert r.status_code == 200 and doc == {"accepted": len(batch), "rejected": 0, "errors": []}, (
        "re-publishing an identical batch: %d %r" % (r.status_code, doc))
    assert lh.series_rows(lavd.dsn, F_BTC, e) == rows


def test_outlier_is_flagged(lavd):
    e = lh.unique_entity("OUTL")
    t0 = (lh.now_us() - 4 * lh.US_HOUR) // lh.US_MIN * lh.US_MIN
    normal = [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t0 + i * lh.US_MIN), "value": 50000.0 + 10 * (i % 5)} for i in range(12)]
    lh.publish_ok(lavd, normal)
    spike_ts = t0 + 20 * lh.US_MIN
    lh.publish_ok(lavd, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(spike_ts), "value": 80000.0, "meta": {"x": 1}}])
    calm_ts = t0 + 21 * lh.US_MIN
    lh.publish_ok(lavd, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(calm_ts), "value": 50020.0}])
    stored = _stored(lavd, F_BTC, e)
    meta = stored[(spike_ts, spike_ts)][2]
    assert "outlier" in meta.get("dq", []) and meta.get("x") == 1, meta
    assert stored[(spike_ts, spike_ts)][0] == 80000.0
    assert "outlier" not in ((stored[(calm_ts, calm_ts)][2] or {}).get("dq", []))
    res = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e})["results"][0]
    flagged = [lh.parse_ts(p["ts"]) for p in res["points"] if "outlier" in p["meta"].get("dq", [])]
    assert flagged == [spike_ts]


# ---------------------------------------------------------------------------------------
# Per-point errors


def _mixed_batch(e, now):
    t = (now - 30 * lh.US_MIN) // lh.US * lh.US
    ok = {"featureId": F_BTC, "entity": e, "value": 50000.0}
    good = {
        0: dict(ok, ts=lh.fmt_ts(t), value=50000.5, confidence=0.75, meta={"k": "v", "n": [1, 2.5, None], "o": {"a": True}},
                evidence=[{"source": "binance", "ref": "trade/1", "fetched_at": lh.fmt_ts(t + lh.US)},
                          {"source": "coinbase", "sha256": "ab" * 32}]),
        3: dict(ok, ts=lh.fmt_ts(t + lh.US_MIN), value=49999.0, stale=True),
        7: dict(ok, ts=lh.fmt_ts(t + 2 * lh.US_MIN), value=5.0),  # out of range: flagged, confidence halved
        12: {"featureId": F_SUPPLY, "entity": e, "ts": lh.fmt_ts(t), "available_at": lh.fmt_ts(t + lh.US_MIN), "value": 19500000.0},
        20: dict(ok, ts=lh.fmt_ts(t + 3 * lh.US_MIN).replace(".000Z", "Z"), value=50001.0),  # no fraction
        31: dict(ok, ts=None, value=50002.0, available_at=None),  # filled below: an offset timestamp
    }
    # ts written as 2 h ahead of UTC
    import datetime as dt

    local = dt.datetime.fromtimestamp((t + 4 * lh.US_MIN) / 1e6, dt.timezone(dt.timedelta(hours=2)))
    good[31]["ts"] = local.isoformat()
    good[31]["available_at"] = (local + dt.timedelta(seconds=5)).isoformat()
    future = lh.fmt_ts(now + lh.US_HOUR)
    bad = {
        1: ("unknown_feature", dict(ok, featureId="crypto/btc/no_such_feature", ts=lh.fmt_ts(t))),
        2: ("invalid_value", dict(ok, ts=lh.fmt_ts(t + 5 * lh.US_MIN), value="NaN")),
        4: ("invalid_value", dict(ok, ts=lh.fmt_ts(t + 6 * lh.US_MIN), value="abc")),
        5: ("invalid_value", {"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(t + 7 * lh.US_MIN)}),
        6: ("invalid_value", dict(ok, ts=lh.fmt_ts(t + 8 * lh.US_MIN), value=True)),
        8: ("invalid_timestamp", dict(ok, ts="2025-13-01T00:00:00Z")),
        9: ("invalid_timestamp", dict(ok, ts="yesterday")),
        10: ("invalid_timestamp", {"featureId": F_BTC, "entity": e, "value": 1.0e4}),
        11: ("invalid_timestamp", dict(ok, ts=1700000000)),
        13: ("invalid_timestamp", dict(ok, ts=lh.fmt_ts(t + 9 * lh.US_MIN), available_at=lh.fmt_ts(t + 9 * lh.US_MIN - 1000))),
        14: ("invalid_timestamp", dict(ok, ts=lh.fmt_ts(t + 10 * lh.US_MIN), available_at="soon")),
        15: ("future_timestamp", dict(ok, ts=future)),
        16: ("future_timestamp", dict(ok, ts=lh.fmt_ts(t + 11 * lh.US_MIN), available_at=future)),
        17: ("invalid_confidence", dict(ok, ts=lh.fmt_ts(t + 12 * lh.US_MIN), confidence=1.5)),
        18: ("invalid_confidence", dict(ok, ts=lh.fmt_ts(t + 13 * lh.US_MIN), confidence=-0.1)),
        19: ("invalid_confidence", dict(ok, ts=lh.fmt_ts(t + 14 * lh.US_MIN), confidence="high")),
        21: ("invalid_entity", dict(ok, ts=lh.fmt_ts(t + 15 * lh.US_MIN), entity="bad entity!")),
        22: ("invalid_entity", dict(ok, ts=lh.fmt_ts(t + 16 * lh.US_MIN), entity=123)),
        23: ("invalid_entity", dict(ok, ts=lh.fmt_ts(t + 17 * lh.US_MIN), entity="E" * 65)),
        24: ("invalid_field", dict(ok, ts=lh.fmt_ts(t + 18 * lh.US_MIN), foo=1)),
        25: ("invalid_field", dict(ok, ts=lh.fmt_ts(t + 19 * lh.US_MIN), meta=[1])),
        26: ("invalid_field", dict(ok, ts=lh.fmt_ts(t + 20 * lh.US_MIN), evidence={"source": "x"})),
        27: ("invalid_field", dict(ok, ts=lh.fmt_ts(t + 21 * lh.US_MIN), evidence=[{"ref": "no source"}])),
        28: (("invalid_field", "unknown_feature"), {"entity": e, "ts": lh.fmt_ts(t + 22 * lh.US_MIN), "value": 1.0e4}),
        29: ("out_of_range", {"featureId": F_SUPPLY, "entity": e, "ts": lh.fmt_ts(t + lh.US_HOUR // 2), "value": 5.0e6}),
        30: ("out_of_range", {"featureId": F_SUPPLY, "entity": e, "ts": lh.fmt_ts(t + lh.US_HOUR // 3), "value": 2.2e7}),
        32: (None, 42),  # not an object: rejected, whatever the code
    }
    n = len(good) + len(bad)
    assert sorted(list(good) + list(bad)) == list(range(n))
    points = [good[i] if i in good else bad[i][1] for i in range(n)]
    return points, good, bad


def test_mixed_batch_reports_every_bad_point(lavd):
    e = lh.unique_entity("MIX")
    now = lh.now_us()
    points, good, bad = _mixed_batch(e, now)
    r, doc = lh.publish(lavd, points)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == "application/json"
    assert doc["accepted"] == len(good) and doc["rejected"] == len(bad), doc
    got = [(x["index"], x["code"]) for x in doc["errors"]]
    assert [i for i, _ in got] == sorted(bad), "errors must name every bad index once, in order: %r" % got
    for idx, code in got:
        if isinstance(bad[idx][0], tuple):
            assert code in bad[idx][0], "point %d: code %r, expected one of %r" % (idx, code, bad[idx][0])
        elif bad[idx][0] is not None:
            assert code == bad[idx][0], "point %d: code %r, expected %r (%r)" % (idx, code, bad[idx][0], doc["errors"])
        else:
            assert isinstance(code, str) and code
    for x in doc["errors"]:
        assert isinstance(x["message"], str) and x["message"]

    # exactly the good points are stored
    btc = _stored(lavd, F_BTC, e)
    supply = _stored(lavd, F_SUPPLY, e)
    assert len(btc) == 5 and len(supply) == 1, (btc, supply)
    g0 = good[0]
    t0 = lh.parse_ts(g0["ts"])
    assert btc[(t0, t0)] == (50000.5, 0.75, g0["meta"], g0["evidence"])
    t3 = lh.parse_ts(good[3]["ts"])
    assert btc[(t3, t3)][:2] == (49999.0, 1.0)
    t7 = lh.parse_ts(good[7]["ts"])
    v7 = btc[(t7, t7)]
    assert v7[0] == 5.0 and v7[1] == 0.5 and "out_of_range" in v7[2]["dq"], v7
    t20 = lh.parse_ts(good[20]["ts"])
    assert (t20, t20) in btc
    t31, a31 = lh.parse_ts(good[31]["ts"]), lh.parse_ts(good[31]["available_at"])
    assert btc[(t31, a31)][0] == 50002.0
    ts12 = lh.parse_ts(good[12]["ts"])
    assert list(supply) == [(ts12, ts12 + lh.US_MIN)] and supply[(ts12, ts12 + lh.US_MIN)][:2] == (19500000.0, 1.0), supply

    # and served: meta/evidence round trip through query and latest
    res = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e})["results"][0]
    by_ts = {lh.parse_ts(p["ts"]): p for p in res["points"]}
    assert by_ts[t0]["meta"] == g0["meta"] and by_ts[t0]["evidence"] == g0["evidence"] and by_ts[t0]["confidence"] == 0.75
    assert by_ts[t7]["confidence"] == 0.5 and "out_of_range" in by_ts[t7]["meta"]["dq"]
    assert by_ts[t3]["meta"] == {} and by_ts[t3]["evidence"] == []
    assert lh.fmt_ts(t31) == by_ts[t31]["ts"], "timestamps are served in UTC with a Z"
    p = lh.latest(lavd, F_BTC, e).json()
    assert lh.parse_ts(p["ts"]) == t31 and p["value"] == 50002.0


def test_all_bad_is_422(lavd):
    e = lh.unique_entity("BAD")
    points, good, bad = _mixed_batch(e, lh.now_us())
    only_bad = [bad[i][1] for i in sorted(bad)]
    r, doc = lh.publish(lavd, only_bad, wrap=True)
    assert r.status_code == 422, r.text
    assert doc["accepted"] == 0 and doc["rejected"] == len(only_bad)
    assert [x["index"] for x in doc["errors"]] == list(range(len(only_bad)))
    assert lh.series_rows(lavd.dsn, F_BTC, e) == [] and lh.series_rows(lavd.dsn, F_SUPPLY, e) == []


@pytest.mark.smoke
@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b'"a string"', b"42", b'{"points": 5}', b'{"pts": []}', b'{"points": [], "extra": 1}',
     b'[{"featureId": "x"}', b'[1, 2,]'],
    ids=["bad-json", "empty", "string", "number", "points-not-array", "no-points-key", "extra-key", "truncated", "trailing-comma"],
)
def test_malformed_body_is_400(lavd, body):
    r = lavd.post(PUBLISH, role="publisher", data=body, headers={"Content-Type": "application/json"})
    lh.assert_error(r, 400, "malformed_body")


def test_malformed_msgpack_is_400(lavd):
    for body in [b"\xc1", b"\x92\x01", b"\x81\xa6points\x05"]:
        r = lavd.post(PUBLISH, role="publisher", data=body, headers={"Content-Type": "application/msgpack"})
        lh.assert_error(r, 400, "malformed_body")


def test_other_media_type_is_415(lavd):
    body = json.dumps([{"featureId": F_BTC, "entity": "X415", "ts": lh.fmt_ts(lh.now_us()), "value": 5e4}]).encode()
    for ct in ["text/plain", "application/xml", "application/x-www-form-urlencoded"]:
        r = lavd.post(PUBLISH, role="publisher", data=body, headers={"Content-Type": ct})
        lh.assert_error(r, 415, "unsupported_media_type")
    assert lh.series_rows(lavd.dsn, F_BTC, "X415") == []


def test_publish_needs_publisher_scope(lavd):
    pts = [{"featureId": F_BTC, "entity": "XSCOPE", "ts": lh.fmt_ts(lh.now_us()), "value": 5e4}]
    r = lavd.post(PUBLISH, role=None, json=pts)
    assert r.status_code == 401, r.text
    r = lavd.post(PUBLISH, role="reader", json=pts)
    assert r.status_code == 403, r.text
    assert lh.series_rows(lavd.dsn, F_BTC, "XSCOPE") == []


def test_default_available_at_uses_publication_delay(lavd):
    """available_at defaults to min(ts + publication_delay, now), never before ts."""
    e = lh.unique_entity("DELAY")
    now = lh.now_us()
    old = (now - 10 * lh.US_DAY) // lh.US_DAY * lh.US_DAY
    recent = (now - lh.US_HOUR) // lh.US * lh.US  # ts + 1d is in the future: known from now
    before = lh.now_us()
    lh.publish_ok(lavd, [{"featureId": F_DXY, "entity": e, "ts": lh.fmt_ts(old), "value": 101.0},
                         {"featureId": F_DXY, "entity": e, "ts": lh.fmt_ts(recent), "value": 102.0}])
    after = lh.now_us()
    rows = {r[0]: r[1] for r in lh.series_rows(lavd.dsn, F_DXY, e)}
    assert rows[old] == old + lh.US_DAY
    assert before - 1000 <= rows[recent] <= after + 1000, (lh.fmt_ts(rows[recent]), lh.fmt_ts(before), lh.fmt_ts(after))
    # a real-time feature: available_at = ts
    ts = (now - 5 * lh.US_MIN) // lh.US * lh.US
    lh.publish_ok(lavd, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "value": 50000.0}])
    assert [r[:2] for r in lh.series_rows(lavd.dsn, F_BTC, e)] == [(ts, ts)]


# ---------------------------------------------------------------------------------------
# Partitions on demand


@pytest.mark.parametrize("day", ["2015-01-05", "2001-09-30"])
def test_partition_created_for_old_date(lavd, day):
    name = "features_values_p" + day.replace("-", "")
    exists = lambda: lh.pg_query(lavd.dsn, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0]
    assert not exists(), "partition %s exists before the test" % name
    e = lh.unique_entity("PART")
    ts = lh.parse_ts(day + "T12:00:00Z")
    lh.publish_ok(lavd, [{"featureId": F_DXY, "entity": e, "ts": day + "T12:00:00Z", "value": 90.5},
                         {"featureId": F_DXY, "entity": e, "ts": day + "T23:59:59.999999Z", "value": 90.75}])
    assert exists(), "publishing a point dated %s did not create partition %s" % (day, name)
    part = lh.pg_query(lavd.dsn, "SELECT count(*) FROM " + name + " WHERE entity = %s", (e,))[0][0]
    assert part == 2
    res = lh.query_ok(lavd, {"featureIds": [F_DXY], "entity": e, "since": day + "T00:00:00Z", "until": lh.fmt_ts(ts + 12 * lh.US_HOUR)})
    pts = res["results"][0]["points"]
    assert [(lh.parse_ts(p["ts"]), p["value"]) for p in pts] == [(ts, 90.5), (ts + 12 * lh.US_HOUR - 1, 90.75)]
    assert lh.parse_ts(pts[0]["available_at"]) == ts + lh.US_DAY  # publication_delay 1d


# ---------------------------------------------------------------------------------------
# A publish arriving while every pool connection is busy


def test_publish_while_pool_busy_completes(lavd_factory):
    """Every PostgreSQL pool connection is busy with a (blocked) query when a publish
    arrives; once the queries finish, the publish must be committed and answered without
    waiting for some other publish to come along."""
    import threading

    import psycopg2

    d = lavd_factory("lavd-busy-pool", overrides={"LAV_PG_POOL_SIZE": "2", "FEATURE_API_RATE_LIMIT_RPM": "1000000"})
    lh.wait_store_settled(d)
    e = lh.unique_entity("BUSY")
    ts = (lh.now_us() - lh.US_HOUR) // lh.US * lh.US
    lh.publish_ok(d, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "value": 50000.0}])

    locker = psycopg2.connect(d.dsn)
    results = {}
    threads = []
    try:
        cur = locker.cursor()
        cur.execute("LOCK TABLE features_values IN ACCESS EXCLUSIVE MODE")  # held until commit

        def run(name, fn):
            try:
                results[name] = fn()
            except Exception as ex:  # noqa: BLE001 - reported below
                results[name] = ex

        for i in range(2):  # one blocked query per pool connection
            t = threading.Thread(target=run, args=("q%d" % i, lambda: lh.query(d, {"featureIds": [F_BTC], "entity": e}, timeout=20)[0].status_code))
            t.start()
            threads.append(t)

        def waiting():
            return lh.pg_query(d.dsn, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                      " AND application_name LIKE 'lavd-%%' AND application_name <> 'lavd-health'")[0][0] >= 2

        assert lh.poll(waiting, timeout=10, interval=0.05), "lavd's queries never blocked on the lock"
        pt = threading.Thread(target=run, args=("publish", lambda: lh.publish(d, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts + lh.US), "value": 50001.0}], timeout=5)[0].status_code))
        pt.start()
        threads.append(pt)
        time.sleep(0.5)
    finally:
        locker.commit()  # release: the queries finish, the publish can go
        locker.close()
    for t in threads:
        t.join(timeout=20)
    assert results.get("q0") == 200 and results.get("q1") == 200, results
    stuck = results.get("publish") != 200
    # another publish (also lets a stuck one go, so that lavd can stop promptly)
    lh.publish_ok(d, [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts + 2 * lh.US), "value": 50002.0}])
    assert not stuck, (
        "a publish sent while every pool connection was busy got %r (no reply within 5 s; the pool was idle again "
        "after 0.5 s); it was stored only after the next publish: %r"
        % (results.get("publish"), [r[2] for r in lh.series_rows(d.dsn, F_BTC, e)]))
