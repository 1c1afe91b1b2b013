"""
tests/integration/access_tables.py — the access tables both transports are
tested against, written from docs/rest-api.md independently of the server:

  * the role matrix (test_roles.py over REST, test_grpc_admin.py over
    gRPC): GRANTS (action × role), allowed(), RoleEnv (tenant A with one
    user per role and objects to act on) and CASES, every route with the
    action and scope it needs and how to call it over REST;
  * tenant isolation (test_isolation.py, test_grpc_admin.py): ROUTES, every
    route with a {tenant} parameter and a valid body; GHOST names that
    never exist; fill/render/normalise to substitute names; make_pair()
    (tenant A and tenant B with data), principals() (A's users and an API
    key) and tenant_state() (everything of B a request could change).

A REST case names its route; the gRPC tests map each one to its rpc and
fail when a case has no mapping, so a route added here is tested over both.
"""
import json

import client as cl
from client import make_tenant, unique

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
    "embed":             "-AAA-",
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


class RoleEnv:
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
        ("text search", "search", None,
         lambda e, r: (e.client(r), "POST", p(e, C + "/search"), {"mode": "text", "text": "x"},
                       200)),
        ("hybrid search", "search", None,
         lambda e, r: (e.client(r), "POST", p(e, C + "/search"),
                       {"mode": "hybrid", "vector": [1, 2, 3], "text": "x", "k": 2}, 200)),
        ("embeddings", "embed", None,
         lambda e, r: (e.client(r), "POST", "/v1/embeddings",
                       {"model": "akidb-builtin-v1", "input": "wind tunnel"}, 200)),
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


# ------------------------------------------------------------ isolation --

GHOST_SLUG = "ghost-tenant-that-never-existed"
GHOST = {"db": "ghostdb", "coll": "ghostcoll", "user": "ghostuser",
         "key": "01890000-0000-7000-8000-0000000000aa", "point": "ghostpoint"}

# Every route with {tenant}: (method, template, body). Bodies are valid, so
# the only reason to refuse is the tenant.
ROUTES = [
    ("GET", "/v1/tenants/{t}", None),
    ("PATCH", "/v1/tenants/{t}", {"name": "hijacked"}),
    ("PATCH", "/v1/tenants/{t}", {"status": "suspended"}),
    ("PATCH", "/v1/tenants/{t}", {"quotas": {"max_qps": 1}}),
    ("DELETE", "/v1/tenants/{t}", None),
    ("GET", "/v1/tenants/{t}/databases", None),
    ("POST", "/v1/tenants/{t}/databases", {"name": "newdb"}),
    ("GET", "/v1/tenants/{t}/databases/{db}", None),
    ("DELETE", "/v1/tenants/{t}/databases/{db}", None),
    ("GET", "/v1/tenants/{t}/databases/{db}/collections", None),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections", {"name": "newc", "dimension": 4}),
    ("GET", "/v1/tenants/{t}/databases/{db}/collections/{coll}", None),
    ("PATCH", "/v1/tenants/{t}/databases/{db}/collections/{coll}", {"index": {"ef_search": 33}}),
    ("DELETE", "/v1/tenants/{t}/databases/{db}/collections/{coll}", None),
    ("GET", "/v1/tenants/{t}/databases/{db}/collections/{coll}/count", None),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections/{coll}/points",
     {"points": [{"id": "intruder", "vector": [1, 2, 3, 4], "payload": {"x": 1}}]}),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections/{coll}/points/get",
     {"ids": ["{point}"]}),
    ("GET", "/v1/tenants/{t}/databases/{db}/collections/{coll}/points", None),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections/{coll}/points/delete",
     {"ids": ["{point}"]}),
    ("GET", "/v1/tenants/{t}/databases/{db}/collections/{coll}/points/{point}", None),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections/{coll}/search",
     {"vector": [1, 0, 0, 0], "k": 3}),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections/{coll}/search",
     {"mode": "text", "text": "anything", "k": 3}),
    ("POST", "/v1/tenants/{t}/databases/{db}/collections/{coll}/search",
     {"mode": "hybrid", "vector": [1, 0, 0, 0], "text": "anything", "k": 3}),
    ("GET", "/v1/tenants/{t}/users", None),
    ("POST", "/v1/tenants/{t}/users",
     {"username": "intruder", "role": "admin", "password": "intruder-password-1"}),
    ("GET", "/v1/tenants/{t}/users/{user}", None),
    ("PATCH", "/v1/tenants/{t}/users/{user}", {"status": "disabled"}),
    ("PATCH", "/v1/tenants/{t}/users/{user}", {"password": "intruder-password-2"}),
    ("PATCH", "/v1/tenants/{t}/users/{user}", {"role": "viewer"}),
    ("DELETE", "/v1/tenants/{t}/users/{user}", None),
    ("GET", "/v1/tenants/{t}/users/{user}/keys", None),
    ("POST", "/v1/tenants/{t}/users/{user}/keys", {"name": "stolen"}),
    ("DELETE", "/v1/tenants/{t}/users/{user}/keys/{key}", None),
    ("GET", "/v1/tenants/{t}/audit", None),
]


def fill(obj, names):
    if obj is None:
        return None
    text = json.dumps(obj)
    for k, v in names.items():
        text = text.replace("{" + k + "}", v)
    return json.loads(text)


def render(template, names):
    out = template
    for k, v in names.items():
        out = out.replace("{" + k + "}", v)
    return out


def normalise(message, names):
    """The message with every concrete name replaced by its placeholder."""
    for k, v in sorted(names.items(), key=lambda kv: -len(kv[1])):
        message = message.replace(v, "<" + k + ">")
    return message


def make_pair(server, sysadmin):
    """Tenant A (every role) and tenant B with a database, a collection of
    two points and a developer's API key; the names of B's things."""
    a = make_tenant(server, sysadmin)
    b = make_tenant(server, sysadmin, roles=("admin", "developer"))
    db = b.create_db()
    coll = b.create_collection(db, dimension=4, metric="l2")["name"]
    b.upsert(db, coll, [{"id": "p1", "vector": [1, 0, 0, 0], "payload": {"secret": "b-data"}},
                        {"id": "p2", "vector": [0, 1, 0, 0], "payload": {"secret": "more"}}])
    dev = b.users["developer"]["username"]
    key = b.developer.call("POST", f"{b.path}/users/{dev}/keys", {"name": "bkey"}, status=201)
    names = {"t": b.slug, "db": db, "coll": coll, "user": dev, "key": key["key"]["id"],
             "point": "p1"}
    return a, b, names


def tenant_state(b, names):
    """Everything of B that a request could have changed."""
    volatile = {"memory_bytes", "disk_bytes", "pending", "last_access"}
    t = b.sys.call("GET", b.path)
    dbs = b.admin.list_all(f"{b.path}/databases")
    cols = [{k: v for k, v in c.items() if k not in volatile}
            for c in b.admin.list_all(f"{b.db_path(names['db'])}/collections")]
    base = b.coll_path(names["db"], names["coll"])
    count = b.admin.call("GET", f"{base}/count")
    pts = b.admin.call("POST", f"{base}/points/get",
                       {"ids": ["p1", "p2", "intruder"], "with_vector": True})
    users = b.admin.list_all(f"{b.path}/users")
    keys = [{k: v for k, v in key.items() if k != "last_used_at"}
            for key in b.admin.list_all(f"{b.path}/users/{names['user']}/keys")]
    return {"tenant": t, "dbs": dbs, "cols": cols, "count": count, "points": pts,
            "users": users, "keys": keys}


def principals(a):
    out = [(role, a.clients[role]) for role in cl.ROLES]
    secret = a.admin.call("POST", f"{a.path}/users/{a.users['admin']['username']}/keys",
                          {"name": "iso"}, status=201)["secret"]
    out.append(("admin-api-key", a.admin.with_token(secret)))
    return out
