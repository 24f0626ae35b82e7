"""Durability: a restart keeps everything, and kill -9 during a publish load loses no
acknowledged point (the publish reply comes after the commit)."""

import random
import threading
import time

import requests

import lavhelpers as lh

F_BTC = "crypto/btc/price_usd"
F_DXY = "macro/us/dxy_index"
FAST = {"FEATURE_API_RATE_LIMIT_RPM": "1000000"}


def _snapshot(d, series, now):
    """Everything the read API says about the series."""
    snap = {}
    for f, e in series:
        r = lh.latest(d, f, e)
        assert r.status_code == 200, r.text
        snap[("latest", f, e)] = r.json()
        for as_of in (None, now - 30 * lh.US_MIN):
            body = {"featureIds": [f], "entity": e}
            if as_of:
                body["as_of"] = lh.fmt_ts(as_of)
            snap[("query", f, e, as_of)] = lh.query_ok(d, body)
        snap[("agg", f, e)] = lh.query_ok(d, {"featureIds": [f], "entity": e, "agg": "avg", "bucket": "1h"})
    r = lh.latest(d, [F_BTC, F_DXY], "A")
    assert r.status_code == 200
    snap["multi"] = r.json()
    for f in (F_BTC, F_DXY):
        doc = lh.query_ok(d, {"featureIds": [f]})
        snap[("all", f)] = sorted(doc["results"], key=lambda x: x["entity"])
    return snap


def test_restart_keeps_everything(lavd_factory):
    # a small hot window, so the restart loads only part of each series into memory
    d = lavd_factory("lavd-restart", overrides=dict(FAST, LAV_HOT_POINTS="16"))
    lh.wait_store_settled(d)
    rng = random.Random(7)
    now = lh.now_us()
    t0 = (now - 2 * lh.US_DAY) // lh.US_HOUR * lh.US_HOUR
    series = [(F_BTC, "A"), (F_BTC, "B"), (F_DXY, "A"), (F_DXY, "")]
    pts = []
    for f, e in series:
        base = 50000.0 if f == F_BTC else 100.0
        for k in range(40):
            ts = t0 + k * 70 * lh.US_MIN
            p = {"featureId": f, "entity": e, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(ts + lh.US_MIN),
                 "value": round(base * (1 + rng.uniform(-0.01, 0.01)), 4)}
            if k % 7 == 0:
                p["meta"] = {"k": k, "tags": ["x", "y"]}
                p["evidence"] = [{"source": "s%d" % k, "ref": "r"}]
                p["confidence"] = 0.8
            pts.append(p)
            if k % 5 == 0:  # a revision an hour later
                pts.append(dict(p, available_at=lh.fmt_ts(ts + lh.US_HOUR), value=p["value"] + 0.5))
    # the newest BTC/A point gets a revision only known in 3 minutes: not visible now,
    # nor after the restart
    last = max((p for p in pts if p["featureId"] == F_BTC and p["entity"] == "A"), key=lambda p: p["ts"])
    pts.append(dict(last, available_at=lh.fmt_ts(now + 3 * lh.US_MIN), value=1.0e5))
    rng.shuffle(pts)
    for i in range(0, len(pts), 30):
        lh.publish_ok(d, pts[i : i + 30])
    before = _snapshot(d, series, now)
    assert before[("latest", F_BTC, "A")]["value"] != 1.0e5
    n_rows = lh.pg_query(d.dsn, "SELECT count(*) FROM features_values")[0][0]
    assert n_rows == len(pts)

    rc = d.stop(timeout=15)
    assert rc == 0, "lavd exit code %r on SIGTERM; log:\n%s" % (rc, d.log_tail())
    d.start()
    after = _snapshot(d, series, now)
    for k in before:
        assert after[k] == before[k], "after the restart %r differs:\nbefore %r\nafter  %r" % (k, before[k], after[k])
    assert lh.pg_query(d.dsn, "SELECT count(*) FROM features_values")[0][0] == n_rows


def test_kill9_under_load_loses_no_acknowledged_point(lavd_factory):
    d = lavd_factory("lavd-kill9", overrides=FAST)
    lh.wait_store_settled(d)
    base = (lh.now_us() - 2 * lh.US_HOUR) // lh.US * lh.US
    nthreads, per_batch = 4, 25
    acked = []  # (entity, [(ts, value)])
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def worker(k):
        e = "KILL%d" % k
        rng = random.Random(k)
        seq = 0
        session = requests.Session()
        while not stop.is_set():
            batch = []
            for _ in range(per_batch):
                ts = base + (k * 1_000_000 + seq) * 1000  # unique per thread and batch (1 ms apart)
                seq += 1
                batch.append((ts, round(rng.uniform(40000, 60000), 3)))
            body = [{"featureId": F_BTC, "entity": e, "ts": lh.fmt_ts(ts), "value": v} for ts, v in batch]
            try:
                r = session.post(d.url("/api/features/v1/publish"), json=body, headers=d.auth_headers("publisher"), timeout=10)
            except requests.RequestException:
                if not d.is_alive():
                    return
                continue
            if r.status_code == 200:
                doc = r.json()
                if doc["accepted"] != per_batch:
                    errors.append(doc)
                with lock:
                    acked.append((e, batch))
            elif r.status_code != 503:
                errors.append((r.status_code, r.text[:300]))

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(nthreads)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 150:
                break
        time.sleep(0.01)
    d.kill()  # SIGKILL while the clients are still publishing
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert not errors, errors[:3]
    with lock:
        acked = list(acked)
    assert len(acked) >= 20, "too few acknowledged batches before the kill: %d" % len(acked)

    d.start()
    stored = {}
    for k in range(nthreads):
        e = "KILL%d" % k
        stored[e] = {r[0]: r[2] for r in lh.series_rows(d.dsn, F_BTC, e)}
    lost = [(e, ts) for e, batch in acked for ts, v in batch if stored[e].get(ts) != v]
    assert not lost, "%d acknowledged points are not in PostgreSQL after kill -9, e.g. %r" % (len(lost), lost[:5])

    # and the restarted lavd serves them
    for k in range(nthreads):
        e = "KILL%d" % k
        mine = sorted(ts for ee, batch in acked if ee == e for ts, _ in batch)
        if not mine:
            continue
        doc = lh.query_ok(d, {"featureIds": [F_BTC], "entity": e, "since": lh.fmt_ts(mine[0]), "until": lh.fmt_ts(mine[-1] + 1),
                              "limit": 100000})
        served = {lh.parse_ts(p["ts"]): p["value"] for p in doc["results"][0]["points"]}
        missing = [ts for ts in mine if ts not in served]
        assert not missing, "%d acknowledged points of %s not served by query after restart" % (len(missing), e)
        r = lh.latest(d, F_BTC, e)
        assert r.status_code == 200 and lh.parse_ts(r.json()["ts"]) >= mine[-1]
