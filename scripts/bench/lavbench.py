#!/usr/bin/python3
"""Helpers of scripts/bench_store.sh: seeding, the publish load generator, the COPY
file for the PostgreSQL reference, and parsers for wrk / pgbench output.

Only the standard library: it runs with /usr/bin/python3 on a bare Debian 12.

  seed URL DAY                       1440 one-minute BTC points of DAY (YYYY-MM-DD)
  publish URL --clients N --batch B --points P --start EPOCH --prefix E
                                     the durable publish load (raw keep-alive sockets)
  copyfile FILE --points P --start EPOCH --prefix E
                                     the same rows as COPY text for the reference
  wrk FILE                           "rps p99_ms non2xx sockerr requests" of a wrk --latency run
  pgbench FILE LOGPREFIX             "tps p99_ms failed" of a pgbench run (+ its -l logs)
  table RESULTS                      the final table (tab-separated rows)
"""
import argparse
import glob
import json
import re
import resource
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

FEATURE = "crypto/btc/price_usd"


def iso(epoch_s):
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def value_at(i):
    # Bounded, never constant (the outlier rule flags anything when MAD = 0), well
    # inside expected_range [10000, 300000]: nothing is flagged.
    return 60000.0 + ((i * 7919) % 1000) / 10.0


# ---- one keep-alive HTTP/1.1 connection on a raw socket ----------------------------------


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, raw):
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        self.buf = rest
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed by lavd")
        self.buf += chunk

    def close(self):
        self.sock.close()


def split_url(url):
    m = re.match(r"http://([^:/]+):(\d+)", url)
    return m.group(1), int(m.group(2))


def post_raw(host, port, path, body):
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


# ---- seed ------------------------------------------------------------------------------


def cmd_seed(a):
    host, port = split_url(a.url)
    day = datetime.strptime(a.day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    t0 = int(day.timestamp())
    pts = [
        {"featureId": FEATURE, "entity": "BTC", "ts": iso(t0 + 60 * i), "value": value_at(i)}
        for i in range(1440)
    ]
    c = Conn(host, port)
    st, body = c.request(post_raw(host, port, "/api/features/v1/publish",
                                  json.dumps(pts).encode()))
    c.close()
    r = json.loads(body)
    if st != 200 or r.get("accepted") != 1440:
        sys.exit(f"seed: HTTP {st}: {body[:400]!r}")
    print(r["accepted"])


# ---- durable publish load ------------------------------------------------------------------


def batches(points, batch, clients, start, prefix):
    """Per client, its list of bodies. Client k writes series (FEATURE, prefix+k) with
    one-second steps from start, in order: every point is new and nothing conflicts."""
    per_client = points // clients
    out = []
    for k in range(clients):
        ent = f"{prefix}{k}"
        bodies = []
        for b0 in range(0, per_client, batch):
            n = min(batch, per_client - b0)
            items = [
                '{"featureId":"%s","entity":"%s","ts":"%s","value":%r}'
                % (FEATURE, ent, iso(start + i), value_at(i))
                for i in range(b0, b0 + n)
            ]
            bodies.append(("[" + ",".join(items) + "]").encode())
        out.append(bodies)
    return out


def cmd_publish(a):
    host, port = split_url(a.url)
    t = time.time()
    per = batches(a.points, a.batch, a.clients, a.start, a.prefix)
    reqs = [[post_raw(host, port, "/api/features/v1/publish", b) for b in bodies] for bodies in per]
    gen_s = time.time() - t
    conns = [Conn(host, port) for _ in range(a.clients)]
    lat, errors, accepted = [], [], [0] * a.clients
    lock = threading.Lock()
    go = threading.Barrier(a.clients + 1)

    def worker(k):
        mine = []
        go.wait()
        try:
            for raw in reqs[k]:
                t1 = time.perf_counter()
                st, body = conns[k].request(raw)
                mine.append(time.perf_counter() - t1)
                if st != 200:
                    raise RuntimeError(f"HTTP {st}: {body[:300]!r}")
                r = json.loads(body)
                accepted[k] += r["accepted"]
                if r["rejected"]:
                    raise RuntimeError(f"{r['rejected']} rejected: {body[:300]!r}")
        except Exception as e:  # reported, and the run counts as failed
            with lock:
                errors.append(f"client {k}: {e}")
        with lock:
            lat.extend(mine)

    th = [threading.Thread(target=worker, args=(k,)) for k in range(a.clients)]
    for x in th:
        x.start()
    go.wait()
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    for x in th:
        x.join()
    secs = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    for c in conns:
        c.close()
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0
    res = {
        "points": sum(accepted),
        "requests": len(lat),
        "seconds": secs,
        "pps": sum(accepted) / secs if secs > 0 else 0.0,
        "batch_p50_ms": pct(0.50),
        "batch_p99_ms": pct(0.99),
        "gen_seconds": gen_s,
        "client_cpu_seconds": client_cpu,
        "errors": errors,
    }
    print(json.dumps(res))
    if errors:
        sys.exit(1)


def cmd_copyfile(a):
    per_client = a.points // a.clients
    with open(a.file, "w") as f:
        for k in range(a.clients):
            ent = f"{a.prefix}{k}"
            rows = []
            for i in range(per_client):
                ts = iso(a.start + i)
                rows.append(f"{FEATURE}\t{ent}\t{ts}\t{ts}\t{value_at(i)!r}\t1\n")
            f.write("".join(rows))
    print(per_client * a.clients)


# ---- parsers ---------------------------------------------------------------------------------

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def cmd_wrk(a):
    txt = open(a.file).read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", txt)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", txt, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", txt)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", txt)
    reqs = re.search(r"(\d+) requests in", txt)
    if not rps:
        sys.exit(f"cannot parse wrk output {a.file}")
    print(
        rps.group(1),
        f"{float(p99.group(1)) * UNIT_MS[p99.group(2)]:.3f}" if p99 else "nan",
        non2xx.group(1) if non2xx else 0,
        sum(int(x) for x in sock.groups()) if sock else 0,
        reqs.group(1) if reqs else 0,
    )


def cmd_pgbench(a):
    txt = open(a.file).read()
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", txt) or re.search(
        r"tps = ([\d.]+)", txt
    )
    failed = re.search(r"number of failed transactions: (\d+)", txt)
    if not tps:
        sys.exit(f"cannot parse pgbench output {a.file}")
    lat = []
    for fn in glob.glob(a.logprefix + "*"):
        with open(fn) as f:
            for ln in f:
                p = ln.split()
                if len(p) >= 3 and p[2].isdigit():
                    lat.append(int(p[2]))
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] / 1000.0 if lat else float("nan")
    print(tps.group(1), f"{p99:.3f}", failed.group(1) if failed else 0)


def print_table(results, hdr):
    """RESULTS: one tab-separated row per figure, columns as hdr; an aligned table."""
    out = [hdr] + [tuple((ln.rstrip("\n").split("\t") + [""] * len(hdr))[:len(hdr)])
                   for ln in open(results) if ln.strip()]
    w = [max(len(r[i]) for r in out) for i in range(len(hdr))]
    sep = "  "
    for i, r in enumerate(out):
        print(sep.join(c.ljust(w[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            print(sep.join("-" * x for x in w))


def cmd_table(a):
    print_table(a.results, ("figure", "lavd", "reference", "ratio", "target"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("url")
    s.add_argument("day")
    s = sub.add_parser("publish")
    s.add_argument("url")
    s2 = sub.add_parser("copyfile")
    s2.add_argument("file")
    for x in (s, s2):
        x.add_argument("--clients", type=int, default=8)
        x.add_argument("--points", type=int, default=512000)
        x.add_argument("--start", type=int, required=True)
        x.add_argument("--prefix", required=True)
    s.add_argument("--batch", type=int, default=1000)
    s = sub.add_parser("wrk")
    s.add_argument("file")
    s = sub.add_parser("pgbench")
    s.add_argument("file")
    s.add_argument("logprefix")
    s = sub.add_parser("table")
    s.add_argument("results")
    a = p.parse_args()
    {
        "seed": cmd_seed,
        "publish": cmd_publish,
        "copyfile": cmd_copyfile,
        "wrk": cmd_wrk,
        "pgbench": cmd_pgbench,
        "table": cmd_table,
    }[a.cmd](a)


if __name__ == "__main__":
    main()
