"""ORACLE_SOURCE_MODE=mock (docs/ingestion.md "The mock generator"): `lavd backfill` with the
same LAV_MOCK_SEED writes byte-identical rows into two databases, another seed other
values; every row follows the feature's slots, publication delay, expected_range, meta and
evidence; live polling writes the same rows as a backfill; no request leaves lavd; mode off
ingests nothing."""

import datetime as dt
import time

import pytest

import fakeupstream as fu
import ingesthelpers as ih
import lavhelpers as lh

SEED = 4242
# The business days of the sources whose daily series close (the adapters' calendars):
# FRED on US federal business days, Farside on NYSE trading days, TradingView on weekdays.
OPEN_DAY = {"fred": fu.us_federal_open, "farside": fu.nyse_open, "tradingview": lambda d: d.weekday() < 5}


def has_closed_days(fid):
    f = ih.FEATURES[fid]
    return f["frequency"] == "1d" and f["source"]["id"] in OPEN_DAY


def mock_slots(fid, since, until):
    """The mock slots of a feature in [since, until)."""
    step = ih.slot_period_us(fid)
    if ih.FEATURES[fid]["frequency"] == "1w":
        # Wednesdays 00:00 UTC (1970-01-01 was a Thursday: Wednesdays are day 6 mod 7)
        anchor = 6 * lh.US_DAY
        t = anchor + -(-(since - anchor) // step) * step
    else:
        t = -(-since // step) * step
    out = []
    while t < until:
        if not has_closed_days(fid) or OPEN_DAY[ih.FEATURES[fid]["source"]["id"]](ih.day_of(t)):
            out.append(t)
        t += step
    return out


def mock_range():
    """Wednesday 00:00 UTC two weeks ago + 4 days: one Wednesday, weekdays and a Saturday
    (and a holiday in some weeks)."""
    today = dt.datetime.now(dt.timezone.utc).date()
    wednesday = today - dt.timedelta(days=(today.weekday() - 2) % 7 + 14)
    since = ih.day_us(wednesday)
    return since, since + 4 * lh.US_DAY


def mock_env(dsn, seed=SEED, fake=None, **extra):
    o = {"ORACLE_SOURCE_MODE": "mock", "LAV_MOCK_SEED": str(seed)}
    if fake is not None:
        o.update(fake.env())
    o.update({k: str(v) for k, v in extra.items()})
    return ih.backfill_env(dsn, overrides=o)


@pytest.fixture(scope="module")
def fake():
    f = fu.FakeUpstream().start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def backfilled(db_factory, fake):
    """Two databases backfilled with SEED over mock_range(), one with SEED + 1."""
    since, until = mock_range()
    out = {"since": since, "until": until, "dsn": {}}
    for name, seed in (("a", SEED), ("b", SEED), ("other", SEED + 1)):
        dsn = db_factory()
        rc, so, se = ih.run_backfill(mock_env(dsn, seed, fake), since, until, timeout=240)
        assert rc == 0, "lavd backfill (mock, seed %d) exited %d:\n%s\n%s" % (seed, rc, so[-3000:], se[-3000:])
        out["dsn"][name] = dsn
    return out


@pytest.mark.smoke
def test_same_seed_gives_identical_rows(backfilled, fake):
    a = ih.dump_rows(backfilled["dsn"]["a"])
    b = ih.dump_rows(backfilled["dsn"]["b"])
    assert a, "the mock backfill wrote nothing"
    assert len(a) == len(b), "%d rows vs %d" % (len(a), len(b))
    for ra, rb in zip(a, b):
        assert ra == rb, "rows differ:\n%r\n%r" % (ra, rb)
    assert not fake.requests(), "mock mode made upstream requests:\n%s" % ih.request_summary(fake.requests())


def test_other_seed_gives_other_values(backfilled):
    a = ih.dump_rows(backfilled["dsn"]["a"])
    o = ih.dump_rows(backfilled["dsn"]["other"])
    assert [r[:4] for r in a] == [r[:4] for r in o], "another seed changed the slots or available_at"
    differ = sum(1 for ra, ro in zip(a, o) if ra[4] != ro[4])
    assert differ > 0.9 * len(a), "only %d of %d values differ between seeds %d and %d" % (differ, len(a), SEED, SEED + 1)
    per_feature = {}
    for ra, ro in zip(a, o):
        per_feature.setdefault(ra[0], set()).add(ra[4] != ro[4])
    assert all(True in v for v in per_feature.values()), [f for f, v in per_feature.items() if True not in v]


@pytest.mark.parametrize("fid", sorted(ih.FEATURES))
def test_mock_rows_follow_the_catalog(fid, backfilled):
    since, until = backfilled["since"], backfilled["until"]
    rows = ih.rows_by_feature(backfilled["dsn"]["a"]).get(fid, [])
    want = mock_slots(fid, since, until)
    got = [r[0] for r in rows]
    assert got == want, "%s: %d slots stored, %d expected (%s frequency)\n got %s\nwant %s" % (
        fid, len(got), len(want), ih.FEATURES[fid]["frequency"], [lh.fmt_ts(t) for t in got[:6]],
        [lh.fmt_ts(t) for t in want[:6]])
    lo, hi = ih.expected_range(fid)
    delay = ih.delay_us(fid)
    for ts, av, value, conf, meta, ev in rows:
        assert av == ts + delay, "%s %s: available_at %s, want ts + %s" % (fid, lh.fmt_ts(ts), lh.fmt_ts(av), delay)
        assert lo <= value <= hi, "%s %s: %r outside expected_range %r" % (fid, lh.fmt_ts(ts), value, [lo, hi])
        assert meta == {"mode": "mock"}, meta
        assert isinstance(ev, list) and len(ev) == 1, ev
        e = ev[0]
        assert e["source"] == "mock" and e["ref"] == "mock://%s?seed=%d" % (fid, SEED), e
        assert lh.parse_ts(e["fetched_at"]) == av, "%s evidence fetched_at %s != available_at %s" % (fid, e["fetched_at"], lh.fmt_ts(av))
    if len(rows) > 3:
        assert len({r[2] for r in rows}) > 1, "%s: a constant mock series" % fid


def test_mock_yoy_is_the_yoy_of_the_mock_mcap(db_factory, fake):
    """The derived yoy is computed from the mock market cap 365 days earlier."""
    since, until = mock_range()
    dsn = db_factory()
    env = mock_env(dsn, fake=fake, FEATURE_STORE_RETENTION_DAYS=800)
    rc, so, se = ih.run_backfill(env, since - 366 * lh.US_DAY, since - 363 * lh.US_DAY, source="defillama", timeout=240)
    assert rc == 0, se[-3000:]
    rc, so, se = ih.run_backfill(env, since, until, source="defillama", timeout=240)
    assert rc == 0, se[-3000:]
    rows = ih.rows_by_feature(dsn)
    mcap = {r[0]: r[2] for r in rows["crypto/stables/mcap_total_usd"]}
    yoy = {r[0]: r[2] for r in rows["crypto/stables/mcap_total_usd_yoy"]}
    checked = 0
    for ts, v in yoy.items():
        prev = ts - 365 * lh.US_DAY
        if ts in mcap and prev in mcap:
            assert v == pytest.approx(mcap[ts] / mcap[prev] - 1, rel=1e-9), (lh.fmt_ts(ts), v, mcap[ts], mcap[prev])
            checked += 1
    assert checked >= 2, "no yoy point with both market caps stored"


def test_rows_do_not_depend_on_the_backfilled_range(db_factory, fake):
    """A slot's row is the same whatever else was written before it: backfills starting
    on different days agree on every slot they share (meta included: a data-quality flag
    that depends on the preceding points would break this)."""
    today = ih.today_us()
    dumps = {}
    for days in (27, 29, 30, 31, 33):
        dsn = db_factory()
        for source in ("fred", "farside", "blockchain-com", "tradingview"):
            rc, so, se = ih.run_backfill(mock_env(dsn, fake=fake), today - days * lh.US_DAY, today, source=source)
            assert rc == 0, se[-3000:]
        dumps[days] = {(r[0], r[2]): r for r in ih.dump_rows(dsn)}
    ref = dumps[27]
    differ = []
    for days, rows in dumps.items():
        for k, r in ref.items():
            if rows.get(k) != r:
                differ.append("start %d days back: %r\n  vs 27 days back: %r" % (days, rows.get(k), r))
    assert not differ, "%d rows depend on where the backfill started:\n%s" % (len(differ), "\n".join(differ[:6]))


def test_backfill_rerun_changes_nothing(backfilled, fake):
    dsn = backfilled["dsn"]["a"]
    before = ih.dump_rows(dsn)
    rc, so, se = ih.run_backfill(mock_env(dsn, fake=fake), backfilled["since"], backfilled["until"])
    assert rc == 0, se[-3000:]
    assert ih.dump_rows(dsn) == before


def test_backfill_in_two_halves_equals_one_run(backfilled, db_factory, fake):
    """Order and chunking do not matter: the later half first, then the earlier one."""
    since, until = backfilled["since"], backfilled["until"]
    mid = since + 36 * lh.US_HOUR + 17 * lh.US_MIN
    dsn = db_factory()
    for a, b in ((mid, until), (since, mid)):
        rc, so, se = ih.run_backfill(mock_env(dsn, fake=fake), a, b)
        assert rc == 0, se[-3000:]
    assert ih.dump_rows(dsn) == ih.dump_rows(backfilled["dsn"]["a"])


def test_live_mock_polling(lavd_factory, db_factory, fake):
    t0 = lh.now_us()
    d = lavd_factory("lavd-mock", overrides={"ORACLE_SOURCE_MODE": "mock", "LAV_MOCK_SEED": str(SEED),
                                             "LAV_POLL_INTERVAL_MS": "500", **fake.env()})
    ing = ih.ingest_check(d)
    assert ing["mode"] == "mock", ing

    def all_present():
        rows = ih.rows_by_feature(d.dsn)
        return rows if all(rows.get(f) for f in ih.FEATURES) else None

    rows = lh.poll(all_present, timeout=30, interval=0.5)
    rows = rows or ih.rows_by_feature(d.dsn)
    absent = [f for f in ih.FEATURES if not rows.get(f)]
    assert not absent, "live mock wrote nothing for %s" % absent
    now = lh.now_us()
    for fid in ih.FEATURES:
        lo, hi = ih.expected_range(fid)
        step, delay = ih.slot_period_us(fid), ih.delay_us(fid)
        # the newest available slot
        newest = max(r[0] for r in rows[fid])
        slack = step * (4 if has_closed_days(fid) else 1) + (3 * lh.US_DAY if has_closed_days(fid) else 0)
        assert newest >= t0 - delay - slack - 2 * lh.US_MIN, "%s: newest ts %s is not recent (t0 %s)" % (
            fid, lh.fmt_ts(newest), lh.fmt_ts(t0))
        for ts, av, value, conf, meta, ev in rows[fid]:
            assert av == ts + delay and av <= now, "%s %s: available_at %s (now %s)" % (fid, lh.fmt_ts(ts), lh.fmt_ts(av), lh.fmt_ts(now))
            assert lo <= value <= hi, (fid, value)
            assert meta.get("mode") == "mock", meta
            assert ev[0]["source"] == "mock", ev
        r = lh.latest(d, fid)
        assert r.status_code == 200, (fid, r.text)
        p = r.json()
        assert p["meta"]["mode"] == "mock" and lo <= p["value"] <= hi, p

    # a backfill of the same seed over part of that period writes the same rows
    since = (t0 - 6 * lh.US_HOUR) // lh.US_HOUR * lh.US_HOUR
    until = (t0 - 2 * lh.US_HOUR) // lh.US_HOUR * lh.US_HOUR
    other = db_factory()
    rc, so, se = ih.run_backfill(mock_env(other, fake=fake), since, until)
    assert rc == 0, se[-3000:]
    # and the daily/weekly FRED series over their whole start-up lookback
    rc, so, se = ih.run_backfill(mock_env(other, fake=fake), t0 - 30 * lh.US_DAY, t0, source="fred")
    assert rc == 0, se[-3000:]
    live = {(r[0], r[2]): r for r in ih.dump_rows(d.dsn)}
    back = ih.dump_rows(other)
    assert back, "backfill wrote nothing"
    common = [r for r in back if (r[0], r[2]) in live]
    assert len(common) >= len(back) // 2, "live polling has only %d of the %d backfilled slots" % (len(common), len(back))
    differ = [(live[(r[0], r[2])], r) for r in common if live[(r[0], r[2])] != r]
    assert not differ, "%d live rows differ from the backfilled ones, e.g.\nlive: %r\nback: %r" % (
        len(differ), differ[0][0], differ[0][1])
    assert not fake.requests(), "mock mode made upstream requests:\n%s" % ih.request_summary(fake.requests())
    d.assert_alive()


def test_mode_off_ingests_nothing(lavd_factory, fake):
    fake.clear_log()
    d = lavd_factory("lavd-off", overrides={"ORACLE_SOURCE_MODE": "off", "LAV_POLL_INTERVAL_MS": "500", **fake.env()})
    ing = ih.ingest_check(d)
    assert ing["mode"] == "off", ing
    time.sleep(3)
    assert ih.count_rows(d.dsn) == 0
    assert not fake.requests(), ih.request_summary(fake.requests())
    assert lh.latest(d, "crypto/btc/price_usd").status_code == 404
