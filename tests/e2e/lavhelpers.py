"""Helpers shared by the lav end-to-end suites: start/stop lavd, raw HTTP over sockets,
PostgreSQL databases per module, and assertions on lav's uniform error shape.

Only the Python standard library plus Debian's python3-requests, python3-msgpack and
python3-psycopg2 are used (run the suites with /usr/bin/python3).
"""

import copy
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse

import msgpack
import psycopg2
import psycopg2.extensions
import pytest
import requests

REPO = os.path.abspath(os.environ.get("LAV_REPO") or os.path.join(os.path.dirname(__file__), "..", ".."))
LAV_BIN = os.environ.get("LAV_BIN") or os.path.join(REPO, "build", "lavd")
CONFIG_DIR = os.path.join(REPO, "config")
CATALOG_FILE = "features.catalog.json"
DATASOURCES_FILE = "datasources.json"

CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Environment variables of the outer test runner that must not leak into lavd.
_ENV_PREFIXES = ("LAV_", "FEATURE_", "LIQ_", "ORACLE_", "EXECUTION_MODE")

STARTUP_TIMEOUT = 20.0
HTTP_TIMEOUT = 10.0


# ---------------------------------------------------------------------------------------
# Catalog files


def load_catalog(config_dir=CONFIG_DIR):
    """The features of a catalog file as a list (accepts an array or {"features": [...]})."""
    with open(os.path.join(config_dir, CATALOG_FILE)) as f:
        doc = json.load(f)
    return doc["features"] if isinstance(doc, dict) else doc


def load_datasources(config_dir=CONFIG_DIR):
    with open(os.path.join(config_dir, DATASOURCES_FILE)) as f:
        doc = json.load(f)
    return doc["sources"] if isinstance(doc, dict) and "sources" in doc else doc


def write_catalog(config_dir, features):
    """Write features back in the same top-level shape as the shipped catalog."""
    path = os.path.join(config_dir, CATALOG_FILE)
    with open(path) as f:
        doc = json.load(f)
    if isinstance(doc, dict):
        doc = dict(doc)
        doc["features"] = features
    else:
        doc = features
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)


def copy_config(dest_dir):
    """Copy $LAV_REPO/config to dest_dir (created) and return its path."""
    dest = os.path.join(str(dest_dir), "config")
    shutil.copytree(CONFIG_DIR, dest)
    return dest


def spec_with_defaults(spec):
    """What lavd should return for a spec: the spec plus dtype/on_violation defaults."""
    s = copy.deepcopy(spec)
    s.setdefault("dtype", "float64")
    q = s.setdefault("quality", {})
    q.setdefault("on_violation", "flag")
    return s


# ---------------------------------------------------------------------------------------
# Tokens


class Tokens:
    """Three bearer tokens (reader, publisher, admin) and the tokens file holding their hashes."""

    ROLES = {
        "reader": ["oracle.reader"],
        "publisher": ["oracle.publisher"],
        "admin": ["oracle.admin"],
    }

    def __init__(self, directory):
        self.plain = {role: "lav_e2e_%s_%s" % (role, secrets.token_hex(16)) for role in self.ROLES}
        self.path = os.path.join(str(directory), "tokens.json")
        doc = {
            "tokens": [
                {
                    "name": role,
                    "sha256": hashlib.sha256(self.plain[role].encode()).hexdigest(),
                    "scopes": scopes,
                }
                for role, scopes in self.ROLES.items()
            ]
        }
        with open(self.path, "w") as f:
            json.dump(doc, f, indent=1)
        os.chmod(self.path, 0o600)

    def __getitem__(self, role):
        return self.plain[role]

    def header(self, role):
        return {"Authorization": "Bearer " + self.plain[role]}


# ---------------------------------------------------------------------------------------
# PostgreSQL


def dsn_for_db(base_dsn, dbname):
    """base_dsn with its database replaced by dbname (URI or keyword/value form)."""
    if base_dsn.startswith(("postgres://", "postgresql://")):
        u = urllib.parse.urlsplit(base_dsn)
        return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))
    return psycopg2.extensions.make_dsn(base_dsn, dbname=dbname)


class PgAdmin:
    def __init__(self, base_dsn):
        self.base_dsn = base_dsn

    def _admin_conn(self):
        conn = psycopg2.connect(self.base_dsn)
        conn.autocommit = True
        return conn

    def create_db(self):
        name = "lav_e2e_" + secrets.token_hex(6)
        conn = self._admin_conn()
        try:
            with conn.cursor() as cur:
                cur.execute('CREATE DATABASE "%s"' % name)
        finally:
            conn.close()
        return name, dsn_for_db(self.base_dsn, name)

    def drop_db(self, name):
        conn = self._admin_conn()
        try:
            with conn.cursor() as cur:
                cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        finally:
            conn.close()


def pg_query(dsn, sql, params=None):
    """Run one query on dsn and return all rows (autocommit)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------
# lavd processes


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def base_process_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
    return env


def lavd_env(dsn, port=None, listen=None, tokens_file=None, redis_url=None, config_dir=None, overrides=None):
    """The environment lavd runs with. overrides: {name: value}; a value of None removes it."""
    env = base_process_env()
    if listen is None:
        listen = "127.0.0.1:%d" % (port if port is not None else free_port())
    env["LAV_LISTEN"] = listen
    if dsn is not None:
        env["LAV_PG_DSN"] = dsn
    if redis_url:
        env["LAV_REDIS_URL"] = redis_url
    env["LAV_CONFIG_DIR"] = config_dir or CONFIG_DIR
    if tokens_file:
        env["LAV_TOKENS_FILE"] = tokens_file
    env["ORACLE_SOURCE_MODE"] = "off"
    env["LAV_LOG_LEVEL"] = "debug"
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def check_binary():
    if not (os.path.isfile(LAV_BIN) and os.access(LAV_BIN, os.X_OK)):
        pytest.fail("lavd binary not found or not executable: %s (set LAV_BIN)" % LAV_BIN, pytrace=False)


def run_expect_fail(env, args=(), timeout=10.0):
    """Run lavd expecting it to exit non-zero within timeout. Returns (returncode, stderr)."""
    check_binary()
    proc = subprocess.Popen(
        [LAV_BIN, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        pytest.fail(
            "lavd %s did not exit within %.0f s (expected a startup refusal); stderr:\n%s"
            % (" ".join(args), timeout, _tail(err.decode(errors="replace"))),
            pytrace=False,
        )
    err_s = err.decode(errors="replace")
    assert proc.returncode != 0, "lavd exited 0 but a refusal was expected; stderr:\n%s\nstdout:\n%s" % (
        _tail(err_s),
        _tail(out.decode(errors="replace")),
    )
    return proc.returncode, err_s


def run_lavd_command(env, args, timeout=60.0):
    """Run `lavd ARGS` to completion. Returns (returncode, stdout, stderr)."""
    check_binary()
    proc = subprocess.run(
        [LAV_BIN, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        cwd=REPO,
    )
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def _tail(text, lines=60):
    ls = text.splitlines()
    return "\n".join(ls[-lines:])


class Lavd:
    """One lavd process on a free loopback port."""

    instances = []  # every Lavd ever created in this session (for log tails on failure)

    def __init__(self, workdir, dsn, name="lavd", tokens=None, redis_url=None, config_dir=None, overrides=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.dsn = dsn
        self.name = name
        self.tokens = tokens
        self.redis_url = redis_url
        self.config_dir = config_dir or CONFIG_DIR
        self.overrides = dict(overrides or {})
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.log_path = None
        self._log_file = None
        self._starts = 0
        Lavd.instances.append(self)

    # -- process ----------------------------------------------------------------------

    def env(self):
        """lavd's environment; an override LAV_LISTEN may say {port} for the chosen port."""
        env = lavd_env(
            self.dsn,
            port=self.port,
            tokens_file=self.tokens.path if self.tokens else None,
            redis_url=self.redis_url,
            config_dir=self.config_dir,
            overrides=self.overrides,
        )
        env["LAV_LISTEN"] = env["LAV_LISTEN"].replace("{port}", str(self.port))
        return env

    def start(self, timeout=STARTUP_TIMEOUT):
        check_binary()
        for attempt in range(3):
            self.port = free_port()
            self._starts += 1
            self.log_path = os.path.join(self.workdir, "%s.%d.log" % (self.name, self._starts))
            self._log_file = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [LAV_BIN],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
            ok, why = self._wait_healthy(timeout)
            if ok:
                return self
            log = self.log_tail()
            if self.proc.poll() is not None and re.search(r"in use|EADDRINUSE", log, re.I) and attempt < 2:
                continue  # lost a race for the free port: try another one
            self.kill()
            pytest.fail("%s did not become healthy: %s\n--- log tail (%s) ---\n%s" % (self.name, why, self.log_path, log), pytrace=False)
        return self

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, "lavd exited early with code %s" % rc
            try:
                r = requests.get(self.url("/healthz"), timeout=1.0)
                if r.status_code == 200:
                    return True, ""
                last = "GET /healthz answered %d" % r.status_code
            except requests.RequestException as e:
                last = "GET /healthz failed: %s" % e.__class__.__name__
            time.sleep(0.05)
        return False, "timeout after %.0f s (%s)" % (timeout, last)

    def is_alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM and wait. Returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_log()
                return None
        self._close_log()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_tail(self, lines=80):
        return _tail(self.log_text(), lines)

    # -- HTTP ---------------------------------------------------------------------------

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    def url(self, path):
        return self.base_url + path

    def auth_headers(self, role):
        if role is None:
            return {}
        return self.tokens.header(role)

    def request(self, method, path, role=None, headers=None, **kw):
        h = dict(self.auth_headers(role))
        h.update(headers or {})
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.request(method, self.url(path), headers=h, **kw)

    def get(self, path, role=None, **kw):
        return self.request("GET", path, role=role, **kw)

    def post(self, path, role=None, **kw):
        return self.request("POST", path, role=role, **kw)

    def connect(self, timeout=HTTP_TIMEOUT):
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def assert_alive(self):
        """The process is running and GET /healthz answers 200."""
        assert self.is_alive(), "%s died (exit code %s); log tail:\n%s" % (self.name, self.proc.poll(), self.log_tail())
        r = requests.get(self.url("/healthz"), timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, "%s /healthz answered %d: %r" % (self.name, r.status_code, r.text[:300])
        assert self.is_alive()


# ---------------------------------------------------------------------------------------
# Raw HTTP over a socket


class RawResponse:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {}
        for k, v in headers:
            lk = k.lower()
            self.headers[lk] = (self.headers[lk] + ", " + v) if lk in self.headers else v
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return "<RawResponse %d %r body=%r>" % (self.status, self.headers, self.body[:200])


class SockReader:
    """Buffered reads from a socket, for parsing HTTP responses (possibly pipelined)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, delim, limit=1 << 20):
        while delim not in self.buf:
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (delim, limit))
            if not self._fill():
                raise EOFError("connection closed; %d bytes buffered: %r" % (len(self.buf), self.buf[:200]))
        i = self.buf.index(delim) + len(delim)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed after %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_all(self):
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, head=False):
        """Parse one response. head=True: the request was HEAD (no body follows)."""
        raw = self.read_until(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        assert m, "bad status line %r" % lines[0]
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            assert sep, "bad response header line %r" % line
            headers.append((k.strip(), v.strip()))
        resp = RawResponse(m.group(1), int(m.group(2)), m.group(3) or "", headers, b"")
        if head or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        te = resp.headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            body = b""
            while True:
                size_line = self.read_until(b"\r\n").strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")  # (no trailers expected)
                    break
                body += self.read_exact(size)
                self.read_exact(2)
            resp.body = body
        elif "content-length" in resp.headers:
            resp.body = self.read_exact(int(resp.headers["content-length"]))
        else:
            resp.body = self.read_all()
        return resp


def raw_request(method, path, headers=None, body=b"", version="HTTP/1.1", host="lav"):
    """Bytes of one HTTP request. headers: list of (k, v) or dict."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in items}
    if "host" not in names:
        items.insert(0, ("Host", host))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        items.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version) + "".join("%s: %s\r\n" % kv for kv in items) + "\r\n"
    return head.encode("latin-1") + body


def chunked(body, size=100):
    out = b""
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def wait_closed(sock, timeout=10.0):
    """True if the peer closes the connection (EOF or reset) within timeout, draining any data."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


# ---------------------------------------------------------------------------------------
# Assertions


def assert_correlation(resp, sent=None):
    cid = resp.headers.get("x-correlation-id")
    assert cid, "response has no x-correlation-id header: %r" % (dict(resp.headers),)
    if sent is not None:
        assert cid == sent, "x-correlation-id %r, sent %r" % (cid, sent)
    assert CORRELATION_RE.match(cid), "x-correlation-id %r does not match %s" % (cid, CORRELATION_RE.pattern)
    return cid


def decode_body(resp):
    """Decode a requests.Response or RawResponse body according to its Content-Type."""
    ctype = resp.headers.get("content-type", "")
    body = resp.content if hasattr(resp, "content") else resp.body
    if "msgpack" in ctype:
        return msgpack.unpackb(body, raw=False, timestamp=3)
    return json.loads(body.decode())


def assert_error(resp, status, code, msgpack_body=False, message_contains=None):
    """resp is lav's uniform error {"error":{"code","message","correlation_id"}}. Returns error."""
    st = resp.status_code if hasattr(resp, "status_code") else resp.status
    body = resp.content if hasattr(resp, "content") else resp.body
    assert st == status, "expected %d %s, got %d: %r" % (status, code, st, body[:500])
    ctype = resp.headers.get("content-type", "")
    if msgpack_body:
        assert ctype.split(";")[0].strip() in ("application/msgpack", "application/x-msgpack"), ctype
    else:
        assert ctype.split(";")[0].strip() == "application/json", "content-type %r" % ctype
    doc = decode_body(resp)
    assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), "not an error body: %r" % (doc,)
    err = doc["error"]
    assert err.get("code") == code, "error code %r, expected %r: %r" % (err.get("code"), code, err)
    assert isinstance(err.get("message"), str) and err["message"], "empty error message: %r" % err
    cid = assert_correlation(resp)
    assert err.get("correlation_id") == cid, "body correlation_id %r != header %r" % (err.get("correlation_id"), cid)
    if message_contains:
        for s in [message_contains] if isinstance(message_contains, str) else message_contains:
            assert s in err["message"], "error message %r does not mention %r" % (err["message"], s)
    return err


def allow_methods(resp):
    allow = resp.headers.get("allow", "")
    return {m.strip().upper() for m in allow.split(",") if m.strip()}


def poll(fn, timeout=15.0, interval=0.2):
    """Call fn until it returns a truthy value or timeout; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------------------
# Feature store helpers (times as integer microseconds since the Unix epoch, UTC)

US = 1_000_000
US_MIN = 60 * US
US_HOUR = 3600 * US
US_DAY = 86400 * US


def now_us():
    return time.time_ns() // 1000


def fmt_ts(us):
    """RFC 3339 UTC as lav writes it: milliseconds, or microseconds when needed."""
    import datetime as _dt

    secs, sub = divmod(int(us), US)
    t = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(seconds=secs)
    frac = "%03d" % (sub // 1000) if sub % 1000 == 0 else "%06d" % sub
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def parse_ts(s):
    """RFC 3339 string (any offset) -> microseconds."""
    import datetime as _dt

    t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("timestamp without offset: %r" % s)
    delta = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * US + delta.microseconds


def unique_entity(prefix):
    """An entity name no other test uses ([A-Za-z0-9_.:/-])."""
    return "%s-%s" % (prefix, secrets.token_hex(4))


def publish(d, points, role="publisher", fmt="json", wrap=False, headers=None, timeout=HTTP_TIMEOUT):
    """POST /api/features/v1/publish; returns (response, decoded body or None)."""
    body = {"points": points} if wrap else points
    h = {"Content-Type": "application/json" if fmt == "json" else "application/msgpack"}
    if fmt != "json":
        h["Accept"] = "application/msgpack"
    h.update(headers or {})
    data = json.dumps(body).encode() if fmt == "json" else msgpack.packb(body, use_bin_type=True, datetime=False)
    r = d.post("/api/features/v1/publish", role=role, data=data, headers=h, timeout=timeout)
    try:
        doc = decode_body(r)
    except Exception:
        doc = None
    return r, doc


def publish_ok(d, points, **kw):
    """Publish points that must all be accepted."""
    r, doc = publish(d, points, **kw)
    assert r.status_code == 200, "publish answered %d: %r" % (r.status_code, r.content[:1000])
    assert doc["rejected"] == 0 and doc["accepted"] == len(points), "publish reply %r" % (doc,)
    return doc


def query(d, body, role="reader", accept=None, timeout=HTTP_TIMEOUT):
    """POST /api/features/v1/query; returns (response, decoded body or None)."""
    h = {"Content-Type": "application/json"}
    if accept:
        h["Accept"] = accept
    r = d.post("/api/features/v1/query", role=role, data=json.dumps(body).encode(), headers=h, timeout=timeout)
    try:
        doc = decode_body(r)
    except Exception:
        doc = None
    return r, doc


def query_ok(d, body, **kw):
    r, doc = query(d, body, **kw)
    assert r.status_code == 200, "query %r answered %d: %r" % (body, r.status_code, r.content[:1000])
    return doc


def latest(d, feature_ids, entity=None, role="reader", timeout=HTTP_TIMEOUT):
    """GET /api/features/v1/latest; returns the requests.Response."""
    ids = [feature_ids] if isinstance(feature_ids, str) else list(feature_ids)
    params = [("featureId", f) for f in ids]
    if entity is not None:
        params.append(("entity", entity))
    return d.get("/api/features/v1/latest?" + urllib.parse.urlencode(params), role=role, timeout=timeout)


def series_rows(dsn, feature_id, entity):
    """Every stored row of a series: [(ts_us, available_at_us, value, confidence, meta, evidence)]."""
    rows = pg_query(
        dsn,
        "SELECT (extract(epoch FROM ts) * 1000000)::int8, (extract(epoch FROM available_at) * 1000000)::int8,"
        " value, confidence, meta, evidence FROM features_values WHERE feature_id = %s AND entity = %s"
        " ORDER BY ts, available_at",
        (feature_id, entity),
    )
    return [tuple(r) for r in rows]


# ---------------------------------------------------------------------------------------
# Private Redis and PostgreSQL servers for tests that stop and start them


def resp_command(port, *args, host="127.0.0.1", timeout=5.0):
    """Send one Redis command (RESP) and return the decoded reply (bytes for bulk strings)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(_resp_encode(args))
        return _resp_read(SockReader(s))
    finally:
        s.close()


def _resp_encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _resp_read(rd):
    line = rd.read_until(b"\r\n")[:-2]
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis error: %s" % rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = rd.read_exact(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_resp_read(rd) for _ in range(n)]
    raise AssertionError("bad RESP line %r" % line)


class RedisSubscriber:
    """SUBSCRIBE to channels on a raw socket; messages() drains what has arrived."""

    def __init__(self, port, *channels, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=5.0)
        self.reader = SockReader(self.sock)
        self.sock.sendall(_resp_encode(("SUBSCRIBE",) + channels))
        for _ in channels:
            reply = _resp_read(self.reader)
            assert reply[0] == b"subscribe", reply

    def next_message(self, timeout):
        """(channel, payload bytes) of the next message, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            while True:
                reply = _resp_read(self.reader)
                if reply and reply[0] == b"message":
                    return reply[1].decode(), reply[2]
        except (socket.timeout, TimeoutError):
            return None

    def close(self):
        self.sock.close()


class PrivateRedis:
    """A redis-server started by a test on its own port (stopped by its pid)."""

    def __init__(self, workdir, port=None):
        self.bin = shutil.which("redis-server")
        self.port = port or free_port()
        self.workdir = str(workdir)
        self.proc = None

    def start(self):
        log = open(os.path.join(self.workdir, "redis-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(
            [self.bin, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()

        def up():
            try:
                return resp_command(self.port, "PING", timeout=1) == "PONG"
            except OSError:
                return False

        assert poll(up, timeout=10, interval=0.1), "private redis-server on port %d did not start" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


class PrivatePostgres:
    """A PostgreSQL cluster of its own (scripts/lib/common.sh lav_pg_start/lav_pg_stop), for
    tests that stop and restart PostgreSQL. The directory is made under /tmp so that the
    PostgreSQL OS user can reach it when the suite runs as root."""

    def __init__(self, port=None):
        import tempfile

        self.port = port or free_port()
        self.base = tempfile.mkdtemp(prefix="lav-e2e-pg-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.datadir = os.path.join(self.base, "pg")
        self.dsn = None

    def _sh(self, script, timeout=90):
        common = os.path.join(REPO, "scripts", "lib", "common.sh")
        env = base_process_env()
        env["LAV_PG_FAST"] = "1"
        proc = subprocess.run(
            ["bash", "-c", 'source "$1"; ' + script, "lav-e2e", common, self.datadir, str(self.port)],
            env=env, capture_output=True, timeout=timeout,
        )
        return proc.returncode, proc.stdout.decode(errors="replace").strip(), proc.stderr.decode(errors="replace")

    def start(self):
        rc, out, err = self._sh('lav_pg_start "$2" "$3"')
        assert rc == 0 and out.startswith("postgresql://"), "lav_pg_start failed (%d): %s" % (rc, _tail(err, 30))
        self.dsn = out.splitlines()[-1]
        return self.dsn

    def stop(self):
        rc, out, err = self._sh('lav_pg_stop "$2"')
        assert rc == 0, "lav_pg_stop failed: %s" % _tail(err, 30)

    def destroy(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def wait_store_settled(d, timeout=15.0):
    """Wait until /readyz says ready, then a little longer so that every PostgreSQL pool
    connection has finished its connect-time setup. (A publish arriving while no pool
    connection is idle can stay pending until the next publish: see test_store_publish's
    test_publish_while_pool_busy_completes; this keeps the other tests deterministic.)"""
    ok = poll(lambda: requests.get(d.url("/readyz"), timeout=HTTP_TIMEOUT).status_code == 200, timeout=timeout, interval=0.05)
    assert ok, "%s never became ready: %s" % (d.name, requests.get(d.url("/readyz"), timeout=HTTP_TIMEOUT).text)
    time.sleep(0.3)


def ensure_running(d):
    """For module-scoped fixtures using the shared lavd: restart it if a previous test killed
    it (as the `lavd` fixture does), and return it."""
    if not d.is_alive():
        d.kill()
        d.start()
        wait_store_settled(d)
    return d


def etl_insert(dsn, rows):
    """Insert rows straight into PostgreSQL, as another program would (reaches lavd through
    NOTIFY): rows [(feature_id, entity, ts_us, available_at_us, value)] in one statement."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            args = []
            sql = []
            for f, e, ts, av, v in rows:
                sql.append("(%s, %s, %s::timestamptz, %s::timestamptz, %s)")
                args += [f, e, fmt_ts(ts), fmt_ts(av), v]
            cur.execute("INSERT INTO features_values (feature_id, entity, ts, available_at, value) VALUES "
                        + ", ".join(sql), args)
    finally:
        conn.close()
