"""
Tenant quotas and status: the collection-count, storage and memory quotas
refuse the request with 403 quota_exceeded (naming the quota and its limit)
and write nothing; the QPS quota answers 429 rate_limited with Retry-After;
a suspended tenant's principals are refused (403) while the system admin can
still manage it, and reactivation restores access.
"""
import time

import numpy as np

import client as cl
from client import expect, make_tenant, unique


def wait_pending_zero(c, path, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        g = c.call("GET", path)
        if g["pending"] == 0:
            return g
        assert time.monotonic() < deadline, f"pending never reached 0: {g}"
        time.sleep(0.05)


def quota_refused(resp, quota, limit):
    body = expect(resp, 403, "quota_exceeded")
    msg = body["error"]["message"]
    assert quota in msg, f"message should name the quota {quota!r}: {msg!r}"
    assert str(limit) in msg, f"message should give the limit {limit}: {msg!r}"
    return msg


def test_collection_count_quota(server, sysadmin):
    t = make_tenant(server, sysadmin, quotas={"max_collections": 2}, roles=("admin", "developer"))
    db1, db2 = t.create_db(), t.create_db()
    t.create_collection(db1)
    c2 = t.create_collection(db2, by=t.developer)["name"]
    for db in (db1, db2):
        quota_refused(t.developer.post(f"{t.db_path(db)}/collections",
                                       {"name": unique("c"), "dimension": 4}),
                      "max_collections", 2)
    n = sum(len(t.admin.list_all(f"{t.db_path(db)}/collections")) for db in (db1, db2))
    assert n == 2
    expect(t.admin.delete(t.coll_path(db2, c2)), 204)
    t.create_collection(db2)
    quota_refused(t.admin.post(f"{t.db_path(db1)}/collections",
                               {"name": unique("c"), "dimension": 4}), "max_collections", 2)
    sysadmin.call("PATCH", t.path, {"quotas": {"max_collections": 3}})
    t.create_collection(db1)
    quota_refused(t.admin.post(f"{t.db_path(db1)}/collections",
                               {"name": unique("c"), "dimension": 4}), "max_collections", 3)
    sysadmin.call("PATCH", t.path, {"quotas": {"max_collections": 0}})  # 0 = unlimited
    t.create_collection(db1)


def big_batch(n, dim, seed, prefix):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return [{"id": f"{prefix}{i}", "vector": v[i].tolist(), "payload": {"pad": "x" * 100, "i": i}}
            for i in range(n)]


def _byte_quota(server, sysadmin, quota, figure, slack, n_big, dim):
    t = make_tenant(server, sysadmin, roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=dim, metric="l2")["name"]
    path = t.coll_path(db, coll)
    t.upsert(db, coll, big_batch(10, dim, 1, "s"))
    g = wait_pending_zero(t.admin, path)
    limit = g[figure] + slack
    sysadmin.call("PATCH", t.path, {"quotas": {quota: limit}})
    assert sysadmin.call("GET", t.path)["quotas"][quota] == limit
    # Small writes within the quota still pass.
    assert t.upsert(db, coll, big_batch(1, dim, 2, "ok"))["upserted"] == 1
    before = t.count(db, coll)
    pts = big_batch(n_big, dim, 3, "big")
    quota_refused(t.admin.post(f"{path}/points", {"points": pts}), quota, limit)
    assert t.count(db, coll) == before
    got = t.admin.call("POST", f"{path}/points/get", {"ids": [p["id"] for p in pts[:: n_big // 10]]})
    assert got["points"] == [], "a refused batch left points behind"
    hits = t.admin.call("POST", f"{path}/search", {"vector": pts[0]["vector"], "k": 50,
                                                  "exact": True})["results"]
    assert not [h for h in hits if h["id"].startswith("big")], hits
    # A new collection does not escape the quota either.
    other = t.create_collection(db, dimension=dim, metric="l2")["name"]
    quota_refused(t.admin.post(f"{t.coll_path(db, other)}/points", {"points": pts}), quota, limit)
    assert t.count(db, other) == 0
    # Raising the quota lets the same batch in.
    sysadmin.call("PATCH", t.path, {"quotas": {quota: 0}})
    assert t.upsert(db, coll, pts)["upserted"] == n_big
    assert t.count(db, coll) == before + n_big


def test_storage_quota_refuses_writes_and_writes_nothing(server, sysadmin):
    _byte_quota(server, sysadmin, "max_storage_bytes", "disk_bytes", 50_000, 2000, 16)


def test_memory_quota_refuses_writes_and_writes_nothing(server, sysadmin):
    _byte_quota(server, sysadmin, "max_memory_bytes", "memory_bytes", 200_000, 4000, 32)


def test_qps_quota_is_429_with_retry_after(server, sysadmin):
    t = make_tenant(server, sysadmin, roles=("admin", "viewer"))
    other = make_tenant(server, sysadmin, roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=2)["name"]
    path = t.coll_path(db, coll)
    t.upsert(db, coll, [{"id": "a", "vector": [1, 2]}])
    sysadmin.call("PATCH", t.path, {"quotas": {"max_qps": 2}})
    statuses, limited = [], None
    for _ in range(40):
        r = t.viewer.post(f"{path}/search", {"vector": [1, 2], "k": 1})
        statuses.append(r.status_code)
        if r.status_code == 429:
            limited = r
            break
        expect(r, 200)
    assert limited is not None, f"40 rapid searches at max_qps=2 were never limited: {statuses}"
    expect(limited, 429, "rate_limited")
    ra = limited.headers.get("Retry-After")
    assert ra and ra.isdigit() and 1 <= int(ra) <= 60, f"Retry-After: {ra!r}"
    assert statuses.count(200) >= 1, statuses
    # Other tenants are not affected, and the system admin still manages it.
    assert other.admin.call("GET", f"{other.path}/databases")["items"] == []
    assert sysadmin.call("GET", t.path)["quotas"]["max_qps"] == 2
    time.sleep(int(ra) + 0.2)
    expect(t.viewer.post(f"{path}/search", {"vector": [1, 2], "k": 1}), 200)
    sysadmin.call("PATCH", t.path, {"quotas": {"max_qps": 0}})
    for _ in range(20):
        expect(t.viewer.post(f"{path}/search", {"vector": [1, 2], "k": 1}), 200)


def test_suspended_tenant_is_refused_and_comes_back(server, sysadmin):
    t = make_tenant(server, sysadmin, roles=("admin", "developer", "viewer", "auditor"))
    db = t.create_db()
    coll = t.create_collection(db, dimension=2)["name"]
    path = t.coll_path(db, coll)
    t.upsert(db, coll, [{"id": "a", "vector": [1, 2], "payload": {"x": 1}}])
    dev = t.users["developer"]
    key = t.developer.call("POST", f"{t.path}/users/{dev['username']}/keys", {"name": "k"},
                           status=201)["secret"]

    assert sysadmin.call("PATCH", t.path, {"status": "suspended"})["status"] == "suspended"
    checks = [("GET", f"{t.path}/databases", None), ("GET", f"{path}/count", None),
              ("POST", f"{path}/search", {"vector": [1, 2]}),
              ("POST", f"{path}/points", {"points": [{"id": "b", "vector": [2, 1]}]}),
              ("POST", f"{t.path}/databases", {"name": unique("db")}),
              ("GET", f"{t.path}/audit", None), ("GET", f"{t.path}/users", None)]
    for role in ("admin", "developer", "viewer", "auditor"):
        c = t.clients[role]
        for method, p, body in checks:
            r = c.request(method, p, json=body) if body is not None else c.request(method, p)
            expect(r, 403, "permission_denied")
    expect(t.developer.with_token(key).get(f"{path}/count"), 403, "permission_denied")
    r = cl.login_response(server, dev["username"], dev["password"], tenant=t.slug)
    expect(r, 403, "permission_denied")

    # The system admin still manages the tenant.
    assert sysadmin.call("GET", t.path)["status"] == "suspended"
    assert [d["name"] for d in sysadmin.list_all(f"{t.path}/databases")] == [db]
    assert sysadmin.call("PATCH", t.path, {"name": "Suspended Co"})["name"] == "Suspended Co"
    u, pw, _ = t.add_user("viewer", by=sysadmin)
    assert u in [x["username"] for x in sysadmin.list_all(f"{t.path}/users")]
    assert any(e["action"] in ("tenant.status_change", "tenant.update")
               for e in sysadmin.list_all(f"{t.path}/audit"))

    assert sysadmin.call("PATCH", t.path, {"status": "active"})["status"] == "active"
    assert t.developer.call("GET", f"{path}/count") == {"count": 1}
    assert t.developer.with_token(key).call("GET", f"{path}/count") == {"count": 1}
    assert t.viewer.call("POST", f"{path}/search", {"vector": [1, 2]})["results"][0]["id"] == "a"
    t.developer.call("POST", f"{path}/points", {"points": [{"id": "b", "vector": [2, 1]}]})
    assert t.developer.call("GET", f"{path}/count") == {"count": 2}
    assert t.login(u, pw).whoami()["user"]["username"] == u


def test_decommissioned_tenant_is_refused(server, sysadmin):
    t = make_tenant(server, sysadmin, roles=("admin",))
    sysadmin.call("PATCH", t.path, {"status": "suspended"})
    sysadmin.call("PATCH", t.path, {"status": "decommissioned"})
    expect(t.admin.get(f"{t.path}/databases"), 403, "permission_denied")
    expect(cl.login_response(server, t.users["admin"]["username"], t.users["admin"]["password"],
                             tenant=t.slug), 403, "permission_denied")
    assert sysadmin.call("GET", t.path)["status"] == "decommissioned"
    expect(sysadmin.delete(t.path), 204)
