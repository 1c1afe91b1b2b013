"""
Role matrix: every route × every role (system admin, admin, developer,
viewer, auditor), allowed (the documented success status) or refused
(403 permission_denied), exactly as the role table of docs/rest-api.md says.
The expected table below is written from the document, independently of the
server's own table (src/auth/authz.c).

Grants: A = on everything of the tenant, O = on the principal's own user
only, - = refused. A route acting on a user ("own"/"other") is run both ways.
"""
import pytest

import client as cl
from client import expect, make_tenant, unique

ROLE_NAMES = ("system-admin", "admin", "developer", "viewer", "auditor")

#                     sys  adm  dev  vie  aud
GRANTS = {
    "tenant.create":     "A----",
    "tenant.list":       "A----",
    "tenant.update":     "A----",
    "tenant.status":     "A----",
    "tenant.quota":      "A----",
    "tenant.delete":     "A----",
    "tenant.read":       "AAAAA",
    "database.create":   "-AA--",
    "database.delete":   "-AA--",
    "database.read":     "AAAA-",
    "collection.create": "-AA--",
    "collection.update": "-AA--",
    "collection.delete": "-AA--",
    "collection.read":   "AAAA-",
    "point.write":       "-AA--",
    "point.read":        "-AAA-",
    "search":            "-AAA-",
    "user.create":       "AA---",
    "user.delete":       "AA---",
    "user.role":         "AA---",
    "user.read":         "AAOOO",
    "user.update":       "AAOOO",
    "apikey.read":       "AAOOO",
    "apikey.create":     "OAOOO",
    "apikey.revoke":     "AAOOO",
    "audit.read":        "AA--A",
    "audit.all":         "A----",   # GET /v1/audit: system admin only
    "any":               "AAAAA",   # whoami, logout
}


def allowed(action, role, scope):
    g = GRANTS[action][ROLE_NAMES.index(role)]
    return g == "A" or (g == "O" and scope == "own")


class Env:
    """Tenant A with one user per role, fixed objects to act on, and makers
    of throwaway objects for the destructive routes."""

    def __init__(self, server, sysadmin):
        self.server = server
        self.sys = sysadmin
        self.t = make_tenant(server, sysadmin)
        t = self.t
        self.db = t.create_db()
        self.coll = t.create_collection(self.db, dimension=3, metric="l2")["name"]
        t.upsert(self.db, self.coll, [{"id": "p1", "vector": [1, 2, 3], "payload": {"a": 1}},
                                      {"id": "p2", "vector": [3, 2, 1]}])
        self.victim, self.victim_pw, _ = t.add_user("viewer", username=unique("vic"))

    def client(self, role):
        return self.sys if role == "system-admin" else self.t.clients[role]

    def username(self, role):
        return self.t.users[role]["username"]

    # throwaway objects, made by the tenant admin (or the system admin)
    def fresh_db(self):
        return self.t.create_db()

    def fresh_coll(self):
        return self.t.create_collection(self.db, dimension=3)["name"]

    def fresh_user(self, role="viewer"):
        name = unique("fu")
        pw = cl.new_password()
        self.t.admin.call("POST", f"{self.t.path}/users",
                          {"username": name, "role": role, "password": pw}, status=201)
        return name, pw

    def fresh_principal(self, role):
        """A second user of `role`, logged in, for routes that change the caller."""
        if role == "system-admin":
            return self.server.login_admin(), None
        name, pw = self.fresh_user(role)
        return self.t.login(name, pw), name

    def fresh_key(self, username):
        return self.t.admin.call("POST", f"{self.t.path}/users/{username}/keys",
                                 {"name": "k"}, status=201)["key"]["id"]

    def fresh_tenant(self):
        slug = unique("tt")
        self.sys.call("POST", "/v1/tenants", {"slug": slug, "name": "t"}, status=201)
        return slug


# Each case: (name, action, scope, build) where build(env, role) returns
# (client, method, path, body, success_status) or None when the case does not
# apply to the role (a system admin has no user of its own in a tenant).
def _cases():
    T = "/v1/tenants/{t}"
    D = T + "/databases/{db}"
    C = D + "/collections/{coll}"
    U = T + "/users"

    def p(e, tmpl, **kw):
        return tmpl.format(t=e.t.slug, db=e.db, coll=e.coll, **kw)

    def own_target(e, role):
        return None if role == "system-admin" else e.username(role)

    def tenant_for(e, role):
        # The system admin must not suspend or delete tenant A itself.
        return e.fresh_tenant() if role == "system-admin" else e.t.slug

    return [
        # tenants
        ("list tenants", "tenant.list", None,
         lambda e, r: (e.client(r), "GET", "/v1/tenants", None, 200)),
        ("create tenant", "tenant.create", None,
         lambda e, r: (e.client(r), "POST", "/v1/tenants", {"slug": unique("nt"), "name": "n"},
                       201)),
        ("read tenant", "tenant.read", None,
         lambda e, r: (e.client(r), "GET", p(e, T), None, 200)),
        ("rename tenant", "tenant.update", None,
         lambda e, r: (e.client(r), "PATCH", p(e, T), {"name": "Renamed"}, 200)),
        ("suspend tenant", "tenant.status", None,
         lambda e, r: (e.client(r), "PATCH", f"/v1/tenants/{tenant_for(e, r)}",
                       {"status": "suspended"}, 200)),
        ("tenant quotas", "tenant.quota", None,
         lambda e, r: (e.client(r), "PATCH", f"/v1/tenants/{tenant_for(e, r)}",
                       {"quotas": {"max_qps": 0, "max_collections": 100}}, 200)),
        ("delete tenant", "tenant.delete", None,
         lambda e, r: (e.client(r), "DELETE", f"/v1/tenants/{tenant_for(e, r)}", None, 204)),
        # databases
        ("list databases", "database.read", None,
         lambda e, r: (e.client(r), "GET", p(e, T + "/databases"), None, 200)),
        ("get database", "database.read", None,
         lambda e, r: (e.client(r), "GET", p(e, D), None, 200)),
        ("create database", "database.create", None,
         lambda e, r: (e.client(r), "POST", p(e, T + "/databases"), {"name": unique("db")}, 201)),
        ("delete database", "database.delete", None,
         lambda e, r: (e.client(r), "DELETE", p(e, T + "/databases/") + e.fresh_db(), None, 204)),
        # collections
        ("list collections", "collection.read", None,
         lambda e, r: (e.client(r), "GET", p(e, D + "/collections"), None, 200)),
        ("get collection", "collection.read", None,
         lambda e, r: (e.client(r), "GET", p(e, C), None, 200)),
        ("create collection", "collection.create", None,
         lambda e, r: (e.client(r), "POST", p(e, D + "/collections"),
                       {"name": unique("c"), "dimension": 3}, 201)),
        ("patch collection", "collection.update", None,
         lambda e, r: (e.client(r), "PATCH", p(e, C), {"index": {"ef_search": 64}}, 200)),
        ("delete collection", "collection.delete", None,
         lambda e, r: (e.client(r), "DELETE", p(e, D + "/collections/") + e.fresh_coll(), None,
                       204)),
        # points and search
        ("count", "point.read", None,
         lambda e, r: (e.client(r), "GET", p(e, C + "/count"), None, 200)),
        ("get point", "point.read", None,
         lambda e, r: (e.client(r), "GET", p(e, C + "/points/p1"), None, 200)),
        ("get points", "point.read", None,
         lambda e, r: (e.client(r), "POST", p(e, C + "/points/get"), {"ids": ["p1"]}, 200)),
        ("scan points", "point.read", None,
         lambda e, r: (e.client(r), "GET", p(e, C + "/points?limit=2"), None, 200)),
        ("upsert", "point.write", None,
         lambda e, r: (e.client(r), "POST", p(e, C + "/points"),
                       {"points": [{"id": "w-" + r, "vector": [1, 1, 1]}]}, 200)),
        ("delete points", "point.write", None,
         lambda e, r: (e.client(r), "POST", p(e, C + "/points/delete"), {"ids": ["nope"]}, 200)),
        ("search", "search", None,
         lambda e, r: (e.client(r), "POST", p(e, C + "/search"), {"vector": [1, 2, 3], "k": 2},
                       200)),
        # users
        ("list users", "user.read", "list",
         lambda e, r: (e.client(r), "GET", p(e, U), None, 200)),
        ("create user", "user.create", None,
         lambda e, r: (e.client(r), "POST", p(e, U),
                       {"username": unique("nu"), "role": "viewer",
                        "password": cl.new_password()}, 201)),
        ("get own user", "user.read", "own",
         lambda e, r: None if r == "system-admin" else
         (e.client(r), "GET", p(e, U + "/{u}", u=own_target(e, r)), None, 200)),
        ("get other user", "user.read", "other",
         lambda e, r: (e.client(r), "GET", p(e, U + "/{u}", u=e.victim), None, 200)),
        ("change own password", "user.update", "own",
         lambda e, r: None if r == "system-admin" else
         (lambda c, name: (c, "PATCH", p(e, U + "/{u}", u=name),
                           {"password": cl.new_password()}, 200))(*e.fresh_principal(r))),
        ("change other's password", "user.update", "other",
         lambda e, r: (e.client(r), "PATCH", p(e, U + "/{u}", u=e.victim),
                       {"password": cl.new_password()}, 200)),
        ("change own role", "user.role", "own",
         lambda e, r: None if r == "system-admin" else
         (lambda c, name: (c, "PATCH", p(e, U + "/{u}", u=name),
                           {"role": "viewer" if r != "viewer" else "auditor"}, 200))(
             *e.fresh_principal(r))),
        ("change other's role", "user.role", "other",
         lambda e, r: (e.client(r), "PATCH", p(e, U + "/{u}", u=e.victim), {"role": "viewer"},
                       200)),
        ("delete own user", "user.delete", "own",
         lambda e, r: None if r == "system-admin" else
         (lambda c, name: (c, "DELETE", p(e, U + "/{u}", u=name), None, 204))(
             *e.fresh_principal(r))),
        ("delete other user", "user.delete", "other",
         lambda e, r: (e.client(r), "DELETE", p(e, U + "/{u}", u=e.fresh_user()[0]), None, 204)),
        # API keys
        ("list own keys", "apikey.read", "own",
         lambda e, r: None if r == "system-admin" else
         (e.client(r), "GET", p(e, U + "/{u}/keys", u=own_target(e, r)), None, 200)),
        ("list other's keys", "apikey.read", "other",
         lambda e, r: (e.client(r), "GET", p(e, U + "/{u}/keys", u=e.victim), None, 200)),
        ("create own key", "apikey.create", "own",
         lambda e, r: None if r == "system-admin" else
         (e.client(r), "POST", p(e, U + "/{u}/keys", u=own_target(e, r)), {"name": "mine"}, 201)),
        ("create other's key", "apikey.create", "other",
         lambda e, r: (e.client(r), "POST", p(e, U + "/{u}/keys", u=e.victim), {"name": "x"},
                       201)),
        ("revoke own key", "apikey.revoke", "own",
         lambda e, r: None if r == "system-admin" else
         (e.client(r), "DELETE", p(e, U + "/{u}/keys/{k}", u=own_target(e, r),
                                   k=e.fresh_key(own_target(e, r))), None, 204)),
        ("revoke other's key", "apikey.revoke", "other",
         lambda e, r: (e.client(r), "DELETE", p(e, U + "/{u}/keys/{k}", u=e.victim,
                                                k=e.fresh_key(e.victim)), None, 204)),
        # audit
        ("tenant audit", "audit.read", None,
         lambda e, r: (e.client(r), "GET", p(e, T + "/audit"), None, 200)),
        ("global audit", "audit.all", None,
         lambda e, r: (e.client(r), "GET", "/v1/audit", None, 200)),
        # any principal
        ("whoami", "any", None,
         lambda e, r: (e.client(r), "GET", "/v1/auth/whoami", None, 200)),
        ("logout", "any", None,
         lambda e, r: (e.fresh_principal(r)[0], "POST", "/v1/auth/logout", None, 204)),
    ]


CASES = _cases()


@pytest.fixture(scope="module")
def env(server, sysadmin):
    return Env(server, sysadmin)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_role_matrix(env, role):
    failures = []
    ran = 0
    for name, action, scope, build in CASES:
        spec = build(env, role)
        if spec is None:
            continue
        ran += 1
        c, method, path, body, ok_status = spec
        r = c.request(method, path, json=body) if body is not None else c.request(method, path)
        want_ok = allowed(action, role, scope)
        if want_ok:
            if r.status_code != ok_status:
                failures.append(f"{name} ({action}, {scope or 'all'}): {method} {path} should be "
                                f"allowed ({ok_status}), got {r.status_code} {r.text[:300]}")
        else:
            code = None
            if r.status_code >= 400:
                code = cl.error_of(r)["code"]
            if (r.status_code, code) != (403, "permission_denied"):
                failures.append(f"{name} ({action}, {scope or 'all'}): {method} {path} should be "
                                f"refused (403 permission_denied), got {r.status_code} "
                                f"{r.text[:300]}")
    assert ran >= 35
    assert not failures, f"role {role}: {len(failures)} wrong decisions:\n" + "\n".join(failures)


def test_expected_table_matches_the_document():
    """Guards the hand-written table above against a typo: it says what the
    document's role table says for a few characteristic cells."""
    assert allowed("tenant.read", "auditor", None)
    assert not allowed("point.read", "system-admin", None)
    assert allowed("database.read", "system-admin", None)
    assert not allowed("audit.read", "viewer", None)
    assert allowed("apikey.create", "viewer", "own") and not allowed("apikey.create", "viewer",
                                                                     "other")
    assert not allowed("apikey.create", "system-admin", "other")


def test_tenant_admin_cannot_make_system_admins(env):
    t = env.t
    r = t.admin.post(f"{t.path}/users", {"username": unique("sa"), "role": "system-admin",
                                         "password": cl.new_password()})
    assert r.status_code in (400, 403), cl.describe(r)
    expect(t.admin.patch(f"{t.path}/users/{env.victim}", {"role": "system-admin"}),
           r.status_code, cl.error_of(r)["code"])
    assert t.admin.call("GET", f"{t.path}/users/{env.victim}")["role"] == "viewer"
