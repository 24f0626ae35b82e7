"""Point-in-time reads with revisions (DESIGN.md section 3), checked against an independent
computation in Python: several series, several revisions per ts with explicit
available_at, published shuffled in several batches; then query as of many instants, and
latest as of now."""

import random

import pytest

import lavhelpers as lh

F_BTC = "crypto/btc/price_usd"  # ttl 5 min, range [1e4, 3e5], no publication delay
F_DXY = "macro/us/dxy_index"  # ttl 4 d, range [70, 130], publication delay 1d
F_ETH = "crypto/eth/price_usd"  # never published here
TTL_MS = {F_BTC: 300000, F_DXY: 345600000}


class Model:
    """Every published revision: {(feature, entity): {ts: {available_at: value}}}."""

    def __init__(self):
        self.series = {}

    def add(self, f, e, ts, av, value):
        self.series.setdefault((f, e), {}).setdefault(ts, {})[av] = value

    def asof_rows(self, f, e, as_of, since=None, until=None):
        """Per ts in [since, until): the latest revision with available_at <= as_of."""
        out = []
        for ts in sorted(self.series.get((f, e), {})):
            if since is not None and ts < since:
                continue
            if until is not None and ts >= until:
                continue
            known = [av for av in self.series[(f, e)][ts] if av <= as_of]
            if known:
                av = max(known)
                out.append((ts, av, self.series[(f, e)][ts][av]))
        return out

    def latest(self, f, e, now):
        """The newest ts <= now with a revision known at now, in its latest such revision."""
        rows = [r for r in self.asof_rows(f, e, now) if r[0] <= now]
        return rows[-1] if rows else None

    def all_available_at(self):
        return sorted({av for s in self.series.values() for revs in s.values() for av in revs})


def _build(rng, now, entities):
    """The points to publish and the model they should produce."""
    model = Model()
    points = []
    t0 = (now - 6 * lh.US_DAY) // lh.US_HOUR * lh.US_HOUR
    series = [(F_BTC, entities[0], 50000.0), (F_BTC, entities[1], 42000.0), (F_DXY, entities[0], 100.0)]
    horizon = now - 2 * lh.US_MIN  # every ordinary revision is known well before the test reads
    for f, e, base in series:
        ts = t0
        level = base
        for k in range(30):
            ts += rng.choice([1, 1, 2, 3, 5]) * lh.US_HOUR + rng.randrange(0, 1000) * 1000
            level *= 1 + rng.uniform(-0.002, 0.002)
            first = ts + rng.choice([0, 0, 5 * lh.US_MIN, 2 * lh.US_HOUR, lh.US_DAY])
            avs = [first]
            for _ in range(rng.choice([0, 0, 1, 1, 2])):
                avs.append(avs[-1] + rng.randrange(10, 3 * 24 * 60) * lh.US_MIN + rng.randrange(0, 1000000))
            for i, av in enumerate(a for a in avs if a <= horizon):
                value = round(level * (1 + 0.001 * i * rng.choice([-1, 1])), 6)
                model.add(f, e, ts, av, value)
                points.append({"featureId": f, "entity": e, "ts": lh.fmt_ts(ts),
                               "available_at": lh.fmt_ts(av), "value": value})
    # Knowledge from the near future (allowed up to now + 5 min) must stay invisible now:
    # a revision of the newest BTC point of entities[0], and a point whose ts is ahead.
    f, e = F_BTC, entities[0]
    newest = max(model.series[(f, e)])
    for ts, av, value in [(newest, now + 3 * lh.US_MIN, 51234.5), (now + 2 * lh.US_MIN, now + 2 * lh.US_MIN, 51999.25)]:
        model.add(f, e, ts, av, value)
        points.append({"featureId": f, "entity": e, "ts": lh.fmt_ts(ts), "available_at": lh.fmt_ts(av), "value": value})
    return model, points, series


def _rows(result):
    return [(lh.parse_ts(p["ts"]), lh.parse_ts(p["available_at"]), p["value"]) for p in result["points"]]


@pytest.fixture(scope="module")
def published(_session_lavd):
    """Publish the data set once for the module; yields (lavd, model, series, entities)."""
    d = lh.ensure_running(_session_lavd)
    seed = random.randrange(1 << 30)
    print("as-of data set seed", seed)
    rng = random.Random(seed)
    now = lh.now_us()
    entities = [lh.unique_entity("ASOF-A"), lh.unique_entity("ASOF-B")]
    model, points, series = _build(rng, now, entities)
    rng.shuffle(points)
    i = 0
    nb = 0
    while i < len(points):
        n = rng.randint(1, 25)
        batch = points[i : i + n]
        lh.publish_ok(d, batch, wrap=(nb % 2 == 1))
        i += n
        nb += 1
    assert nb >= 5
    return d, model, series, entities, now


def test_query_as_of_matches_python(published, lavd):
    d, model, series, entities, now = published
    avs = model.all_available_at()
    rng = random.Random(len(avs))
    instants = set()
    for av in rng.sample(avs, 12):
        instants.add(av)  # exactly at a revision: inclusive
        instants.add(av - 1)  # one microsecond before it
    instants.add(avs[0] - lh.US_HOUR)  # before anything was known
    instants.add(now - 2 * lh.US_MIN)  # just after every ordinary revision
    checked = 0
    for as_of in sorted(instants):
        for f, e, _ in series:
            body = {"featureIds": [f], "entity": e, "as_of": lh.fmt_ts(as_of)}
            doc = lh.query_ok(d, body)
            assert len(doc["results"]) == 1, doc
            res = doc["results"][0]
            assert res["featureId"] == f and res["entity"] == e
            assert res["truncated"] is False
            expect = model.asof_rows(f, e, as_of)
            got = _rows(res)
            assert got == expect, "as_of %s, series %s|%s:\n got %r\nwant %r" % (lh.fmt_ts(as_of), f, e, got, expect)
            for p in res["points"]:
                assert p["featureId"] == f and p["entity"] == e
                assert p["confidence"] == 1
            checked += len(expect)
    assert checked > 100


def test_query_as_of_with_range_and_offset(published, lavd):
    """since <= ts < until, with as_of written with a non-UTC offset."""
    d, model, series, entities, now = published
    f, e, _ = series[0]
    tss = sorted(model.series[(f, e)])
    since, until = tss[5], tss[20]  # until itself is excluded
    as_of = model.all_available_at()[len(model.all_available_at()) * 2 // 3]
    # the same instant at +05:30
    import datetime as dt

    local = dt.datetime.fromtimestamp(as_of / 1e6, dt.timezone(dt.timedelta(hours=5, minutes=30)))
    as_of_str = local.isoformat(timespec="microseconds")
    assert lh.parse_ts(as_of_str) == as_of
    doc = lh.query_ok(d, {"featureIds": [f], "entity": e, "since": lh.fmt_ts(since), "until": lh.fmt_ts(until), "as_of": as_of_str})
    expect = model.asof_rows(f, e, as_of, since, until)
    assert _rows(doc["results"][0]) == expect
    assert expect, "the chosen range should not be empty"


def test_query_default_as_of_is_now(published, lavd):
    """Without as_of, knowledge from the (near) future is not visible."""
    d, model, series, entities, now = published
    for f, e, _ in series:
        doc = lh.query_ok(d, {"featureIds": [f], "entity": e})
        t = lh.now_us()
        expect = model.asof_rows(f, e, t)
        got = _rows(doc["results"][0])
        assert got == expect, "%s|%s default as_of:\n got %r\nwant %r" % (f, e, got, expect)


def test_query_without_entity_returns_every_series(published, lavd):
    d, model, series, entities, now = published
    as_of = now - 2 * lh.US_MIN
    doc = lh.query_ok(d, {"featureIds": [F_BTC], "as_of": lh.fmt_ts(as_of)})
    by_entity = {r["entity"]: r for r in doc["results"]}
    for r in doc["results"]:
        assert r["featureId"] == F_BTC
    for e in entities:
        assert e in by_entity, "series %s|%s missing from %r" % (F_BTC, e, sorted(by_entity))
        assert _rows(by_entity[e]) == model.asof_rows(F_BTC, e, as_of)


def test_query_limit_truncates(published, lavd):
    d, model, series, entities, now = published
    f, e, _ = series[1]
    as_of = now - 2 * lh.US_MIN
    doc = lh.query_ok(d, {"featureIds": [f], "entity": e, "as_of": lh.fmt_ts(as_of), "limit": 7})
    res = doc["results"][0]
    assert res["truncated"] is True
    assert _rows(res) == model.asof_rows(f, e, as_of)[:7]


def test_latest_matches_python(published, lavd):
    d, model, series, entities, now = published
    for f, e, _ in series:
        r = lh.latest(d, f, e)
        t = lh.now_us()
        assert r.status_code == 200, r.text
        p = r.json()
        want = model.latest(f, e, t)
        got = (lh.parse_ts(p["ts"]), lh.parse_ts(p["available_at"]), p["value"])
        assert got == want, "latest %s|%s: got %r want %r" % (f, e, got, want)
        assert p["featureId"] == f and p["entity"] == e
        assert p["confidence"] == 1
        assert isinstance(p["meta"], dict) and isinstance(p["evidence"], list)
        age_ms = (t - got[0]) / 1000
        if abs(age_ms - TTL_MS[f]) > 5000:
            assert p["stale"] is (age_ms > TTL_MS[f]), "stale %r for age %.0f ms, ttl %d" % (p["stale"], age_ms, TTL_MS[f])


def test_latest_several_ids(published, lavd):
    d, model, series, entities, now = published
    e = entities[0]
    r = lh.latest(d, [F_BTC, F_DXY, F_ETH], e)
    t = lh.now_us()
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["missing"] == [F_ETH]
    got = {p["featureId"]: (lh.parse_ts(p["ts"]), lh.parse_ts(p["available_at"]), p["value"]) for p in doc["points"]}
    assert got == {F_BTC: model.latest(F_BTC, e, t), F_DXY: model.latest(F_DXY, e, t)}
    assert all(p["entity"] == e for p in doc["points"])


def test_latest_errors(published, lavd):
    d, model, series, entities, now = published
    lh.assert_error(lh.latest(d, F_ETH, entities[0]), 404, "no_data")
    lh.assert_error(lh.latest(d, "crypto/btc/no_such_feature", entities[0]), 404, "unknown_feature")
    lh.assert_error(lh.latest(d, [F_BTC, "crypto/btc/no_such_feature"], entities[0]), 404, "unknown_feature")
