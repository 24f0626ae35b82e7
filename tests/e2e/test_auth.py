"""Bearer tokens and scopes (LAV_TOKENS_FILE), and running without a tokens file."""

import json

import pytest
import requests

import lavhelpers as lh

CATALOG = "/api/features/v1/catalog"
VALIDATE = "/api/features/v1/catalog/validate"


def assert_401(r):
    lh.assert_error(r, 401, "unauthorized")
    www = r.headers.get("www-authenticate", "")
    assert www.lower().startswith("bearer"), "WWW-Authenticate %r" % www


def test_public_endpoints_need_no_token(lavd):
    for path in ["/healthz", "/readyz"]:
        r = lh.poll(lambda: (lambda x: x if x.status_code == 200 else None)(requests.get(lavd.url(path), timeout=10)),
                    timeout=15) or requests.get(lavd.url(path), timeout=10)
        assert r.status_code == 200, "%s without a token: %d %r" % (path, r.status_code, r.text[:200])


def test_catalog_without_token_401(lavd):
    assert_401(requests.get(lavd.url(CATALOG), timeout=10))
    lavd.assert_alive()


@pytest.mark.parametrize(
    "value",
    [
        "Bearer wrong-token",
        "Bearer ",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "bearer-ish",
        "Bearer " + "x" * 4000,
    ],
)
def test_catalog_bad_token_401(lavd, value):
    r = requests.get(lavd.url(CATALOG), headers={"Authorization": value}, timeout=10)
    assert_401(r)
    lavd.assert_alive()


def test_token_hash_is_not_a_token(lavd, tokens):
    """The sha256 stored in the file must not work as a bearer token itself."""
    import hashlib

    h = hashlib.sha256(tokens["admin"].encode()).hexdigest()
    assert_401(requests.get(lavd.url(CATALOG), headers={"Authorization": "Bearer " + h}, timeout=10))


def test_token_with_extra_character_401(lavd, tokens):
    for bad in [tokens["reader"] + "x", tokens["reader"][:-1], tokens["reader"].upper()]:
        assert_401(requests.get(lavd.url(CATALOG), headers={"Authorization": "Bearer " + bad}, timeout=10))


@pytest.mark.parametrize("role", ["reader", "publisher", "admin"])
def test_catalog_readable_by_every_scope(lavd, role):
    r = lavd.get(CATALOG, role=role)
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["features"]) == len(lh.load_catalog())


def test_bearer_scheme_case_insensitive(lavd, tokens):
    r = requests.get(lavd.url(CATALOG), headers={"Authorization": "bearer " + tokens["reader"]}, timeout=10)
    assert r.status_code == 200


@pytest.mark.parametrize("role", ["reader", "publisher"])
def test_validate_forbidden_below_admin(lavd, catalog_spec, role):
    r = lavd.post(VALIDATE, role=role, data=json.dumps(catalog_spec), headers={"Content-Type": "application/json"})
    lh.assert_error(r, 403, "forbidden")
    lavd.assert_alive()


def test_validate_allowed_for_admin(lavd, catalog_spec):
    r = lavd.post(VALIDATE, role="admin", data=json.dumps(catalog_spec), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:500]
    assert r.json() == {"valid": True, "features": len(catalog_spec)}


def test_validate_without_token_401(lavd, catalog_spec):
    r = requests.post(lavd.url(VALIDATE), data=json.dumps(catalog_spec), timeout=10)
    assert_401(r)


def test_401_in_msgpack_when_accepted(lavd):
    r = requests.get(lavd.url(CATALOG), headers={"Accept": "application/msgpack"}, timeout=10)
    lh.assert_error(r, 401, "unauthorized", msgpack_body=True)


def test_403_before_body_is_parsed(lavd):
    """A reader posting garbage gets 403 (scope), not 400: auth comes first."""
    r = lavd.post(VALIDATE, role="reader", data=b"{{{", headers={"Content-Type": "application/json"})
    lh.assert_error(r, 403, "forbidden")


# ---- lavd without a tokens file (loopback only) ------------------------------------------


@pytest.fixture(scope="module")
def open_lavd(lavd_factory):
    return lavd_factory("lavd-noauth", auth=False)


def test_no_tokens_file_means_no_auth(open_lavd, catalog_spec):
    r = requests.get(open_lavd.url(CATALOG), timeout=10)
    assert r.status_code == 200
    assert len(r.json()["features"]) == len(catalog_spec)
    r = requests.post(open_lavd.url(VALIDATE), data=json.dumps(catalog_spec), timeout=10)
    assert r.status_code == 200
    assert r.json()["valid"] is True
    open_lavd.assert_alive()
