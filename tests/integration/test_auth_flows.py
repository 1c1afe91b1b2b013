"""
Authentication flows: logins (good, bad, indistinguishable failures),
malformed credentials, the Bearer scheme in any case, logout, API key revocation and expiry, disabled users,
password changes, login throttling (429 + Retry-After) and session expiry.
Failed logins are throttled per source address, so everything that fails a
login on purpose runs on its own fresh server.
"""
import datetime as dt
import re
import time

import pytest

import client as cl
from client import expect, make_tenant

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def parse_time(s):
    assert TIME_RE.match(s), s
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@pytest.fixture
def env(fresh_server):
    sys_ = fresh_server.login_admin()
    t = make_tenant(fresh_server, sys_, roles=("admin", "developer", "viewer"))
    return fresh_server, sys_, t


def test_login_failures_are_401_and_indistinguishable(env):
    server, sys_, t = env
    u = t.users["developer"]
    wrong_pw = cl.login_response(server, u["username"], "not-the-password-1", tenant=t.slug)
    no_user = cl.login_response(server, "nobody-here", "not-the-password-1", tenant=t.slug)
    no_tenant = cl.login_response(server, u["username"], u["password"], tenant="no-such-tenant")
    sysadmin_in_tenant = cl.login_response(server, "admin", server.admin_password, tenant=t.slug)
    msgs = set()
    for r in (wrong_pw, no_user, no_tenant, sysadmin_in_tenant):
        msgs.add(expect(r, 401, "unauthenticated")["error"]["message"])
    assert len(msgs) == 1, f"failed logins must not say which part was wrong: {msgs}"
    assert "token" not in wrong_pw.text
    # The system admin logs in without a tenant, or with "".
    for tenant in (None, ""):
        s = cl.login(server, "admin", server.admin_password, tenant=tenant)
        assert s.whoami()["user"]["role"] == "system-admin"


def test_login_bad_bodies_are_400(env):
    server, _, _ = env
    anon = cl.Client(server)
    for body in ({}, {"username": "admin"}, {"password": "x" * 12}, {"username": 5, "password": "x"},
                 {"username": "admin", "password": server.admin_password, "extra": 1}):
        expect(anon.post("/v1/auth/login", body), 400, "invalid_argument")
    expect(anon.request("POST", "/v1/auth/login", data=b"{", headers={
        "Content-Type": "application/json"}), 400, "invalid_json")


def test_missing_and_malformed_credentials_are_401(env):
    server, sys_, t = env
    anon = cl.Client(server)
    for path in ("/v1/auth/whoami", "/v1/tenants", f"{t.path}/databases", "/v1/audit"):
        expect(anon.get(path), 401, "unauthenticated")
    for header in ("Basic YWRtaW46cGFzc3dvcmQ=", "Bearer", "Bearer ", "bearer", "Token abc",
                   "Bearer as_", "Bearer as_0000000000000000_" + "0" * 64,
                   "Bearer ak_0000000000000000_" + "0" * 64, "Bearer " + "x" * 5000,
                   f"Bearer {t.admin.token}x", f"Bearer {t.admin.token[:-1]}"):
        r = anon.get(f"{t.path}/databases", headers={"Authorization": header})
        expect(r, 401, "unauthenticated")
    # A well-formed request with a valid token still works.
    assert t.admin.call("GET", f"{t.path}/databases")["items"] == []


def test_bearer_scheme_is_case_insensitive(server, sysadmin):
    # RFC 9110 §11.1: the auth-scheme is case-insensitive; 1+ spaces follow it.
    t = make_tenant(server, sysadmin, roles=("admin", "developer"))
    u = t.users["developer"]
    k = t.developer.call("POST", f"{t.path}/users/{u['username']}/keys", {"name": "case"},
                         status=201)
    anon = cl.Client(server)
    for credential, kind in ((t.developer.token, "session"), (k["secret"], "api_key")):
        for scheme in ("Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer   "):
            r = anon.get("/v1/auth/whoami", headers={"Authorization": scheme + credential})
            who = expect(r, 200)
            assert who["credential"] == kind, (scheme, who)
            assert who["user"]["username"] == u["username"], (scheme, who)
    # A write goes through with an upper-case scheme too.
    db = cl.unique("db")
    r = anon.post(f"{t.path}/databases", {"name": db},
                  headers={"Authorization": "BEARER " + t.admin.token})
    assert expect(r, 201)["name"] == db
    # Logout reads the scheme the same way: the session ends.
    s = t.login(u["username"], u["password"])
    expect(anon.post("/v1/auth/logout", headers={"Authorization": "BEARER " + s.token}), 204)
    expect(s.get("/v1/auth/whoami"), 401, "unauthenticated")
    # Other schemes, or no space after the scheme, stay refused.
    for header in ("BEARER", "BEARERx" + t.developer.token, "Basic " + t.developer.token,
                   "Bearer\t" + t.developer.token):
        expect(anon.get("/v1/auth/whoami", headers={"Authorization": header}), 401,
               "unauthenticated")


def test_logout_ends_only_that_session(env):
    server, _, t = env
    u = t.users["viewer"]
    a = t.login(u["username"], u["password"])
    b = t.login(u["username"], u["password"])
    expect(a.post("/v1/auth/logout"), 204)
    expect(a.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(a.post("/v1/auth/logout"), 401, "unauthenticated")
    assert b.whoami()["credential"] == "session"


def test_revoked_key_is_refused_at_once(env):
    server, _, t = env
    u = t.users["developer"]["username"]
    k = t.developer.call("POST", f"{t.path}/users/{u}/keys", {"name": "x"}, status=201)
    kc = t.developer.with_token(k["secret"])
    assert kc.whoami()["credential"] == "api_key"   # now cached, if the server caches
    expect(t.admin.delete(f"{t.path}/users/{u}/keys/{k['key']['id']}"), 204)
    expect(kc.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(kc.get(f"{t.path}/databases"), 401, "unauthenticated")


def test_api_key_expires(env):
    server, _, t = env
    u = t.users["developer"]["username"]
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=3)
    k = t.developer.call("POST", f"{t.path}/users/{u}/keys",
                         {"name": "short", "expires_at": rfc3339(expires)}, status=201)
    assert abs((parse_time(k["key"]["expires_at"]) - expires).total_seconds()) < 0.01, k
    kc = t.developer.with_token(k["secret"])
    me = kc.whoami()
    assert me["credential"] == "api_key" and me["expires_at"] == k["key"]["expires_at"], me
    wait = (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() + 1.0
    time.sleep(max(0.0, wait))
    expect(kc.get("/v1/auth/whoami"), 401, "unauthenticated")
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    expect(t.developer.post(f"{t.path}/users/{u}/keys",
                            {"name": "past", "expires_at": rfc3339(past)}), 400,
           "invalid_argument")


def test_disabled_user_is_locked_out_until_enabled(env):
    server, _, t = env
    u = t.users["developer"]
    key = t.developer.call("POST", f"{t.path}/users/{u['username']}/keys", {"name": "k"},
                           status=201)["secret"]
    t.admin.call("PATCH", f"{t.path}/users/{u['username']}", {"status": "disabled"})
    expect(t.developer.get(f"{t.path}/databases"), 401, "unauthenticated")
    expect(t.developer.with_token(key).get(f"{t.path}/databases"), 401, "unauthenticated")
    r = cl.login_response(server, u["username"], u["password"], tenant=t.slug)
    assert r.status_code in (401, 403), cl.describe(r)
    assert "token" not in (cl.body_of(r) or {}), cl.describe(r)
    t.admin.call("PATCH", f"{t.path}/users/{u['username']}", {"status": "active"})
    c = t.login(u["username"], u["password"])
    assert c.call("GET", f"{t.path}/databases")["items"] is not None
    assert t.developer.with_token(key).whoami()["credential"] == "api_key"


def test_password_change_ends_sessions(env):
    server, _, t = env
    u = t.users["viewer"]
    old = t.login(u["username"], u["password"])
    new_pw = cl.new_password()
    t.viewer.call("PATCH", f"{t.path}/users/{u['username']}", {"password": new_pw})
    expect(old.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(cl.login_response(server, u["username"], u["password"], tenant=t.slug), 401,
           "unauthenticated")
    assert t.login(u["username"], new_pw).whoami()["user"]["username"] == u["username"]


def test_login_throttling(env):
    server, sys_, t = env
    victim = t.users["viewer"]
    other = t.users["developer"]
    statuses = []
    for _ in range(5):
        r = cl.login_response(server, victim["username"], "wrong-password-xx", tenant=t.slug)
        statuses.append(r.status_code)
    assert statuses == [401] * 5, statuses
    # Sixth attempt: refused even with the right password.
    r = cl.login_response(server, victim["username"], victim["password"], tenant=t.slug)
    expect(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra and ra.isdigit() and int(ra) >= 1, f"Retry-After: {ra!r}"
    # Another user from the same address is not locked out by that.
    assert t.login(other["username"], other["password"]).whoami()
    # Enough failures from one address lock out the address.
    codes = []
    for i in range(30):
        r = cl.login_response(server, f"ghost{i}", "wrong-password-xx", tenant=t.slug)
        codes.append(r.status_code)
        if r.status_code == 429:
            break
    assert codes[-1] == 429 and set(codes[:-1]) <= {401}, codes
    expect(cl.login_response(server, other["username"], other["password"], tenant=t.slug), 429,
           "rate_limited")
    # Existing sessions are unaffected.
    assert t.admin.call("GET", f"{t.path}/databases")["items"] == []
    # The failures are audited in the tenant's log; the throttled attempt
    # (outcome denied) at least in the system-wide log.
    entries = t.admin.list_all(f"{t.path}/audit", params={"action": "login.failure"})
    assert len([e for e in entries if e["actor"] == victim["username"]]) >= 5, entries
    every = sys_.list_all("/v1/audit", params={"action": "login.failure"})
    denied = [e for e in every if e["outcome"] == "denied" and e["actor"] == victim["username"]]
    assert denied, every[-8:]


def test_session_expires_after_ttl(expiring_session):
    """Runs last (see conftest): the session was made at the start of the run."""
    e = expiring_session
    c = e["client"]
    remaining = e["logged_in_at"] + e["ttl_s"] + 1.5 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    expect(c.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(c.get("/v1/tenants"), 401, "unauthenticated")
    fresh = e["server"].login_admin()
    exp = parse_time(fresh.login["expires_at"])
    ttl = (exp - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert e["ttl_s"] - 5 <= ttl <= e["ttl_s"] + 1, f"expires_at {exp} is {ttl:.1f} s away"
