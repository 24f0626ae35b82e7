"""MessagePack in and out: publish with MessagePack timestamps, read back as columnar
MessagePack, and the same data as JSON."""

import math

import msgpack
import pytest

import lavhelpers as lh

F_BTC = "crypto/btc/price_usd"
MSGPACK = "application/msgpack"


def mp_ts(us):
    return msgpack.Timestamp(us // lh.US, (us % lh.US) * 1000)


def ts_us(t):
    assert isinstance(t, msgpack.Timestamp), "expected a MessagePack timestamp (ext -1), got %r" % (t,)
    return t.to_unix_nano() // 1000


def post_mp(d, path, body, role):
    data = msgpack.packb(body, use_bin_type=True)
    r = d.post(path, role=role, data=data, headers={"Content-Type": MSGPACK, "Accept": MSGPACK})
    ctype = r.headers.get("content-type", "").split(";")[0]
    assert ctype == MSGPACK, "reply content-type %r (%d): %r" % (ctype, r.status_code, r.content[:300])
    return r, msgpack.unpackb(r.content, raw=False, timestamp=0)


@pytest.mark.smoke
def test_msgpack_publish_and_columnar_query(lavd):
    e = lh.unique_entity("MP")
    t0 = (lh.now_us() - 2 * lh.US_HOUR) // lh.US * lh.US
    pts = []
    want = []
    for i in range(20):
        ts = t0 + i * 90 * lh.US + (i * 123457 % lh.US)  # microsecond precision
        av = ts + (i % 3) * 1500  # sometimes later than ts by 1.5 ms
        v = 50000.0 + i * 0.1 + 1e-7 * i
        p = {"featureId": F_BTC, "entity": e, "ts": mp_ts(ts), "value": v}
        if i % 3:
            p["available_at"] = mp_ts(av)
        else:
            av = ts
        if i == 4:
            p["meta"] = {"src": "mp", "list": [1, 2], "f": 1.5}
            p["evidence"] = [{"source": "x", "fetched_at": lh.fmt_ts(ts)}]
        pts.append(p)
        want.append((ts, av, v))
    bad = [
        {"featureId": F_BTC, "entity": e, "ts": mp_ts(t0 + lh.US_HOUR), "value": float("nan")},
        {"featureId": F_BTC, "entity": e, "ts": mp_ts(t0 + lh.US_HOUR + 1), "value": float("inf")},
        {"featureId": F_BTC, "entity": e, "ts": mp_ts(t0 + lh.US_HOUR + 2), "value": float("-inf")},
        {"featureId": F_BTC, "entity": e, "ts": mp_ts(lh.now_us() + lh.US_HOUR), "value": 50000.0},
    ]
    body = pts[:10] + bad + pts[10:]
    r, doc = post_mp(lavd, "/api/features/v1/publish", body, "publisher")
    assert r.status_code == 200, doc
    assert doc["accepted"] == 20 and doc["rejected"] == 4, doc
    assert [(x["index"], x["code"]) for x in doc["errors"]] == [
        (10, "invalid_value"), (11, "invalid_value"), (12, "invalid_value"), (13, "future_timestamp")], doc

    # PostgreSQL has exactly what was sent, to the microsecond
    rows = lh.series_rows(lavd.dsn, F_BTC, e)
    assert [(r[0], r[1], r[2]) for r in rows] == want

    # columnar MessagePack (query body in MessagePack too, times as timestamps)
    q = {"featureIds": [F_BTC], "entity": e, "since": mp_ts(t0), "until": mp_ts(t0 + lh.US_HOUR), "format": "columnar"}
    r, doc = post_mp(lavd, "/api/features/v1/query", q, "reader")
    assert r.status_code == 200, doc
    (res,) = doc["results"]
    assert res["featureId"] == F_BTC and res["entity"] == e and res["truncated"] is False
    assert "points" not in res
    assert [ts_us(t) for t in res["ts"]] == [w[0] for w in want]
    assert [ts_us(t) for t in res["available_at"]] == [w[1] for w in want]
    assert res["value"] == [w[2] for w in want]
    assert all(isinstance(v, float) for v in res["value"])

    # the same query as JSON rows agrees
    jdoc = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e, "since": lh.fmt_ts(t0), "until": lh.fmt_ts(t0 + lh.US_HOUR)})
    jpts = jdoc["results"][0]["points"]
    assert [(lh.parse_ts(p["ts"]), lh.parse_ts(p["available_at"]), p["value"]) for p in jpts] == want
    assert jpts[4]["meta"] == {"src": "mp", "list": [1, 2], "f": 1.5}

    # JSON columnar: strings
    jcol = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e, "format": "columnar", "since": lh.fmt_ts(t0)})["results"][0]
    assert [lh.parse_ts(t) for t in jcol["ts"]] == [w[0] for w in want]
    assert jcol["value"] == [w[2] for w in want]

    # MessagePack rows: FeaturePoints with timestamp extensions
    q["format"] = "rows"
    r, doc = post_mp(lavd, "/api/features/v1/query", q, "reader")
    mpts = doc["results"][0]["points"]
    assert [(ts_us(p["ts"]), ts_us(p["available_at"]), p["value"]) for p in mpts] == want
    assert mpts[4]["meta"] == {"src": "mp", "list": [1, 2], "f": 1.5}
    assert mpts[4]["evidence"] == [{"source": "x", "fetched_at": lh.fmt_ts(want[4][0])}]
    assert mpts[0]["meta"] == {} and mpts[0]["evidence"] == []

    # latest in MessagePack
    r = lavd.get("/api/features/v1/latest?featureId=%s&entity=%s" % (F_BTC, e), role="reader", headers={"Accept": MSGPACK})
    assert r.status_code == 200
    p = msgpack.unpackb(r.content, raw=False, timestamp=0)
    assert (ts_us(p["ts"]), ts_us(p["available_at"]), p["value"]) == want[-1]
    assert p["stale"] is True and p["confidence"] == 1.0


def test_msgpack_aggregated_columnar(lavd):
    e = lh.unique_entity("MPAGG")
    day = (lh.now_us() - 5 * lh.US_DAY) // lh.US_DAY * lh.US_DAY
    pts = [{"featureId": F_BTC, "entity": e, "ts": mp_ts(day + h * lh.US_HOUR), "value": 40000.0 + h} for h in range(0, 48, 2)]
    r, doc = post_mp(lavd, "/api/features/v1/publish", pts, "publisher")
    assert r.status_code == 200 and doc["accepted"] == len(pts), doc
    q = {"featureIds": [F_BTC], "entity": e, "since": mp_ts(day), "until": mp_ts(day + 3 * lh.US_DAY),
         "agg": "avg", "bucket": "1d", "fill": "ffill", "format": "columnar"}
    r, doc = post_mp(lavd, "/api/features/v1/query", q, "reader")
    assert r.status_code == 200, doc
    res = doc["results"][0]
    assert [ts_us(t) for t in res["ts"]] == [day, day + lh.US_DAY, day + 2 * lh.US_DAY]
    v0 = math.fsum(40000.0 + h for h in range(0, 24, 2)) / 12
    v1 = math.fsum(40000.0 + h for h in range(24, 48, 2)) / 12
    # BTC's ttl is 5 min, so the default max_age does not fill the third day
    assert res["value"][:2] == [pytest.approx(v0, rel=1e-12), pytest.approx(v1, rel=1e-12)] and res["value"][2] is None, res
