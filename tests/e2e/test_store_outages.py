"""Dependencies going away and coming back, on servers of the test's own:
PostgreSQL (publish/query 503 with Retry-After, latest from memory, recovery by itself)
and Redis (a cache: lavd keeps serving, then resynchronises the latest keys)."""

import json
import shutil
import time

import pytest
import requests

import lavhelpers as lh

F_BTC = "crypto/btc/price_usd"
FAST = {"FEATURE_API_RATE_LIMIT_RPM": "1000000"}


def readyz(d):
    r = requests.get(d.url("/readyz"), timeout=10)
    return r.status_code, r.json()


def point(e, ts, v):
    return {"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "value": v}


def timed(fn):
    t = time.monotonic()
    out = fn()
    return out, time.monotonic() - t


def assert_unavailable(r, elapsed, what):
    assert elapsed < 5.0, "%s took %.1f s while PostgreSQL was down" % (what, elapsed)
    lh.assert_error(r, 503, "unavailable")
    ra = r.headers.get("retry-after")
    assert ra is not None and ra.isdigit() and int(ra) >= 1, "%s: Retry-After %r" % (what, ra)


@pytest.fixture
def private_pg():
    pg = lh.PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def test_postgres_outage_and_recovery(lavd_factory, private_pg):
    pg = private_pg
    d = lavd_factory("lavd-pg-outage", dsn=pg.dsn, overrides=FAST)
    lh.wait_store_settled(d)
    e = "OUT"
    t0 = (lh.now_us() - lh.US_HOUR) // lh.US * lh.US
    lh.publish_ok(d, [point(e, t0, 50000.0)])
    assert lh.latest(d, F_BTC, e).json()["value"] == 50000.0

    pg.stop()
    refused = []
    for i in range(3):
        ts = t0 + (i + 1) * lh.US
        (r, doc), el = timed(lambda: lh.publish(d, [point(e, ts, 50000.0 + i + 1)]))
        assert_unavailable(r, el, "publish #%d" % i)
        refused.append(ts)
        (r, doc), el = timed(lambda: lh.query(d, {"featureIds": [F_BTC], "entity": e}))
        assert_unavailable(r, el, "query #%d" % i)
        # latest is served from memory
        r = lh.latest(d, F_BTC, e)
        assert r.status_code == 200 and r.json()["value"] == 50000.0, r.text
    assert requests.get(d.url("/healthz"), timeout=10).status_code == 200
    got = lh.poll(lambda: readyz(d)[0] == 503, timeout=20, interval=0.2)
    assert got, "readyz stayed %r with PostgreSQL down" % (readyz(d),)
    assert readyz(d)[1]["checks"]["postgres"]["ok"] is False
    d.assert_alive()

    pg.start()  # same port, same data
    attempts = []

    def try_publish():
        ts = t0 + (100 + len(attempts)) * lh.US
        r, doc = lh.publish(d, [point(e, ts, 51000.0)])
        attempts.append((ts, r.status_code))
        assert r.status_code in (200, 503), r.text
        return r.status_code == 200

    assert lh.poll(try_publish, timeout=30, interval=0.5), "publish never succeeded again after PostgreSQL came back: %r" % attempts[-3:]
    ok_ts = attempts[-1][0]
    assert lh.poll(lambda: readyz(d)[0] == 200, timeout=30, interval=0.2), readyz(d)
    doc = lh.query_ok(d, {"featureIds": [F_BTC], "entity": e})
    assert [(lh.parse_ts(p["ts"]), p["value"]) for p in doc["results"][0]["points"]] == [(t0, 50000.0), (ok_ts, 51000.0)]
    p = lh.latest(d, F_BTC, e).json()
    assert lh.parse_ts(p["ts"]) == ok_ts
    # nothing answered with 503 was stored
    stored = [r[0] for r in lh.series_rows(pg.dsn, F_BTC, e)]
    assert stored == [t0, ok_ts], "stored %r; refused while down %r" % ([lh.fmt_ts(s) for s in stored], [lh.fmt_ts(s) for s in refused])


# ---------------------------------------------------------------------------------------
# Redis


def redis_key(port, e):
    raw = lh.resp_command(port, "GET", "lav:latest:%s|%s" % (F_BTC, e))
    return json.loads(raw) if raw else None


def key_is(port, e, ts, value):
    def check():
        try:
            doc = redis_key(port, e)
        except OSError:
            return None
        return doc if doc and lh.parse_ts(doc["ts"]) == ts and doc["value"] == value else None

    return check


def test_redis_outage_and_resync(lavd_factory, tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    rs = lh.PrivateRedis(tmp_path)
    rs.start()
    try:
        d = lavd_factory("lavd-redis-outage", redis=rs.url, overrides=FAST)
        lh.wait_store_settled(d)
        assert lh.poll(lambda: readyz(d)[1]["checks"]["redis"]["state"] == "connected", timeout=15), readyz(d)
        e1, e2 = "R1", "R2"
        t0 = (lh.now_us() - lh.US_HOUR) // lh.US * lh.US

        sub = lh.RedisSubscriber(rs.port, "lav:points")
        try:
            lh.publish_ok(d, [point(e1, t0, 50000.0), point(e1, t0 + lh.US, 50001.0)])
            msg = sub.next_message(timeout=5)
            assert msg, "no message on lav:points after a publish"
            doc = json.loads(msg[1])
            assert isinstance(doc.get("origin"), str) and doc["origin"], doc
            assert sorted((p["featureId"], p["entity"], lh.parse_ts(p["ts"]), p["value"]) for p in doc["points"]) == [
                (F_BTC, e1, t0, 50000.0), (F_BTC, e1, t0 + lh.US, 50001.0)], doc
            assert sub.next_message(timeout=0.3) is None, "more than one message for one commit"
        finally:
            sub.close()
        got = lh.poll(key_is(rs.port, e1, t0 + lh.US, 50001.0), timeout=5)
        assert got, "lav:latest key after publish: %r" % (redis_key(rs.port, e1),)
        assert got["featureId"] == F_BTC and got["entity"] == e1

        rs.stop()
        # lavd keeps serving, at once and once it has noticed
        lh.publish_ok(d, [point(e1, t0 + 2 * lh.US, 50002.0)])
        assert lh.poll(lambda: readyz(d)[1]["checks"]["redis"]["state"] == "disconnected", timeout=20), readyz(d)
        st, body = readyz(d)
        assert st == 200, body
        lh.publish_ok(d, [point(e1, t0 + 3 * lh.US, 50003.0), point(e2, t0, 42000.0)])
        assert lh.latest(d, F_BTC, e1).json()["value"] == 50003.0
        assert lh.latest(d, F_BTC, e2).json()["value"] == 42000.0
        d.assert_alive()

        rs.start()  # same port, empty: every latest key must be written again
        assert lh.poll(key_is(rs.port, e1, t0 + 3 * lh.US, 50003.0), timeout=30), "key %s not resynchronised: %r" % (e1, redis_key(rs.port, e1))
        assert lh.poll(key_is(rs.port, e2, t0, 42000.0), timeout=5), "key %s not resynchronised: %r" % (e2, redis_key(rs.port, e2))
        keys = sorted(k.decode() for k in lh.resp_command(rs.port, "KEYS", "lav:latest:*"))
        assert keys == ["lav:latest:%s|%s" % (F_BTC, e1), "lav:latest:%s|%s" % (F_BTC, e2)], keys

        lh.publish_ok(d, [point(e1, t0 + 4 * lh.US, 50004.0)])
        assert lh.poll(key_is(rs.port, e1, t0 + 4 * lh.US, 50004.0), timeout=5), redis_key(rs.port, e1)
        d.assert_alive()
    finally:
        rs.stop()
