"""Readiness: Redis is a cache (down != unready, but reported); PostgreSQL down -> 503."""

import os
import shutil
import subprocess

import pytest
import requests

import lavhelpers as lh


def readyz(d):
    r = requests.get(d.url("/readyz"), timeout=10)
    lh.assert_correlation(r)
    assert r.status_code in (200, 503), r.status_code
    body = r.json()
    assert body["ready"] is (r.status_code == 200), "status %d but ready=%r" % (r.status_code, body["ready"])
    return r.status_code, body


def wait_redis_state(d, state, timeout=20, status=200):
    """Poll /readyz until Redis reports state (and the status is `status`, since lavd may
    be briefly unready right after start while its PostgreSQL health session connects)."""

    def check():
        st, body = readyz(d)
        return (st, body) if body["checks"]["redis"]["state"] == state and st == status else None

    got = lh.poll(check, timeout=timeout, interval=0.25)
    assert got, "redis state never became %r: %r" % (state, readyz(d)[1])
    return got


def test_without_redis_reports_disabled(lavd_factory):
    d = lavd_factory("lavd-noredis", auth=False)
    st, body = wait_redis_state(d, "disabled", timeout=10)
    assert st == 200
    assert body["checks"]["redis"]["configured"] is False


def test_unreachable_redis_is_reported_but_ready(lavd_factory):
    url = "redis://127.0.0.1:%d/0" % lh.free_port()
    d = lavd_factory("lavd-redis-unreachable", auth=False, redis=url)
    st, body = wait_redis_state(d, "disconnected", timeout=15)
    assert st == 200, body
    rd = body["checks"]["redis"]
    assert rd["configured"] is True and rd["ok"] is False
    # memory-served endpoints work without Redis
    assert requests.get(d.url("/api/features/v1/catalog"), timeout=10).status_code == 200
    d.assert_alive()


class RedisServer:
    """A private redis-server started by this test (stopped by its pid)."""

    def __init__(self, workdir):
        self.bin = shutil.which("redis-server")
        self.port = lh.free_port()
        self.workdir = str(workdir)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.bin, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir],
            stdout=open(os.path.join(self.workdir, "redis.log"), "ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

        def up():
            try:
                import socket

                s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                s.sendall(b"PING\r\n")
                ok = s.recv(16).startswith(b"+PONG")
                s.close()
                return ok
            except OSError:
                return False

        assert lh.poll(up, timeout=10, interval=0.1), "private redis-server did not start"

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


def test_redis_loss_and_reconnect(lavd_factory, tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    rs = RedisServer(tmp_path)
    rs.start()
    try:
        d = lavd_factory("lavd-redis-flap", auth=False, redis=rs.url)
        st, body = wait_redis_state(d, "connected", timeout=15)
        assert st == 200 and body["checks"]["redis"]["ok"] is True

        rs.stop()
        st, body = wait_redis_state(d, "disconnected", timeout=20)
        assert st == 200, "Redis down must not make lavd unready: %r" % body
        assert body["checks"]["redis"]["ok"] is False
        d.assert_alive()

        rs.start()  # same port
        st, body = wait_redis_state(d, "connected", timeout=30)
        assert st == 200 and body["checks"]["redis"]["ok"] is True
        d.assert_alive()
    finally:
        rs.stop()


def test_postgres_loss_makes_unready(lavd_factory, pg_admin):
    name, dsn = pg_admin.create_db()
    try:
        d = lavd_factory("lavd-pg-loss", dsn=dsn, auth=False)
        assert lh.poll(lambda: readyz(d)[0] == 200, timeout=15), readyz(d)
        pg_admin.drop_db(name)  # WITH (FORCE): terminates lavd's sessions, and reconnecting fails

        got = lh.poll(lambda: (lambda sb: sb if sb[0] == 503 else None)(readyz(d)), timeout=30, interval=0.5)
        assert got, "readyz still 200 after the database was dropped: %r" % (readyz(d),)
        st, body = got
        assert body["ready"] is False
        assert body["checks"]["postgres"]["ok"] is False
        # liveness is not readiness
        d.assert_alive()
        rc = d.stop(timeout=10)
        assert rc == 0, "exit code %r on SIGTERM with PostgreSQL gone; log:\n%s" % (rc, d.log_tail())
    finally:
        pg_admin.drop_db(name)
