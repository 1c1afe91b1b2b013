"""
Tenant isolation: for every route with a {tenant} parameter, every principal
of tenant A (each role, sessions and an API key) that names tenant B — or
anything in it — gets exactly the answer it would get if B did not exist:
404 not_found, with the same error code and message once the names are
substituted. Names that exist in B and names that do not must be
indistinguishable. Afterwards nothing in B has changed.
"""
import json

import pytest

import client as cl
from client import expect, make_tenant

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


@pytest.fixture(scope="module")
def tenants(server, sysadmin):
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


def snapshot(b, names):
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


def test_foreign_tenant_is_indistinguishable_from_a_missing_one(tenants):
    a, b, names = tenants
    before = snapshot(b, names)
    ghost_names = dict(GHOST, t=GHOST_SLUG)
    b_ghost_names = dict(GHOST, t=b.slug)
    variants = [
        ("B, existing names", names),
        ("B, missing names", b_ghost_names),
        ("missing tenant, B's names", dict(names, t=GHOST_SLUG)),
        ("missing tenant, missing names", ghost_names),
    ]
    failures = []
    for role, c in principals(a):
        for method, template, body in ROUTES:
            answers = []
            for label, nm in variants:
                path = render(template, nm)
                r = c.request(method, path, json=fill(body, nm) if body is not None else
                              cl._NO_BODY)
                if r.status_code != 404:
                    failures.append(f"[{role}] {method} {path} ({label}): expected 404 not_found, "
                                    f"got {r.status_code} {r.text[:300]}")
                    continue
                err = cl.error_of(r)
                answers.append((label, err["code"], normalise(err["message"], nm),
                                r.headers.get("Allow"), r.headers.get("Retry-After")))
            distinct = {x[1:] for x in answers}
            if len(distinct) > 1:
                failures.append(f"[{role}] {method} {template}: answers differ:\n    "
                                + "\n    ".join(repr(x) for x in answers))
            for x in answers:
                if x[1] != "not_found":
                    failures.append(f"[{role}] {method} {template} ({x[0]}): code {x[1]}")
    assert not failures, f"{len(failures)} isolation failures:\n" + "\n".join(failures[:60])
    after = snapshot(b, names)
    assert after == before, ("tenant B changed:\nbefore: " + json.dumps(before, indent=1)[:3000]
                             + "\nafter: " + json.dumps(after, indent=1)[:3000])


def test_foreign_tenant_is_absent_from_lists(tenants):
    a, b, names = tenants
    # A's own lists never show B's objects, whatever the role.
    for role in ("admin", "developer", "viewer"):
        dbs = a.clients[role].list_all(f"{a.path}/databases")
        assert all(d.get("tenant") in (a.slug, a.record["id"]) for d in dbs), dbs
    for role in ("admin", "auditor"):
        entries = a.clients[role].list_all(f"{a.path}/audit")
        leaked = [e for e in entries if e.get("tenant") not in (a.slug, a.record["id"])]
        assert not leaked, f"B's audit entries visible to A's {role}: {leaked[:5]}"
    # Nobody but the system admin may read the whole audit log.
    for role in cl.ROLES:
        expect(a.clients[role].get("/v1/audit"), 403, "permission_denied")
    # Tenant listing is for the system admin only.
    for role in cl.ROLES:
        expect(a.clients[role].get("/v1/tenants"), 403, "permission_denied")


def test_login_into_foreign_tenant_fails_like_a_wrong_password(server, tenants):
    a, b, names = tenants
    # A's admin credentials presented for tenant B: a failed login, no hint.
    u = a.users["admin"]
    r1 = cl.login_response(server, u["username"], u["password"], tenant=b.slug)
    r2 = cl.login_response(server, u["username"], u["password"], tenant=GHOST_SLUG)
    e1, e2 = expect(r1, 401, "unauthenticated"), expect(r2, 401, "unauthenticated")
    assert normalise(e1["error"]["message"], {"t": b.slug}) == \
        normalise(e2["error"]["message"], {"t": GHOST_SLUG}), (e1, e2)
