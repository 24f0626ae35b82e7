#!/usr/bin/python3
"""Helpers of scripts/bench_ws.sh: the feed history that lets a publish force a flip, the
subscriber fleets (lavd's /ws and, as the reference, Redis pub/sub) and the final table.

Only the standard library: it runs with /usr/bin/python3 on a bare Debian 12. Ten thousand
connections are too many for the websockets package, so the clients are raw non-blocking
sockets on an asyncio event loop (the RFC 6455 client side: upgrade, masked frames out, unmasked
frames in with 7/16/64-bit lengths, pongs to pings; RESP for Redis), spread over worker
processes (fork), each raising RLIMIT_NOFILE to its hard limit.

A receive time is the kernel's arrival time of the data (SO_TIMESTAMPNS, CLOCK_REALTIME like
time.time(); on loopback, when the server's write entered the stack), so the clients' own
backlog is not counted against the server; the time.time() at which the client read it is
kept too ("read by the client").

  seed URL                       the feed history that makes the state follow the sign of
                                 the BTC ETF net flow (see bench_ws.sh); prints the state
  lav URL --pid PID [OPTIONS]    N subscribers of "regime" (lav.json.v1), then K flips
                                 forced through POST /api/features/v1/publish; latency of
                                 a delivery = receive time - the event's updated_at
  redis HOST PORT --pid PID [OPTIONS]
                                 N SUBSCRIBE connections to one channel, then K PUBLISHes
                                 of a flip-sized message carrying its send time; latency
                                 = receive time - that time
      OPTIONS: --subscribers N (10000) --workers W (4) --flips K (5)
      both print key=value lines (figures, flip.I=... per flip, problem=... per failure)
      and VmRSS of PID before connecting, with everyone connected and after the flips
  table RESULTS                  the final table (tab-separated rows)
"""
import argparse
import asyncio
import base64
import hashlib
import http.client
import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import selectors
import socket
import struct
import sys
import time
from datetime import datetime, timezone

from lavbench import print_table, split_url  # same directory

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTO = "lav.json.v1"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: also SCM_TIMESTAMPNS
REDIS_CHANNEL = b"bench:regime"
BTC_FLOW = "crypto/etf/btc_net_flow_usd"
FLOW = {"verde": 1.0e8, "rojo": -1.0e8}  # the BTC ETF net flow that makes each state
CONNECT_CONCURRENCY = 64  # handshakes in flight per worker
READY_TIMEOUT = 180.0  # every subscriber connected and subscribed
FLIP_TIMEOUT = 15.0  # a forced flip reaches every subscriber (the grid step is 1 s)


def iso(epoch_s):
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- HTTP (publish, regime/latest) -------------------------------------------------------


def http_json(url, method, path, body=None):
    host, port = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    out = r.read()
    conn.close()
    return r.status, out


def publish(url, points):
    st, out = http_json(url, "POST", "/api/features/v1/publish", points)
    if st != 200:
        raise RuntimeError(f"publish: HTTP {st}: {out[:400]!r}")
    r = json.loads(out)
    if r.get("accepted") != len(points) or r.get("rejected"):
        raise RuntimeError(f"publish: {r.get('rejected')} of {len(points)} rejected: {out[:600]!r}")


def regime_state(url):
    st, out = http_json(url, "GET", "/api/liquidity/v1/regime/latest")
    return json.loads(out)["state"] if st == 200 else None


def cmd_seed(a):
    """RRP and TGA now above their value a trend lookback (7 days) ago: "RRP up and TGA up"
    holds from now on. A positive stables_yoy. Twelve daily points of each (every window
    sufficient) and a negative BTC ETF flow last: the state starts rojo."""
    now = time.time()
    day = 86400
    pts = []
    for i in range(12, 0, -1):  # 12 .. 1 days ago
        t = iso(now - i * day)
        pts += [
            {"featureId": "macro/us/rrp_total_usd", "ts": t, "available_at": t, "value": 4.0e11 + i * 1e9},
            {"featureId": "macro/us/tga_balance_usd", "ts": t, "available_at": t, "value": 6.0e11 + i * 1e9},
            {"featureId": "crypto/stables/mcap_total_usd_yoy", "ts": t, "available_at": t,
             "value": 0.05 + i * 0.001},
            {"featureId": BTC_FLOW, "ts": t, "available_at": t, "value": (-1) ** i * (5e7 + i * 1e6)},
        ]
    t = iso(now - 1)
    pts += [
        {"featureId": "macro/us/rrp_total_usd", "ts": t, "available_at": t, "value": 5.0e11},
        {"featureId": "macro/us/tga_balance_usd", "ts": t, "available_at": t, "value": 7.0e11},
        {"featureId": BTC_FLOW, "ts": t, "available_at": t, "value": FLOW["rojo"]},
    ]
    publish(a.url, pts)
    deadline = time.time() + 30
    while time.time() < deadline:
        st = regime_state(a.url)
        if st is not None:
            print(st)
            return
        time.sleep(0.2)
    sys.exit("seed: no grid point within 30 s of the publish")


# ---- the subscribers ---------------------------------------------------------------------


class Sub:
    """One subscriber on a raw non-blocking socket watched by the worker's event loop.
    got: {event key: (kernel receive time, client receive time)}; the worker keeps the
    reference time (updated_at, or the publish time) of each key once."""

    def __init__(self, w):
        self.w = w
        self.sock = None
        self.buf = bytearray()
        self.out = bytearray()
        self.ready = w.loop.create_future()
        self.got = {}
        self.close_code = None
        self.lost = False

    async def open(self):
        loop = self.w.loop
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:
            await loop.sock_connect(sock, self.w.addr)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        loop.add_reader(sock.fileno(), self.readable)
        self.start()
        await asyncio.wait_for(asyncio.shield(self.ready), 60)

    def send(self, data):
        if not self.out:
            try:
                n = self.sock.send(data)
            except BlockingIOError:
                n = 0
            data = data[n:]
            if not data:
                return
            self.w.loop.add_writer(self.sock.fileno(), self.writable)
        self.out += data

    def writable(self):
        try:
            n = self.sock.send(self.out)
        except BlockingIOError:
            return
        del self.out[:n]
        if not self.out:
            self.w.loop.remove_writer(self.sock.fileno())

    def close(self, reset=False):
        """reset: with a RST rather than a FIN, so that no TIME_WAIT keeps the port."""
        if self.sock is not None:
            if reset:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.w.loop.remove_reader(self.sock.fileno())
            if self.out:
                self.w.loop.remove_writer(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def readable(self):
        t_app = time.time()
        try:
            data, anc, _, _ = self.sock.recvmsg(1 << 18, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, anc = b"", []
        if not data:
            self.close()
            if not self.w.stopping:
                self.lost = True
                self.w.changed = True
                if not self.ready.done():
                    self.ready.set_exception(
                        ConnectionError(f"closed before subscribed (close code {self.close_code})"))
            return
        t = t_app
        for level, kind, d in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(d) >= 16:
                sec, ns = struct.unpack_from("qq", d)
                t = sec + ns * 1e-9
        self.buf += data
        try:
            self.consume((t, t_app))
        except Exception as e:  # a protocol error of the server: noted, connection dropped
            self.w.problem(f"{type(e).__name__}: {e}")
            if not self.ready.done():
                self.ready.set_exception(e)
            self.close()
            self.lost = True
            self.w.changed = True

    def event(self, t, key, ref):
        if key not in self.got:
            self.got[key] = t
            self.w.refs.setdefault(key, ref)
            self.w.counts[key] = self.w.counts.get(key, 0) + 1
            self.w.changed = True


def ws_frame(opcode, payload):
    """A masked client frame (FIN set)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    body = (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big")
    return head + mask + body


class WsSub(Sub):
    """GET /ws, then {"op":"subscribe","channels":["regime"]}; ready once the regime
    snapshot is in. Checks seq (1, 2, 3... without gaps) on every message."""

    def start(self):
        self.key = base64.b64encode(os.urandom(16))
        self.upgraded = False
        self.seq = 0
        host, port = self.w.addr
        self.send(
            b"GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n"
            % (host.encode(), port, self.key, PROTO.encode()))

    def consume(self, t):
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 16384:
                    raise ValueError("no end of the HTTP response head")
                return
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            del self.buf[:end + 4]
            status = head[0].split(" ", 2)
            if len(status) < 2 or status[1] != "101":
                raise ValueError(f"handshake answered {head[0]!r}")
            hdr = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in head[1:])}
            want = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest()).decode()
            if hdr.get("sec-websocket-accept") != want:
                raise ValueError(f"Sec-WebSocket-Accept {hdr.get('sec-websocket-accept')!r}, expected {want!r}")
            if hdr.get("sec-websocket-protocol", PROTO) != PROTO:
                raise ValueError(f"subprotocol {hdr.get('sec-websocket-protocol')!r}")
            self.upgraded = True
            self.send(ws_frame(1, b'{"op":"subscribe","channels":["regime"],"id":1}'))
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            if b1 & 0x80:
                raise ValueError("masked server frame")
            n, pos = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, pos = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, pos = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos:pos + n])
            del buf[:pos + n]
            op = b0 & 0x0F
            if not b0 & 0x80 or op == 0:
                raise ValueError("fragmented server message")
            if op == 1 or op == 2:
                self.message(t, payload)
            elif op == 8:  # close: answer it, keep the code
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.w.closes[self.close_code] = self.w.closes.get(self.close_code, 0) + 1
                self.send(ws_frame(8, payload[:2]))
                return
            elif op == 9:
                self.send(ws_frame(10, payload))
                self.w.pings += 1
            elif op != 10:
                raise ValueError(f"opcode {op}")

    def message(self, t, payload):
        m = json.loads(payload)
        self.seq += 1
        if m.get("seq") != self.seq:
            raise ValueError(f"seq {m.get('seq')} after {self.seq - 1}")
        ty = m.get("type")
        if ty == "regime.flip":
            self.event(t, (m["ts"], m["from"], m["to"]), m["updated_at"])
        elif ty == "regime.update":
            self.w.updates += 1
        elif ty == "snapshot":
            if m.get("channel") == "regime" and not self.ready.done():
                self.ready.set_result(True)
        elif ty == "error":
            raise ValueError(f"error message {payload[:300]!r}")


class RedisSub(Sub):
    """SUBSCRIBE bench:regime; ready on the subscribe confirmation. Messages are JSON with
    "key" and "pub" (the publisher's time.time() just before it sent the PUBLISH)."""

    def start(self):
        self.send(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(REDIS_CHANNEL), REDIS_CHANNEL))

    def consume(self, t):
        buf = self.buf
        while buf:
            r = resp(buf, 0)
            if r is None:
                return
            v, pos = r
            del buf[:pos]
            if not isinstance(v, list) or len(v) != 3:
                raise ValueError(f"unexpected reply {v!r:.200}")
            if v[0] == b"message":
                m = json.loads(v[2])
                if m.get("type") == "regime.flip":
                    self.event(t, m["key"], m["pub"])
                else:
                    self.w.updates += 1
            elif v[0] == b"subscribe":
                self.ready.set_result(True)
            else:
                raise ValueError(f"unexpected reply {v!r:.200}")


def resp(buf, pos):
    """One RESP value at pos: (value, end) or None when incomplete."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    kind, line = buf[pos:pos + 1], bytes(buf[pos + 1:nl])
    if kind == b"*":
        n, pos, out = int(line), nl + 2, []
        for _ in range(n):
            r = resp(buf, pos)
            if r is None:
                return None
            out.append(r[0])
            pos = r[1]
        return out, pos
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, nl + 2
        if len(buf) < nl + 2 + n + 2:
            return None
        return bytes(buf[nl + 2:nl + 2 + n]), nl + 4 + n
    if kind == b":":
        return int(line), nl + 2
    if kind in (b"+", b"-"):
        if kind == b"-":
            raise ValueError(f"Redis error {line!r}")
        return line, nl + 2
    raise ValueError(f"RESP type {kind!r}")


class Worker:
    """One process: n subscribers of one kind. Reports to the main process through a pipe:
    ("ready", connected, seconds, problems), then ("counts", {key: subscribers}, lost,
    closes) whenever something changed, and on "stop" ("done", [got per subscriber], refs,
    summary)."""

    def __init__(self, kind, addr, n, pipe):
        self.kind, self.addr, self.n, self.pipe = kind, addr, n, pipe
        self.loop = asyncio.SelectorEventLoop(selectors.EpollSelector())
        self.subs, self.refs, self.counts, self.closes = [], {}, {}, {}
        self.problems, self.nproblems = [], 0
        self.updates = self.pings = 0
        self.changed = self.stopping = False

    def problem(self, msg):
        self.nproblems += 1
        if len(self.problems) < 5:
            self.problems.append(msg)

    async def open_one(self, sem):
        cls = WsSub if self.kind == "lav" else RedisSub
        async with sem:
            try:
                p = cls(self)
                self.subs.append(p)
                await p.open()
                return True
            except Exception as e:
                self.problem(f"connect/subscribe: {type(e).__name__}: {e}")
                return False

    async def run(self):
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
        t0 = time.perf_counter()
        ok = await asyncio.gather(*(self.open_one(sem) for _ in range(self.n)))
        self.pipe.send(("ready", sum(ok), time.perf_counter() - t0, self.nproblems, self.problems))
        stop = self.loop.create_future()

        def command():
            try:
                m = self.pipe.recv()
            except EOFError:  # the main process is gone: drop everything
                m = ("eof",)
            if not stop.done():
                stop.set_result(m)

        self.loop.add_reader(self.pipe.fileno(), command)
        while not stop.done():
            if self.changed:
                self.changed = False
                lost = sum(1 for s in self.subs if s.lost)
                self.pipe.send(("counts", dict(self.counts), lost, dict(self.closes)))
            await asyncio.wait([stop], timeout=0.02)
        self.loop.remove_reader(self.pipe.fileno())
        self.stopping = True
        lost = sum(1 for s in self.subs if s.lost)
        if stop.result()[0] == "stop":
            self.pipe.send(("done", [s.got for s in self.subs], self.refs,
                            dict(lost=lost, closes=self.closes, updates=self.updates, pings=self.pings,
                                 nproblems=self.nproblems, problems=self.problems)))
        for s in self.subs:
            s.close(reset=True)


def worker_main(kind, addr, n, pipe):
    raise_nofile()
    w = Worker(kind, addr, n, pipe)
    asyncio.set_event_loop(w.loop)
    try:
        w.loop.run_until_complete(w.run())
    finally:
        w.loop.close()


class Fleet:
    """The main process's side: W workers, N subscribers."""

    def __init__(self, kind, addr, n, workers):
        self.n = n
        ctx = multiprocessing.get_context("fork")
        self.pipes, self.procs = [], []
        for k in range(workers):
            mine = n // workers + (1 if k < n % workers else 0)
            a, b = ctx.Pipe()
            p = ctx.Process(target=worker_main, args=(kind, addr, mine, b), daemon=True)
            p.start()
            b.close()
            self.pipes.append(a)
            self.procs.append(p)
        self.counts = [{} for _ in self.pipes]
        self.lost = [0] * len(self.pipes)
        self.closes = [{} for _ in self.pipes]

    def recv(self, timeout, skip=()):
        """Handles what the workers (but those in skip) sent within timeout; returns the
        non-"counts" messages as (worker index, message)."""
        out = []
        pipes = [c for k, c in enumerate(self.pipes) if k not in skip]
        for c in multiprocessing.connection.wait(pipes, timeout):
            k = self.pipes.index(c)
            try:
                m = c.recv()
            except EOFError:
                raise RuntimeError(f"worker {k} exited (exit code {self.procs[k].exitcode})")
            if m[0] == "counts":
                self.counts[k], self.lost[k], self.closes[k] = m[1], m[2], m[3]
            else:
                out.append((k, m))
        return out

    def collect(self, what, timeout):
        got = {}
        deadline = time.time() + timeout
        while len(got) < len(self.pipes):
            left = deadline - time.time()
            if left <= 0:
                raise RuntimeError(f"workers did not report {what!r} within {timeout:.0f} s")
            for k, m in self.recv(left, got):
                if m[0] == what:
                    got[k] = m
        return [got[k] for k in range(len(self.pipes))]

    def count(self, key):
        return sum(c.get(key, 0) for c in self.counts)

    def keys(self):
        return set().union(*self.counts)

    def wait_for(self, want, timeout):
        """Until some key for which want(key) holds has reached every subscriber that is
        still connected (or timeout); returns that key (or the best one, or None)."""
        deadline = time.time() + timeout
        while True:
            cand = [k for k in self.keys() if want(k)]
            best = max(cand, key=self.count, default=None)
            if best is not None and self.count(best) >= self.n - sum(self.lost):
                return best
            left = deadline - time.time()
            if left <= 0:
                return best
            self.recv(min(left, 0.1))

    def stop(self):
        for p in self.pipes:
            p.send(("stop",))
        done = self.collect("done", 120)
        for p in self.procs:
            p.join(30)
        return done


def pct(sorted_xs, q):
    if not sorted_xs:
        return float("nan")
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


def report(fleet, ready, done, keys, wanted, rss, extra):
    """key=value lines: figures, one flip.I line per forced event, problem=... lines."""
    n = fleet.n
    connected = sum(m[1] for m in ready)
    problems = []
    if connected < n:
        problems.append(f"{n - connected} of {n} subscribers did not connect/subscribe")
    refs = {}
    for m in done:
        refs.update(m[2])
    gots = [g for m in done for g in m[1]]
    every = sum(1 for g in gots if all(k in g for k in keys)) if len(keys) == wanted else 0
    summ = [m[3] for m in done]
    lost = sum(s["lost"] for s in summ)
    closes = {}
    for s in summ:
        for c, x in s["closes"].items():
            closes[c] = closes.get(c, 0) + x
    allv, firsts, lasts, appv, stamped = [], [], [], [], 0
    print(f"subscribers={n}")
    print(f"connected={connected}")
    print(f"connect_s={max(m[2] for m in ready):.1f}")
    for i, k in enumerate(keys, 1):
        ref = refs[k] if isinstance(refs[k], float) else parse_ts(refs[k])
        ts = [g[k] for g in gots if k in g]
        lat = sorted((t - ref) * 1000 for t, _ in ts)
        app = sorted((t - ref) * 1000 for _, t in ts)
        stamped += sum(1 for t, u in ts if t != u)
        allv += lat
        appv += app
        if lat:
            firsts.append(lat[0])
            lasts.append(lat[-1])
        name = "%s -> %s at %s" % (k[1], k[2], k[0]) if isinstance(k, tuple) else k
        print(f"flip.{i}={name}: {len(lat)}/{n} delivered, first {pct(lat, 0):.1f} ms, p50 {pct(lat, .5):.1f} ms,"
              f" p99 {pct(lat, .99):.1f} ms, last {lat[-1] if lat else float('nan'):.1f} ms;"
              f" read by the client: p50 {pct(app, .5):.1f} ms, p99 {pct(app, .99):.1f} ms,"
              f" last {app[-1] if app else float('nan'):.1f} ms")
        if len(lat) < n:
            problems.append(f"flip {i} ({name}) reached {len(lat)} of {n} subscribers")
    allv.sort()
    firsts.sort()
    lasts.sort()
    appv.sort()
    print(f"flips={len(keys)}")
    print(f"deliveries={len(allv)}")
    print(f"kernel_stamped={stamped}")
    print(f"p50_ms={pct(allv, .5):.1f}")
    print(f"p99_ms={pct(allv, .99):.1f}")
    print(f"max_ms={allv[-1] if allv else float('nan'):.1f}")
    print(f"first_median_ms={pct(firsts, .5):.1f}")
    print(f"last_median_ms={pct(lasts, .5):.1f}")
    print(f"last_max_ms={lasts[-1] if lasts else float('nan'):.1f}")
    print(f"app_p50_ms={pct(appv, .5):.1f}")
    print(f"app_p99_ms={pct(appv, .99):.1f}")
    print(f"app_max_ms={appv[-1] if appv else float('nan'):.1f}")
    print(f"every={every}")
    print(f"rss_before_kib={rss[0]}")
    print(f"rss_connected_kib={rss[1]}")
    print(f"rss_after_kib={rss[2]}")
    print(f"lost={lost}")
    print("closes=" + (",".join(f"{c}:{x}" for c, x in sorted(closes.items())) or "none"))
    print(f"updates={sum(s['updates'] for s in summ)}")
    print(f"pings={sum(s['pings'] for s in summ)}")
    for k, v in extra.items():
        print(f"{k}={v}")
    if every < n:
        problems.append(f"{n - every} of {n} subscribers missed at least one flip")
    if lost:
        problems.append(f"{lost} subscribers lost their connection (close codes: {closes or 'none'})")
    for s in summ:
        problems += [f"client: {p}" for p in s["problems"][:3]]
    for p in problems:
        print(f"problem={p}")


def start_fleet(a, kind, addr, pid):
    lim = raise_nofile()
    per = -(-a.subscribers // a.workers)
    if per + 64 > lim:
        sys.exit(f"RLIMIT_NOFILE {lim} is too low for {per} sockets per worker: raise ulimit -n or --workers")
    rss0 = rss_kib(pid)
    fleet = Fleet(kind, addr, a.subscribers, a.workers)
    ready = fleet.collect("ready", READY_TIMEOUT)
    time.sleep(0.5)
    return fleet, ready, rss0, rss_kib(pid)


def cmd_lav(a):
    host, port = split_url(a.url)
    fleet, ready, rss0, rss1 = start_fleet(a, "lav", (host, port), a.pid)
    state = regime_state(a.url)
    keys, seen, extra = [], fleet.keys(), {}
    for i in range(a.flips):
        target = "rojo" if state == "verde" else "verde"
        t = iso(time.time())
        publish(a.url, [{"featureId": BTC_FLOW, "ts": t, "available_at": t, "value": FLOW[target] + i}])
        k = fleet.wait_for(lambda k: k not in seen and k[2] == target, FLIP_TIMEOUT)
        if k is None:
            print(f"problem=flip {i + 1}: no regime.flip to {target} within {FLIP_TIMEOUT:.0f} s")
            state = regime_state(a.url)
            continue
        keys.append(k)
        seen.add(k)
        state = target
        fleet.recv(0.5)  # the update after it, the next grid point
    fleet.recv(1.0)
    rss2 = rss_kib(a.pid)
    other = sorted(k for k in fleet.keys() if k not in seen)
    if other:
        print(f"problem=flips nobody forced: {other[:3]}")
    done = fleet.stop()
    report(fleet, ready, done, keys, a.flips, (rss0, rss1, rss2), extra)


def cmd_redis(a):
    fleet, ready, rss0, rss1 = start_fleet(a, "redis", (a.host, a.port), a.pid)
    pub = socket.create_connection((a.host, a.port))
    pub.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pbuf = bytearray()
    keys = []
    state = "rojo"

    def command(*args):
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in args)

    for i in range(a.flips):
        target = "rojo" if state == "verde" else "verde"
        key = f"flip-{i + 1}"
        # a regime.flip and the regime.update lavd sends right after it, of the same sizes
        ts = iso(time.time() // 1)
        upd = json.dumps({"seq": 1000 + 2 * i, "type": "regime.update", "ts": ts, "state": target,
                          "candidate": target, "score": 50.0, "raw": 0.0, "smoothed": 0.0, "confidence": 0.5,
                          "components": {"gl": 0.1, "cn": 0.2, "mp": None}, "flip": True,
                          "updated_at": ts}).encode()
        t = time.time()
        flip = json.dumps({"seq": 999 + 2 * i, "type": "regime.flip", "from": state, "to": target,
                           "score": 50.0, "confidence": 0.5, "ts": ts, "updated_at": ts,
                           "key": key, "pub": t}).encode()
        pub.sendall(command(b"PUBLISH", REDIS_CHANNEL, flip) + command(b"PUBLISH", REDIS_CHANNEL, upd))
        replies = []
        while len(replies) < 2:
            r = resp(pbuf, 0)
            if r is None:
                pbuf += pub.recv(4096)
                continue
            replies.append(r[0])
            del pbuf[:r[1]]
        want = fleet.n - sum(fleet.lost)
        if replies[0] != want:
            print(f"problem=PUBLISH {i + 1}: Redis counted {replies[0]} receivers, {want} are subscribed")
        k = fleet.wait_for(lambda k: k == key, FLIP_TIMEOUT)
        if k is None:
            print(f"problem=PUBLISH {i + 1}: reached no subscriber within {FLIP_TIMEOUT:.0f} s"
                  f" (Redis counted {replies[0]} receivers)")
            continue
        keys.append(k)
        state = target
        fleet.recv(1.0)  # about lavd's pace: one flip per 1.5 s
    pub.close()
    fleet.recv(1.0)
    rss2 = rss_kib(a.pid)
    done = fleet.stop()
    report(fleet, ready, done, keys, a.flips, (rss0, rss1, rss2), {})


def cmd_table(a):
    print_table(a.results, ("figure", "lav", "reference", "ratio (lav / reference)", "target"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("url")
    s1 = sub.add_parser("lav")
    s1.add_argument("url")
    s2 = sub.add_parser("redis")
    s2.add_argument("host")
    s2.add_argument("port", type=int)
    for x in (s1, s2):
        x.add_argument("--pid", type=int, required=True)
        x.add_argument("--subscribers", type=int, default=10000)
        x.add_argument("--workers", type=int, default=4)
        x.add_argument("--flips", type=int, default=5)
    s = sub.add_parser("table")
    s.add_argument("results")
    a = p.parse_args()
    {"seed": cmd_seed, "lav": cmd_lav, "redis": cmd_redis, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
