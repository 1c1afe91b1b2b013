"""
tests/integration/client.py — a thin REST client for the integration tests.

`Client` wraps requests.Session with a base URL and a bearer credential and
checks EVERY response it receives against docs/openapi.yaml through
openapi_check.validate_response (tests/integration/openapi_check.py, written
separately). While that file does not exist the check is off and the report
header says so; once it exists it is imported unconditionally, so a broken
checker fails the suite instead of being skipped.

Helpers: expect() (status + error code, loud on mismatch), login(),
make_tenant() (a tenant with one user and one logged-in client per role),
unique() names.
"""
import itertools
import time
import json as jsonlib
import secrets
from pathlib import Path

import requests

_CHECKER = Path(__file__).with_name("openapi_check.py")
if _CHECKER.exists():
    import openapi_check  # noqa: E402 — errors here must fail the suite

    _validate_response = openapi_check.validate_response
else:
    _validate_response = None

ROLES = ("admin", "developer", "viewer", "auditor")
_NO_BODY = object()
_counter = itertools.count(1)
_RUN = secrets.token_hex(2)


def validation_enabled():
    return _validate_response is not None


def unique(prefix="t"):
    """A fresh name valid as tenant slug, database/collection name and username."""
    return f"{prefix}-{_RUN}{next(_counter):04d}"


def new_password():
    return "pw-" + secrets.token_hex(10)


def body_of(resp):
    """The response body: parsed JSON, text, or None when empty."""
    if not resp.content:
        return None
    ctype = resp.headers.get("Content-Type", "")
    if "json" in ctype:
        try:
            return resp.json()
        except ValueError:
            return resp.text
    return resp.text


def describe(resp, limit=3000):
    req = resp.request
    body = req.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    body = "" if body is None else str(body)
    if len(body) > limit:
        body = body[:limit] + f"... ({len(body)} chars)"
    text = resp.text
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text)} chars)"
    return (f"request:  {req.method} {req.url}\n"
            f"          X-Request-Id: {req.headers.get('X-Request-Id')}\n"
            f"          body: {body}\n"
            f"response: {resp.status_code} {dict(resp.headers)}\n"
            f"          body: {text}")


def check_error_shape(resp):
    """Every error is {"error": {"code": str, "message": non-empty str}} in JSON."""
    try:
        b = resp.json()
    except ValueError:
        raise AssertionError("error response is not JSON\n" + describe(resp))
    ok = (isinstance(b, dict) and set(b) == {"error"} and isinstance(b["error"], dict)
          and isinstance(b["error"].get("code"), str)
          and isinstance(b["error"].get("message"), str) and b["error"]["message"].strip())
    assert ok, "error body is not {\"error\": {\"code\", \"message\"}}\n" + describe(resp)
    return b["error"]


def expect(resp, status, code=None):
    """Asserts the status (and error code); returns the parsed body (None if empty)."""
    got_code = None
    if resp.status_code >= 400:
        got_code = check_error_shape(resp)["code"]
    if resp.status_code != status or (code is not None and got_code != code):
        want = f"{status} {code or ''}".strip()
        raise AssertionError(f"expected {want}, got {resp.status_code} {got_code or ''}\n"
                             + describe(resp))
    if status == 204:
        assert not resp.content, "204 with a body\n" + describe(resp)
    return body_of(resp)


def error_of(resp):
    return check_error_shape(resp)


class Client:
    """REST client bound to a server (or URL) and an optional bearer credential."""

    def __init__(self, server, token=None, session=None):
        self.server = server
        self.token = token
        self.session = session or requests.Session()
        self.last_request_id = None

    @property
    def base(self):
        return self.server if isinstance(self.server, str) else self.server.url

    def with_token(self, token):
        return Client(self.server, token)

    def anonymous(self):
        return Client(self.server, None)

    # -------------------------------------------------------------- core --
    def request(self, method, path, json=_NO_BODY, data=None, headers=None, params=None,
                request_id=None, auth=True, timeout=60):
        """Sends one request; validates the response against the OpenAPI document."""
        h = {}
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if request_id is not None:
            h["X-Request-Id"] = request_id
        if json is not _NO_BODY:
            data = jsonlib.dumps(json, allow_nan=True).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        resp = self.session.request(method, self.base + path, data=data, headers=h,
                                    params=params, timeout=timeout)
        self.last_request_id = resp.headers.get("X-Request-Id")
        validate(method, path, resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=_NO_BODY, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=_NO_BODY, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def put(self, path, json=_NO_BODY, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def call(self, method, path, body=_NO_BODY, status=200, code=None, **kw):
        """request() + expect(): returns the parsed body."""
        return expect(self.request(method, path, json=body, **kw), status, code)

    # ----------------------------------------------------------- helpers --
    def list_all(self, path, limit=1000, params=None):
        """Follows the cursor to the end; returns every item."""
        items, after = [], None
        for _ in range(100000):
            p = dict(params or {})
            p["limit"] = limit
            if after is not None:
                p["after"] = after
            page = self.call("GET", path, params=p)
            assert set(page) >= {"items", "next"}, f"list answer without items/next: {page}"
            items.extend(page["items"])
            after = page["next"]
            if after is None:
                return items
        raise AssertionError(f"list {path} never ended")

    def whoami(self):
        return self.call("GET", "/v1/auth/whoami")


def validate(method, path, resp):
    if _validate_response is None:
        return
    path_only = path.split("?", 1)[0]
    _validate_response(method, path_only, resp.status_code, body_of(resp), headers=resp.headers)


def login(server, username, password, tenant=None, request_id=None):
    """Logs in (200 expected) and returns a Client holding the session token."""
    c = Client(server)
    body = {"username": username, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    s = c.call("POST", "/v1/auth/login", body, request_id=request_id)
    assert s["token"].startswith("as_"), s
    c.token = s["token"]
    c.login = s
    return c


def login_response(server, username, password, tenant=None, request_id=None):
    """The raw response of one login attempt."""
    body = {"username": username, "password": password}
    if tenant is not None:
        body["tenant"] = tenant
    return Client(server).post("/v1/auth/login", body, request_id=request_id)


# --------------------------------------------------------------- tenants --

class Tenant:
    """A tenant with one user and one logged-in client per role."""

    def __init__(self, server, sysadmin, record):
        self.server = server
        self.sys = sysadmin
        self.record = record
        self.slug = record["slug"]
        self.users = {}    # role -> {"username", "password", "record"}
        self.clients = {}  # role -> Client

    def __getattr__(self, role):
        clients = self.__dict__.get("clients")
        if clients is not None and role in ROLES:
            return clients[role]
        raise AttributeError(role)

    @property
    def path(self):
        return f"/v1/tenants/{self.slug}"

    def db_path(self, db):
        return f"{self.path}/databases/{db}"

    def coll_path(self, db, coll):
        return f"{self.path}/databases/{db}/collections/{coll}"

    def add_user(self, role, by=None, username=None, password=None):
        by = by or self.clients.get("admin") or self.sys
        username = username or unique(role[:3])
        password = password or new_password()
        rec = by.call("POST", f"{self.path}/users",
                      {"username": username, "role": role, "password": password}, status=201)
        self.users.setdefault(role, {"username": username, "password": password, "record": rec})
        return username, password, rec

    def login(self, username, password):
        return login(self.server, username, password, tenant=self.slug)

    def create_db(self, name=None, by=None):
        name = name or unique("db")
        (by or self.admin).call("POST", f"{self.path}/databases", {"name": name}, status=201)
        return name

    def create_collection(self, db, name=None, dimension=4, metric="cosine", by=None, **extra):
        name = name or unique("c")
        body = {"name": name, "dimension": dimension, "metric": metric}
        body.update(extra)
        return (by or self.admin).call("POST", f"{self.db_path(db)}/collections", body,
                                       status=201)

    def upsert(self, db, coll, points, by=None):
        return (by or self.admin).call("POST", f"{self.coll_path(db, coll)}/points",
                                       {"points": points})

    def count(self, db, coll, by=None):
        return (by or self.admin).call("GET", f"{self.coll_path(db, coll)}/count")["count"]


def make_tenant(server, sysadmin, slug=None, quotas=None, roles=ROLES, name=None):
    """Creates a tenant, an admin user (by the system admin), the other roles'
    users (by that admin) and logs every one of them in."""
    slug = slug or unique("tn")
    body = {"slug": slug, "name": name or f"Tenant {slug}"}
    if quotas:
        body["quotas"] = quotas
    rec = sysadmin.call("POST", "/v1/tenants", body, status=201)
    t = Tenant(server, sysadmin, rec)
    for role in ("admin",) + tuple(r for r in roles if r != "admin"):
        username, password, _ = t.add_user(role, by=sysadmin if role == "admin" else t.admin)
        t.clients[role] = t.login(username, password)
    return t


# ---------------------------------------------------------------- helpers --

def wait_until(fn, what, timeout=60):
    """Polls fn until true; failing means it never happened (a hang)."""
    t0 = time.monotonic()
    while not fn():
        assert time.monotonic() - t0 < timeout, f"never happened: {what}"
        time.sleep(0.05)


def gaussian_points(dim, start, n, seed):
    """Points p<start>..p<start+n-1>: seeded Gaussian float32 vectors and a
    payload {"n": i}."""
    import numpy as np
    rng = np.random.default_rng(seed + start)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return [{"id": f"p{start + i}", "vector": v[i].tolist(), "payload": {"n": start + i}}
            for i in range(n)]
