"""`lavd backfill --since --until [--source]` in shadow mode against fakeupstream
(docs/ingestion.md "Backfill and gaps"): bad arguments exit 2; a backfill writes the range
with normalized values and publication delays; a re-run fetches only what is missing (rows
deleted from one series bring requests for that series only); --source limits it; a
failing series makes it exit 1; as_of before ts + publication_delay hides backfilled points."""

import datetime as dt

import pytest

import fakeupstream as fu
import ingesthelpers as ih
import lavhelpers as lh

F_WALCL = "macro/us/walcl_total_usd"
F_RRP = "macro/us/rrp_total_usd"
F_BTC_FLOW = "crypto/etf/btc_net_flow_usd"

HISTORY = sorted(f for f in ih.FEATURES if ih.history_kind(f) != "none")
CURRENT_ONLY = sorted(f for f in ih.FEATURES if ih.history_kind(f) == "none")


def backfill_range():
    today = ih.today_us()
    return today - 21 * lh.US_DAY, today - lh.US_DAY


def env_for(dsn, fake, **extra):
    o = ih.shadow_overrides(fake, LAV_SOURCE_RETRIES=1, LAV_SOURCE_BACKOFF_MS=50, LAV_SOURCE_TIMEOUT_MS=5000)
    o.update({k: str(v) for k, v in extra.items()})
    return ih.backfill_env(dsn, overrides=o)


def check_rows(dsn, fake, since, until, t_start, t_end, features=HISTORY):
    """Every history feature holds exactly the upstream's slots of [since, until) with its
    values, available_at = min(ts + delay, fetch time) and evidence."""
    rows = ih.rows_by_feature(dsn)
    problems = []
    for fid in features:
        want = ih.expected_slots(fid, since, until, now_us=t_start, fake=fake)
        got = [r[0] for r in rows.get(fid, [])]
        if got != want:
            miss = sorted(set(want) - set(got))
            extra = sorted(set(got) - set(want))
            problems.append("%s: %d rows, %d expected; missing %s; unexpected %s" % (
                fid, len(got), len(want), [lh.fmt_ts(t) for t in miss[:4]], [lh.fmt_ts(t) for t in extra[:4]]))
            continue
        delay = ih.delay_us(fid)
        for ts, av, value, conf, meta, ev in rows[fid]:
            exp = ih.expected_value(fid, ts, fake)
            if not ih.approx_equal(value, exp):
                problems.append("%s %s: stored %r, upstream %r" % (fid, lh.fmt_ts(ts), value, exp))
                break
            if ts + delay <= t_start:
                ok = av == ts + delay
            else:
                ok = t_start - lh.US <= av <= min(ts + delay, t_end + lh.US)
            if not ok:
                problems.append("%s %s: available_at %s, want min(ts + %s, fetch time)" % (
                    fid, lh.fmt_ts(ts), lh.fmt_ts(av), ih.FEATURES[fid].get("publication_delay", "0")))
                break
            if meta.get("mode") != "shadow" or len(ev) != 1 or ev[0].get("source") != ih.source_of(fid) or len(ev[0].get("sha256", "")) != 64:
                problems.append("%s %s: meta %r evidence %r" % (fid, lh.fmt_ts(ts), meta, ev))
                break
            if fake.fred_key in str(ev) or fake.etherscan_key in str(ev):
                problems.append("%s: evidence leaks a key: %r" % (fid, ev))
                break
    return problems


@pytest.fixture(scope="module")
def fake():
    """No "." or "-" dates: every slot of a daily/weekly series exists upstream."""
    f = fu.FakeUpstream(fred_missing=False, farside_missing=False).start()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def main_db(db_factory, fake):
    since, until = backfill_range()
    dsn = db_factory()
    fake.clear_log()
    t_start = lh.now_us()
    rc, so, se = ih.run_backfill(env_for(dsn, fake), since, until)
    t_end = lh.now_us()
    assert rc == 0, "lavd backfill exited %d:\nstdout:\n%s\nstderr:\n%s" % (rc, so[-3000:], se[-5000:])
    return {"dsn": dsn, "since": since, "until": until, "t_start": t_start, "t_end": t_end,
            "requests": fake.requests()}


# ---------------------------------------------------------------------------------------
# Arguments


@pytest.mark.smoke
def test_bad_arguments_exit_2(db_factory, fake):
    dsn = db_factory()
    since, until = backfill_range()
    S, U = lh.fmt_ts(since), lh.fmt_ts(until)
    cases = [
        ("no range", ["backfill"], {}),
        ("missing --until", ["backfill", "--since", S], {}),
        ("since == until", ["backfill", "--since", S, "--until", S], {}),
        ("since > until", ["backfill", "--since", U, "--until", S], {}),
        ("unknown source", ["backfill", "--since", S, "--until", U, "--source", "no-such-source"], {}),
        ("not a time", ["backfill", "--since", "yesterday", "--until", U], {}),
        ("unknown option", ["backfill", "--since", S, "--until", U, "--frobnicate"], {}),
        ("mode off", ["backfill", "--since", S, "--until", U], {"ORACLE_SOURCE_MODE": "off"}),
    ]
    fake.clear_log()
    for what, args, extra in cases:
        rc, so, se = lh.run_lavd_command(env_for(dsn, fake, **extra), args, timeout=60)
        assert rc == 2, "%s: `lavd %s` exited %d, want 2\nstderr:\n%s" % (what, " ".join(args), rc, se[-2000:])
        assert se.strip(), "%s: no message on stderr" % what
    assert not fake.requests(), "bad arguments still fetched:\n%s" % ih.request_summary(fake.requests())
    assert not ih.has_table(dsn) or ih.count_rows(dsn) == 0


# ---------------------------------------------------------------------------------------
# Filling a range


def test_backfill_writes_the_range(main_db, fake):
    problems = check_rows(main_db["dsn"], fake, main_db["since"], main_db["until"], main_db["t_start"], main_db["t_end"])
    assert not problems, "backfill rows differ from the upstream:\n" + "\n".join(problems)


def test_backfill_skips_current_only_sources(main_db):
    fams = {r.family for r in main_db["requests"]}
    assert not fams & {"etherscan", "tradingview"}, "backfill asked current-value sources: %s" % (
        ih.request_summary([r for r in main_db["requests"] if r.family in ("etherscan", "tradingview")]))
    assert not [r for r in main_db["requests"] if r.path == "/protocols"], "backfill fetched DefiLlama /protocols"
    rows = ih.rows_by_feature(main_db["dsn"])
    assert not [f for f in CURRENT_ONLY if rows.get(f)], "current-only features got backfilled rows"


def test_backfill_requests_cover_the_range(main_db, fake):
    reqs = main_db["requests"]
    since_d, until_d = ih.day_of(main_db["since"]), ih.day_of(main_db["until"])
    fred = [r for r in reqs if r.family == "fred"]
    assert {r.q.get("series_id") for r in fred} == {"WALCL", "WTREGEN", "RRPONTSYD"}, ih.request_summary(fred)
    for r in fred:
        assert r.q.get("api_key") == fake.fred_key and r.q.get("file_type") == "json", r
        st, en = dt.date.fromisoformat(r.q["observation_start"]), dt.date.fromisoformat(r.q["observation_end"])
        assert since_d - dt.timedelta(days=7) <= st <= en <= until_d + dt.timedelta(days=1), (
            "FRED asked %s..%s for a backfill of %s..%s" % (st, en, since_d, until_d))
    kl = [r for r in reqs if r.path == "/api/v3/klines" and r.q.get("interval") == "1m" and r.q.get("symbol") == "BTCUSDT"]
    assert len(kl) >= 20 * 1440 // 1000, "20 days of 1m klines need >= 28 pages of 1000, saw %d requests" % len(kl)
    assert all(r.q.get("limit") == "1000" for r in kl)


def test_missing_upstream_values_are_skipped(db_factory):
    """With FRED "." dates and Farside "-" days upstream, the rest is written, not those."""
    f = fu.FakeUpstream().start()
    try:
        dsn = db_factory()
        since, until = backfill_range()
        t_start = lh.now_us()
        rc, so, se = ih.run_backfill(env_for(dsn, f), since, until, source="fred")
        assert rc == 0, se[-3000:]
        rc, so, se = ih.run_backfill(env_for(dsn, f), since, until, source="farside")
        assert rc == 0, se[-3000:]
        feats = ih.features_of("fred") + ih.features_of("farside")
        problems = check_rows(dsn, f, since, until, t_start, lh.now_us(), features=feats)
        assert not problems, "\n".join(problems)
        rows = ih.rows_by_feature(dsn)
        dots = [t for t in range(since, until, lh.US_DAY) if fu.fred_is_missing("RRPONTSYD", ih.day_of(t))
                and ih.day_of(t).weekday() < 5]
        assert dots and not {r[0] for r in rows[F_RRP]} & set(dots)
        assert not {f for f in rows} - set(feats), "--source fred/farside wrote other features: %s" % sorted(rows)
    finally:
        f.stop()


# ---------------------------------------------------------------------------------------
# Re-runs and gaps


def test_rerun_fetches_nothing(main_db, fake):
    before = ih.dump_rows(main_db["dsn"])
    fake.clear_log()
    rc, so, se = ih.run_backfill(env_for(main_db["dsn"], fake), main_db["since"], main_db["until"])
    assert rc == 0, se[-3000:]
    assert ih.dump_rows(main_db["dsn"]) == before, "a re-run changed stored rows"
    reqs = fake.requests()
    assert not reqs, "a re-run over a complete range still fetched (%d requests):\n%s" % (len(reqs), ih.request_summary(reqs))


def test_deleted_rows_of_one_series_are_refetched_alone(main_db, fake):
    dsn, since, until = main_db["dsn"], main_db["since"], main_db["until"]
    # what a re-run fetches when nothing is missing (ideally nothing: see test_rerun_fetches_nothing)
    fake.clear_log()
    rc, so, se = ih.run_backfill(env_for(dsn, fake), since, until)
    assert rc == 0, se[-3000:]
    baseline = {r.family for r in fake.requests()}

    gap_lo, gap_hi = since + 5 * lh.US_DAY, since + 9 * lh.US_DAY
    before = [r[:3] for r in ih.rows_by_feature(dsn)[F_RRP] if gap_lo <= r[0] < gap_hi]
    assert len(before) >= 2, "test bug: no RRP rows in the gap"
    lh.pg_query(dsn, "DELETE FROM features_values WHERE feature_id = %s AND entity = '' AND ts >= %s AND ts < %s",
                (F_RRP, lh.fmt_ts(gap_lo), lh.fmt_ts(gap_hi)))
    assert not [r for r in ih.rows_by_feature(dsn).get(F_RRP, []) if gap_lo <= r[0] < gap_hi]

    fake.clear_log()
    rc, so, se = ih.run_backfill(env_for(dsn, fake), since, until)
    assert rc == 0, se[-3000:]
    reqs = fake.requests()
    fred = [r for r in reqs if r.family == "fred"]
    assert fred, "the re-run did not ask FRED for the deleted RRPONTSYD rows"
    assert {r.q.get("series_id") for r in fred} == {"RRPONTSYD"}, (
        "only RRPONTSYD lost rows, FRED was asked for:\n%s" % ih.request_summary(fred))
    lo = min(dt.date.fromisoformat(r.q["observation_start"]) for r in fred)
    hi = max(dt.date.fromisoformat(r.q["observation_end"]) for r in fred)
    deleted = [ih.day_of(r[0]) for r in before]
    assert lo <= min(deleted) and hi >= max(deleted), (
        "FRED requests %s..%s do not cover the deleted dates %s" % (lo, hi, deleted))
    assert lo >= ih.day_of(since) - dt.timedelta(days=7), "the re-run asked FRED from %s, far before the gap" % lo
    others = {r.family for r in reqs} - {"fred"} - baseline
    assert not others, "sources with nothing missing were fetched: %s\n%s" % (
        sorted(others), ih.request_summary([r for r in reqs if r.family in others]))
    after = [r[:3] for r in ih.rows_by_feature(dsn)[F_RRP] if gap_lo <= r[0] < gap_hi]
    assert after == before, "the refetched rows differ:\n%r\n%r" % (after, before)


def test_source_option_limits_the_backfill(db_factory, fake):
    dsn = db_factory()
    since, until = backfill_range()
    fake.clear_log()
    t_start = lh.now_us()
    rc, so, se = ih.run_backfill(env_for(dsn, fake), since, until, source="blockchain-com")
    assert rc == 0, se[-3000:]
    fams = {r.family for r in fake.requests()}
    assert fams == {"blockchain-com"}, "--source blockchain-com fetched %s" % sorted(fams)
    rows = ih.rows_by_feature(dsn)
    assert set(rows) == set(ih.features_of("blockchain-com")), sorted(rows)
    problems = check_rows(dsn, fake, since, until, t_start, lh.now_us(), features=ih.features_of("blockchain-com"))
    assert not problems, "\n".join(problems)
    for r in fake.requests():
        assert r.q.get("format") == "json" and r.q.get("sampled") == "false" and r.q.get("timespan"), r


def test_failing_series_exits_1_and_the_rest_is_written(db_factory, fake):
    dsn = db_factory()
    since, until = backfill_range()
    fake.set_fault("/charts/", "status", status=500)
    try:
        rc, so, se = ih.run_backfill(env_for(dsn, fake), since, until, timeout=240)
    finally:
        fake.clear_faults()
    assert rc == 1, "a backfill whose blockchain.com series all failed exited %d, want 1\n%s" % (rc, se[-3000:])
    rows = ih.rows_by_feature(dsn)
    assert rows.get(F_RRP) and rows.get(F_WALCL), "the other sources were not written: %s" % sorted(rows)
    assert not any(rows.get(f) for f in ih.features_of("blockchain-com"))


def test_mock_mode_backfill_makes_no_requests(db_factory, fake):
    dsn = db_factory()
    since = ih.today_us() - 3 * lh.US_DAY
    fake.clear_log()
    rc, so, se = ih.run_backfill(env_for(dsn, fake, ORACLE_SOURCE_MODE="mock"), since, since + lh.US_DAY)
    assert rc == 0, se[-3000:]
    assert not fake.requests(), ih.request_summary(fake.requests())
    assert ih.count_rows(dsn) > 0


# ---------------------------------------------------------------------------------------
# Publication delays seen through the API


def test_as_of_before_publication_hides_backfilled_points(main_db, lavd_factory):
    d = lavd_factory("lavd-backfill-reader", dsn=main_db["dsn"])
    for fid in (F_WALCL, F_RRP, F_BTC_FLOW):
        delay = ih.delay_us(fid)
        rows = [r for r in ih.rows_by_feature(main_db["dsn"])[fid] if r[0] + delay < main_db["t_start"]]
        assert rows, fid
        ts, av, value = rows[len(rows) // 2][:3]
        assert av == ts + delay, (fid, lh.fmt_ts(ts), lh.fmt_ts(av))
        body = {"featureIds": [fid], "since": lh.fmt_ts(ts), "until": lh.fmt_ts(ts + lh.US_DAY)}
        res = lh.query_ok(d, dict(body, as_of=lh.fmt_ts(ts + delay - 1)))["results"][0]
        assert [p for p in res["points"] if lh.parse_ts(p["ts"]) == ts] == [], (
            "%s: as_of one microsecond before ts + %s sees the point %s" % (fid, ih.FEATURES[fid]["publication_delay"], res))
        res = lh.query_ok(d, dict(body, as_of=lh.fmt_ts(ts + delay)))["results"][0]
        pts = [p for p in res["points"] if lh.parse_ts(p["ts"]) == ts]
        assert len(pts) == 1 and pts[0]["value"] == value, res
        assert pts[0]["meta"]["mode"] == "shadow" and pts[0]["evidence"][0]["source"] == ih.source_of(fid), pts
        # without as_of (now) the whole range is there
        res = lh.query_ok(d, {"featureIds": [fid], "since": lh.fmt_ts(main_db["since"]), "until": lh.fmt_ts(main_db["until"])})
        assert len(res["results"][0]["points"]) == len(ih.rows_by_feature(main_db["dsn"])[fid])
