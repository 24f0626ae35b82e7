#!/usr/bin/python3
"""Helpers of scripts/bench_semaforo.sh: publishing the feeds bench_regime generated,
timing a replay, the reference SQL, and the final table.

Only the standard library: it runs with /usr/bin/python3 on a bare Debian 12.

  publish URL FILE [--batch N]     POST /api/features/v1/publish every row of FILE
                                   (bench_regime --dump: feature_id, ts_us, available_at_us,
                                   value), in order; prints "rows requests seconds"
  replay URL SINCE UNTIL           POST /api/liquidity/v1/replay {since, until} (epoch s);
                                   prints "seconds evaluated stored flips deleted", seconds
                                   being the wall time of the request (sent to last byte)
  windowsql T IDS...               the reference query: the window statistics of each feed
                                   at grid point T (epoch s), as of T, in one statement
  statcheck BENCH_OUT PSQL_OUT     compares bench_regime's stat.* lines with the query's rows;
                                   prints "ok" or what differs (exit 1)
  median LOGPREFIX                 "median_us p10_us p90_us n" of pgbench -l logs
  table RESULTS                    the final table (tab-separated rows)
"""
import argparse
import glob
import http.client
import json
import sys
import time
from datetime import datetime, timezone

from lavbench import print_table, split_url  # same directory


def iso(us):
    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def post(conn, path, body):
    conn.request("POST", path, body=body, headers={
        "Content-Type": "application/json", "Accept": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def cmd_publish(a):
    host, port = split_url(a.url)
    rows = []
    with open(a.file) as f:
        for ln in f:
            fid, ts, av, val = ln.rstrip("\n").split("\t")
            rows.append('{"featureId":"%s","ts":"%s","available_at":"%s","value":%s}'
                        % (fid, iso(int(ts)), iso(int(av)), val))
    conn = http.client.HTTPConnection(host, port, timeout=300)
    t0 = time.perf_counter()
    nreq = 0
    for b0 in range(0, len(rows), a.batch):
        chunk = rows[b0:b0 + a.batch]
        st, body = post(conn, "/api/features/v1/publish", ("[" + ",".join(chunk) + "]").encode())
        nreq += 1
        if st != 200:
            sys.exit(f"publish: HTTP {st}: {body[:400]!r}")
        r = json.loads(body)
        if r.get("accepted") != len(chunk) or r.get("rejected"):
            sys.exit(f"publish: {r.get('rejected')} of {len(chunk)} rejected: {body[:600]!r}")
    secs = time.perf_counter() - t0
    conn.close()
    print(len(rows), nreq, f"{secs:.2f}")


def cmd_replay(a):
    host, port = split_url(a.url)
    body = json.dumps({"since": iso(a.since * 1_000_000), "until": iso(a.until * 1_000_000)})
    conn = http.client.HTTPConnection(host, port, timeout=600)
    conn.connect()  # the connection is not part of the figure
    t0 = time.perf_counter()
    st, out = post(conn, "/api/liquidity/v1/replay", body.encode())
    secs = time.perf_counter() - t0
    conn.close()
    if st != 200:
        sys.exit(f"replay: HTTP {st}: {out[:400]!r}")
    r = json.loads(out)
    print(f"{secs:.4f}", r["evaluated"], r["stored"], r["flips"], r["deleted"])


def window_sql(t, ids):
    """One statement: per feed, count / avg / stddev_samp of the values of every ts in
    (T - 180 days, T], each ts taken at its latest revision with available_at <= T."""
    idlist = ",".join("'%s'" % i.replace("'", "''") for i in ids)
    ts = iso(t * 1_000_000)
    return (
        "SELECT feature_id, count(*), avg(value), stddev_samp(value) FROM ("
        "SELECT DISTINCT ON (feature_id, ts) feature_id, value FROM features_values"
        f" WHERE feature_id IN ({idlist}) AND entity = ''"
        f" AND ts > timestamptz '{ts}' - interval '180 days' AND ts <= timestamptz '{ts}'"
        f" AND available_at <= timestamptz '{ts}'"
        " ORDER BY feature_id, ts, available_at DESC) w GROUP BY feature_id ORDER BY feature_id"
    )


def cmd_windowsql(a):
    print(window_sql(a.t, a.ids) + ";")


def cmd_statcheck(a):
    lav = {}
    for ln in open(a.bench):
        if ln.startswith("stat."):
            k, _, v = ln[5:].strip().partition("=")
            n, mu, sd = v.split(",")
            lav[k] = (int(n), float(mu), float(sd))
    pg = {}
    for ln in open(a.psql):
        p = ln.strip().split("|")
        if len(p) == 4:
            pg[p[0]] = (int(p[1]), float(p[2]), float(p[3]))
    bad = []
    for k, (n, mu, sd) in sorted(lav.items()):
        q = pg.get(k)
        if q is None:
            bad.append(f"{k}: no row from PostgreSQL")
            continue
        close = lambda x, y: abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-300)
        if q[0] != n or not close(q[1], mu) or not close(q[2], sd):
            bad.append(f"{k}: lav n={n} mean={mu!r} sd={sd!r}, PostgreSQL n={q[0]} mean={q[1]!r} sd={q[2]!r}")
    if bad or not lav:
        print("differ: " + "; ".join(bad or ["no stat lines"]))
        sys.exit(1)
    print("ok")


def cmd_median(a):
    lat = []
    for fn in glob.glob(a.logprefix + "*"):
        with open(fn) as f:
            for ln in f:
                p = ln.split()
                if len(p) >= 3 and p[2].isdigit():
                    lat.append(int(p[2]))
    if not lat:
        sys.exit(f"no pgbench log under {a.logprefix}")
    lat.sort()
    n = len(lat)
    med = lat[n // 2] if n % 2 else (lat[n // 2 - 1] + lat[n // 2]) / 2
    print(f"{med:.1f}", lat[n // 10], lat[n * 9 // 10], n)


def cmd_table(a):
    print_table(a.results, ("figure", "lav", "reference", "ratio (lav / reference)"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("publish")
    s.add_argument("url")
    s.add_argument("file")
    s.add_argument("--batch", type=int, default=5000)
    s = sub.add_parser("replay")
    s.add_argument("url")
    s.add_argument("since", type=int)
    s.add_argument("until", type=int)
    s = sub.add_parser("windowsql")
    s.add_argument("t", type=int)
    s.add_argument("ids", nargs="+")
    s = sub.add_parser("statcheck")
    s.add_argument("bench")
    s.add_argument("psql")
    s = sub.add_parser("median")
    s.add_argument("logprefix")
    s = sub.add_parser("table")
    s.add_argument("results")
    a = p.parse_args()
    {
        "publish": cmd_publish,
        "replay": cmd_replay,
        "windowsql": cmd_windowsql,
        "statcheck": cmd_statcheck,
        "median": cmd_median,
        "table": cmd_table,
    }[a.cmd](a)


if __name__ == "__main__":
    main()
