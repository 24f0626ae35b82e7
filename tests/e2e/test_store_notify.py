"""Writers other than lavd: rows inserted straight into PostgreSQL reach lavd's latest
through the trigger's NOTIFY (DESIGN.md section 3), and the Redis cache with them."""

import json
import os

import psycopg2
import pytest

import lavhelpers as lh

F_VIX = "macro/us/vix_index"
F_BTC = "crypto/btc/price_usd"
DEADLINE = 5.0  # generous: the contract says within about a second




def wait_latest(d, f, e, want_ts, want_value, timeout=DEADLINE):
    def check():
        r = lh.latest(d, f, e)
        if r.status_code != 200:
            return None
        p = r.json()
        return p if (lh.parse_ts(p["ts"]), p["value"]) == (want_ts, want_value) else None

    return lh.poll(check, timeout=timeout, interval=0.05)


def redis_latest(f, e):
    port = os.environ.get("LAV_TEST_REDIS_PORT")
    raw = lh.resp_command(int(port), "GET", "lav:latest:%s|%s" % (f, e))
    return json.loads(raw) if raw else None


def test_etl_insert_reaches_latest(lavd):
    e = lh.unique_entity("ETL")
    ts = (lh.now_us() - lh.US_MIN) // 1000 * 1000
    assert lh.latest(lavd, F_BTC, e).status_code == 404
    lh.etl_insert(lavd.dsn, [(F_BTC, e, ts, ts, 61234.5)])
    p = wait_latest(lavd, F_BTC, e, ts, 61234.5)
    assert p, "a row inserted with psycopg2 did not reach latest within %.0f s: %s" % (DEADLINE, lh.latest(lavd, F_BTC, e).text)
    assert lh.parse_ts(p["available_at"]) == ts and p["entity"] == e
    # query sees the new series without naming the entity
    doc = lh.query_ok(lavd, {"featureIds": [F_BTC], "since": lh.fmt_ts(ts)})
    assert e in {r["entity"] for r in doc["results"]}


def test_etl_revision_and_several_series(lavd, redis_url):
    e1, e2 = lh.unique_entity("ETLA"), lh.unique_entity("ETLB")
    ts = (lh.now_us() - 10 * lh.US_MIN) // 1000 * 1000
    lh.etl_insert(lavd.dsn, [(F_BTC, e1, ts, ts, 50000.0), (F_VIX, e2, ts, ts, 15.0)])
    assert wait_latest(lavd, F_BTC, e1, ts, 50000.0) and wait_latest(lavd, F_VIX, e2, ts, 15.0)
    # a revision (later available_at) and an older point in one transaction
    lh.etl_insert(lavd.dsn, [(F_BTC, e1, ts, ts + lh.US, 50001.0), (F_BTC, e1, ts - lh.US_HOUR, ts - lh.US_HOUR, 49000.0)])
    p = wait_latest(lavd, F_BTC, e1, ts, 50001.0)
    assert p and lh.parse_ts(p["available_at"]) == ts + lh.US, lh.latest(lavd, F_BTC, e1).text
    doc = lh.query_ok(lavd, {"featureIds": [F_BTC], "entity": e1})
    assert [(lh.parse_ts(x["ts"]), x["value"]) for x in doc["results"][0]["points"]] == [(ts - lh.US_HOUR, 49000.0), (ts, 50001.0)]
    if redis_url:
        got = lh.poll(lambda: (lambda c: c if c and c["value"] == 50001.0 else None)(redis_latest(F_BTC, e1)), timeout=DEADLINE)
        assert got, "Redis key not refreshed after a NOTIFY: %r" % (redis_latest(F_BTC, e1),)
        assert lh.parse_ts(got["ts"]) == ts and got["featureId"] == F_BTC and got["entity"] == e1


def test_etl_rows_for_unknown_feature_are_ignored(lavd):
    e = lh.unique_entity("ETLX")
    ts = (lh.now_us() - lh.US_MIN) // 1000 * 1000
    lh.etl_insert(lavd.dsn, [("crypto/btc/not_in_catalog", e, ts, ts, 1.0), (F_BTC, e, ts, ts, 55555.0)])
    assert wait_latest(lavd, F_BTC, e, ts, 55555.0)
    lh.assert_error(lh.latest(lavd, "crypto/btc/not_in_catalog", e), 404, "unknown_feature")


def test_etl_insert_of_many_series_reaches_latest(lavd_factory):
    """One statement touching 250 series (the trigger lists at most 200 in its payload):
    every one of them must reach latest."""
    d = lavd_factory("lavd-notify-many", overrides={"FEATURE_API_RATE_LIMIT_RPM": "1000000"})
    ts = (lh.now_us() - lh.US_MIN) // 1000 * 1000
    ents = ["v%03d" % i for i in range(250)]
    lh.etl_insert(d.dsn, [(F_VIX, e, ts, ts, 10.0 + i / 10) for i, e in enumerate(ents)])

    def missing():
        return [e for i, e in enumerate(ents) if lh.latest(d, F_VIX, e).status_code != 200]

    left = lh.poll(lambda: not missing(), timeout=DEADLINE, interval=0.2)
    if not left:
        m = missing()
        pytest.fail("%d of 250 series inserted in one statement never reached latest (e.g. %s)" % (len(m), m[:5]))
    for i in (0, 199, 200, 249):
        p = lh.latest(d, F_VIX, ents[i]).json()
        assert p["value"] == 10.0 + i / 10
