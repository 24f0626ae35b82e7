"""Fixtures for lav's end-to-end suites.

Environment (set by scripts/test.sh):
  LAV_BIN               path to lavd (default $LAV_REPO/build/lavd)
  LAV_TEST_PG_DSN       a PostgreSQL superuser DSN; every module gets fresh databases
  LAV_TEST_REDIS_URL    optional Redis the default lavd uses
  LAV_TEST_REDIS_PORT   its port
  LAV_REPO              repository root (default: two levels above this file)
"""

import os

import pytest

import lavhelpers as lh


# ---------------------------------------------------------------------------------------
# Log tails of lavd processes in failure reports


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item._lav_first_instance = len(lh.Lavd.instances)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    first = getattr(item, "_lav_first_instance", len(lh.Lavd.instances))
    for i, d in enumerate(lh.Lavd.instances):
        if d.log_path and (i >= first or d.is_alive()):
            rep.sections.append(("lavd log tail: %s (%s)" % (d.name, d.log_path), d.log_tail(60)))


# ---------------------------------------------------------------------------------------
# Basics


@pytest.fixture(scope="session")
def lav_bin():
    lh.check_binary()
    return lh.LAV_BIN


@pytest.fixture(scope="session")
def catalog_spec():
    """The shipped catalog's features (list of dicts), from $LAV_REPO/config."""
    return lh.load_catalog()


@pytest.fixture(scope="session")
def datasources():
    return lh.load_datasources()


@pytest.fixture(scope="session")
def redis_url():
    return os.environ.get("LAV_TEST_REDIS_URL") or None


@pytest.fixture(scope="session")
def tokens(tmp_path_factory):
    return lh.Tokens(tmp_path_factory.mktemp("tokens"))


# ---------------------------------------------------------------------------------------
# PostgreSQL: fresh databases


@pytest.fixture(scope="session")
def pg_admin():
    dsn = os.environ.get("LAV_TEST_PG_DSN")
    if not dsn:
        pytest.fail("LAV_TEST_PG_DSN is not set (run the suites through scripts/test.sh)", pytrace=False)
    return lh.PgAdmin(dsn)


@pytest.fixture(scope="module")
def db_factory(pg_admin):
    """Call it to get the DSN of a new, empty database; all are dropped after the module."""
    created = []

    def make():
        name, dsn = pg_admin.create_db()
        created.append(name)
        return dsn

    yield make
    for name in created:
        try:
            pg_admin.drop_db(name)
        except Exception as e:  # pragma: no cover - best effort cleanup
            print("could not drop database %s: %s" % (name, e))


@pytest.fixture(scope="module")
def fresh_db(db_factory):
    """A fresh database for this test module; yields its DSN."""
    return db_factory()


# ---------------------------------------------------------------------------------------
# lavd processes


@pytest.fixture(scope="module")
def lavd_factory(lav_bin, tmp_path_factory, db_factory, tokens, redis_url):
    """make(name, dsn=None, auth=True, redis=False, config_dir=None, overrides=None, start=True)
    returns a Lavd (started unless start=False); every one is stopped after the module."""
    made = []
    workdir = tmp_path_factory.mktemp("lavd")

    def make(name="lavd", dsn=None, auth=True, redis=False, config_dir=None, overrides=None, start=True):
        d = lh.Lavd(
            workdir,
            dsn or db_factory(),
            name=name,
            tokens=tokens if auth else None,
            redis_url=(redis_url if redis is True else (redis or None)),
            config_dir=config_dir,
            overrides=overrides,
        )
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    for d in made:
        d.stop(timeout=5)
        d.kill()


@pytest.fixture(scope="session")
def _session_lavd(lav_bin, tmp_path_factory, pg_admin, tokens, redis_url):
    name, dsn = pg_admin.create_db()
    d = lh.Lavd(
        tmp_path_factory.mktemp("lavd-default"),
        dsn,
        name="lavd-default",
        tokens=tokens,
        redis_url=redis_url,
        # the suites send a few hundred requests per minute with one token
        overrides={"FEATURE_API_RATE_LIMIT_RPM": "1000000"},
    )
    d.start()
    yield d
    d.stop(timeout=5)
    d.kill()
    try:
        pg_admin.drop_db(name)
    except Exception as e:  # pragma: no cover
        print("could not drop database %s: %s" % (name, e))


@pytest.fixture
def lavd(_session_lavd):
    """The shared lavd (tokens file configured, Redis if the suite has one).

    If a previous test killed it, it is restarted; after each test it must still be alive
    and answer GET /healthz 200."""
    d = _session_lavd
    if not d.is_alive():
        d.kill()
        d.start()
    yield d
    d.assert_alive()


@pytest.fixture
def config_copy(tmp_path):
    """Path of a private copy of $LAV_REPO/config, to be edited by the test."""
    return lh.copy_config(tmp_path)
