"""
Lifecycle of every resource through the REST API (docs/rest-api.md): create,
read back, list with paging, update, delete, and what deleting leaves on disk.
Search answers are compared with brute force (reference.py).
"""
import json
import re
import time
import urllib.parse

import numpy as np
import pytest

import client as cl
from client import expect, make_tenant, unique
from reference import Corpus, check_hits, matches

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UUID7_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SECRET_RE = re.compile(r"^ak_[0-9a-f]{16}_[0-9a-f]{64}$")


def wait_until(fn, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def qid(pid):
    return urllib.parse.quote(pid, safe="")


def pages(c, path, limit, params=None):
    """Every page of a list, each checked for shape and size."""
    out, after = [], None
    for _ in range(10000):
        p = dict(params or {}, limit=limit)
        if after is not None:
            p["after"] = after
        page = c.call("GET", path, params=p)
        assert isinstance(page["items"], list) and len(page["items"]) <= limit, page
        out.append(page["items"])
        after = page["next"]
        if after is None:
            return out
    raise AssertionError("list did not end")


@pytest.fixture(scope="module")
def tenant(server, sysadmin):
    return make_tenant(server, sysadmin)


# ------------------------------------------------------------------ tenants --

def test_tenant_create_get_patch_delete(server, sysadmin):
    slug = unique("tn")
    t = sysadmin.call("POST", "/v1/tenants", {"slug": slug, "name": "Acme Corp"}, status=201)
    assert t["slug"] == slug and t["name"] == "Acme Corp" and t["status"] == "active", t
    assert UUID7_RE.match(t["id"]), t
    assert t["quotas"] == {"max_memory_bytes": 0, "max_storage_bytes": 0, "max_qps": 0,
                           "max_collections": 0}, t
    assert TIME_RE.match(t["created_at"]) and TIME_RE.match(t["updated_at"]), t
    assert sysadmin.call("GET", f"/v1/tenants/{slug}") == t

    expect(sysadmin.post("/v1/tenants", {"slug": slug, "name": "again"}), 409, "already_exists")

    p = sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"name": "Acme Renamed"})
    assert p["name"] == "Acme Renamed" and p["id"] == t["id"] and p["slug"] == slug, p
    assert p["created_at"] == t["created_at"] and p["updated_at"] >= t["updated_at"], p

    p = sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"quotas": {"max_collections": 5}})
    assert p["quotas"] == {"max_memory_bytes": 0, "max_storage_bytes": 0, "max_qps": 0,
                           "max_collections": 5}, p
    p = sysadmin.call("PATCH", f"/v1/tenants/{slug}",
                      {"quotas": {"max_qps": 100, "max_storage_bytes": 1 << 30}})
    assert p["quotas"] == {"max_memory_bytes": 0, "max_storage_bytes": 1 << 30, "max_qps": 100,
                           "max_collections": 5}, p

    assert sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"status": "suspended"})["status"] == "suspended"
    assert sysadmin.call("GET", f"/v1/tenants/{slug}")["status"] == "suspended"
    assert sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"status": "active"})["status"] == "active"
    # Illegal transitions: active -> provisioning, active -> decommissioned.
    expect(sysadmin.patch(f"/v1/tenants/{slug}", {"status": "provisioning"}), 409, "conflict")
    expect(sysadmin.patch(f"/v1/tenants/{slug}", {"status": "decommissioned"}), 409, "conflict")
    got = sysadmin.call("GET", f"/v1/tenants/{slug}")
    assert got["status"] == "active" and got["name"] == "Acme Renamed", got

    expect(sysadmin.delete(f"/v1/tenants/{slug}"), 204)
    expect(sysadmin.get(f"/v1/tenants/{slug}"), 404, "not_found")
    expect(sysadmin.delete(f"/v1/tenants/{slug}"), 404, "not_found")
    assert slug not in [x["slug"] for x in sysadmin.list_all("/v1/tenants")]


def test_tenant_status_provisioning_then_active_then_decommissioned(sysadmin):
    slug = unique("tn")
    t = sysadmin.call("POST", "/v1/tenants",
                      {"slug": slug, "name": "P", "status": "provisioning",
                       "quotas": {"max_qps": 7}}, status=201)
    assert t["status"] == "provisioning" and t["quotas"]["max_qps"] == 7, t
    assert sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"status": "active"})["status"] == "active"
    assert sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"status": "suspended"})["status"] == "suspended"
    assert sysadmin.call("PATCH", f"/v1/tenants/{slug}",
                         {"status": "decommissioned"})["status"] == "decommissioned"
    # decommissioned is terminal
    expect(sysadmin.patch(f"/v1/tenants/{slug}", {"status": "active"}), 409, "conflict")
    assert sysadmin.call("GET", f"/v1/tenants/{slug}")["status"] == "decommissioned"
    expect(sysadmin.delete(f"/v1/tenants/{slug}"), 204)


def test_tenant_list_pages_by_cursor(sysadmin):
    made = [sysadmin.call("POST", "/v1/tenants", {"slug": unique("pg"), "name": "p"},
                          status=201) for _ in range(5)]
    ids = [t["id"] for t in made]
    all_pages = pages(sysadmin, "/v1/tenants", 2)
    flat = [t["id"] for page in all_pages for t in page]
    assert len(flat) == len(set(flat)), f"a tenant listed twice across pages: {flat}"
    positions = [flat.index(i) for i in ids]
    assert positions == sorted(positions), "tenants not listed in creation (id) order"
    assert all(len(p) == 2 for p in all_pages[:-1]), [len(p) for p in all_pages]
    full = sysadmin.call("GET", "/v1/tenants", params={"limit": 1000})
    assert [t["id"] for t in full["items"]] == flat[:1000]
    default = sysadmin.call("GET", "/v1/tenants")
    assert len(default["items"]) == min(100, len(flat)), "default limit is 100"
    for t in made:
        expect(sysadmin.delete(f"/v1/tenants/{t['slug']}"), 204)


def test_deleting_a_tenant_removes_everything(server, sysadmin):
    t = make_tenant(server, sysadmin, roles=("admin", "developer"))
    db = t.create_db()
    cols = [t.create_collection(db, dimension=3) for _ in range(2)]
    for c in cols:
        t.upsert(db, c["name"], [{"id": f"p{i}", "vector": [1.0, i, 2.0]} for i in range(20)])
        assert (server.collections_dir / c["id"]).is_dir(), \
            f"no data directory {server.collections_dir / c['id']} for collection {c['id']}"
    key = t.developer.call("POST", f"{t.path}/users/{t.users['developer']['username']}/keys",
                           {"name": "k"}, status=201)["secret"]

    expect(sysadmin.delete(t.path), 204)
    for c in cols:
        d = server.collections_dir / c["id"]
        wait_until(lambda: not d.exists(), 5, f"{d} to be removed")
    expect(sysadmin.get(t.path), 404, "not_found")
    # Its users, sessions and keys are gone too.
    expect(t.admin.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(t.admin.with_token(key).get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(cl.login_response(server, t.users["admin"]["username"], t.users["admin"]["password"],
                             tenant=t.slug), 401, "unauthenticated")
    # The slug can be used again, and the new tenant is empty.
    sysadmin.call("POST", "/v1/tenants", {"slug": t.slug, "name": "reborn"}, status=201)
    expect(sysadmin.get(f"{t.path}/databases/{db}"), 404, "not_found")
    assert sysadmin.list_all(f"{t.path}/databases") == []
    assert sysadmin.list_all(f"{t.path}/users") == []
    expect(sysadmin.delete(t.path), 204)


# ---------------------------------------------------------------- databases --

def test_database_lifecycle(server, tenant):
    t = tenant
    name = unique("db")
    d = t.admin.call("POST", f"{t.path}/databases", {"name": name}, status=201)
    assert d["name"] == name and UUID7_RE.match(d["id"]) and d["state"] == "ready", d
    assert d["tenant"] in (t.slug, t.record["id"]), d
    assert TIME_RE.match(d["created_at"]) and TIME_RE.match(d["updated_at"]), d
    assert t.admin.call("GET", t.db_path(name)) == d
    assert t.viewer.call("GET", t.db_path(name)) == d
    expect(t.admin.post(f"{t.path}/databases", {"name": name}), 409, "already_exists")

    more = [t.create_db() for _ in range(4)]
    listed = [x["name"] for page in pages(t.admin, f"{t.path}/databases", 2) for x in page]
    assert len(listed) == len(set(listed)), listed
    assert set([name] + more) <= set(listed), (more, listed)

    c = t.create_collection(name, dimension=2)
    t.upsert(name, c["name"], [{"id": "x", "vector": [1.0, 2.0]}])
    assert (server.collections_dir / c["id"]).is_dir()

    expect(t.admin.delete(t.db_path(name)), 204)
    expect(t.admin.get(t.db_path(name)), 404, "not_found")
    expect(t.admin.get(t.coll_path(name, c["name"])), 404, "not_found")
    expect(t.admin.get(t.coll_path(name, c["name"]) + "/count"), 404, "not_found")
    expect(t.admin.delete(t.db_path(name)), 404, "not_found")
    wait_until(lambda: not (server.collections_dir / c["id"]).exists(), 5,
               "the deleted database's collection directory to go")
    assert name not in [x["name"] for x in t.admin.list_all(f"{t.path}/databases")]
    # The name is free again, and the new database is empty.
    t.admin.call("POST", f"{t.path}/databases", {"name": name}, status=201)
    assert t.admin.list_all(f"{t.db_path(name)}/collections") == []


# -------------------------------------------------------------- collections --

def test_collection_lifecycle(server, tenant):
    t = tenant
    db = t.create_db()
    name = unique("c")
    c = t.admin.call("POST", f"{t.db_path(db)}/collections",
                     {"name": name, "dimension": 8, "metric": "l2",
                      "index": {"m": 12, "ef_construction": 80, "ef_search": 40}}, status=201)
    assert c["name"] == name and c["dimension"] == 8 and c["metric"] == "l2", c
    assert c["index"] == {"m": 12, "ef_construction": 80, "ef_search": 40}, c
    assert c["database"] in (db,) or UUID_RE.match(c["database"]), c
    assert c["tier"] == "hot", c
    assert (c["points"], c["pending"]) == (0, 0), c
    for f in ("memory_bytes", "disk_bytes"):
        assert isinstance(c[f], int) and c[f] >= 0, (f, c)
    got = t.admin.call("GET", t.coll_path(db, name))
    assert {k: v for k, v in got.items() if k not in ("memory_bytes", "disk_bytes")} == \
        {k: v for k, v in c.items() if k not in ("memory_bytes", "disk_bytes")}

    dflt = t.admin.call("POST", f"{t.db_path(db)}/collections",
                        {"name": unique("c"), "dimension": 3}, status=201)
    assert dflt["metric"] == "cosine", dflt
    assert set(dflt["index"]) == {"m", "ef_construction", "ef_search"}, dflt
    expect(t.admin.post(f"{t.db_path(db)}/collections", {"name": name, "dimension": 8}),
           409, "already_exists")

    rng = np.random.default_rng(1)
    pts = [{"id": f"p{i}", "vector": rng.normal(size=8).tolist(), "payload": {"i": i}}
           for i in range(300)]
    assert t.upsert(db, name, pts)["upserted"] == 300
    got = t.admin.call("GET", t.coll_path(db, name))
    assert got["points"] == 300 and 0 <= got["pending"] <= 300, got
    assert got["disk_bytes"] > 0 and got["memory_bytes"] > 0, got
    got = wait_until(lambda: (lambda g: g if g["pending"] == 0 else None)(
        t.admin.call("GET", t.coll_path(db, name))), 30, "pending to reach 0")
    assert got["points"] == 300, got

    p = t.admin.call("PATCH", t.coll_path(db, name), {"index": {"ef_search": 77}})
    assert p["index"] == {"m": 12, "ef_construction": 80, "ef_search": 77}, p
    assert t.admin.call("GET", t.coll_path(db, name))["index"]["ef_search"] == 77
    expect(t.admin.patch(t.coll_path(db, name), {"index": {"m": 5}}), 400, "invalid_argument")
    expect(t.admin.patch(t.coll_path(db, name), {"dimension": 4}), 400, "invalid_argument")
    assert t.admin.call("GET", t.coll_path(db, name))["index"]["m"] == 12

    more = [t.create_collection(db)["name"] for _ in range(3)]
    listed = [x["name"] for page in pages(t.admin, f"{t.db_path(db)}/collections", 2)
              for x in page]
    assert sorted(listed) == sorted([name, dflt["name"]] + more), listed

    expect(t.admin.delete(t.coll_path(db, name)), 204)
    expect(t.admin.get(t.coll_path(db, name)), 404, "not_found")
    expect(t.admin.get(t.coll_path(db, name) + "/count"), 404, "not_found")
    expect(t.admin.post(t.coll_path(db, name) + "/search", {"vector": [0.0] * 8}), 404,
           "not_found")
    wait_until(lambda: not (server.collections_dir / c["id"]).exists(), 5,
               "the collection directory to go")
    # Re-created under the same name: empty.
    t.admin.call("POST", f"{t.db_path(db)}/collections", {"name": name, "dimension": 8},
                 status=201)
    assert t.count(db, name) == 0


# ------------------------------------------------------------------- points --

def test_points_upsert_get_replace_delete_count(tenant):
    t = tenant
    db = t.create_db()
    c = t.create_collection(db, dimension=4, metric="l2")["name"]
    base = t.coll_path(db, c)

    r = t.developer.call("POST", f"{base}/points", {"points": [
        {"id": "a", "vector": [1, 0, 0, 0], "payload": {"x": 1, "s": "héllo"}},
        {"id": "b", "vector": [0, 1, 0, 0], "payload": {"x": 2}},
        {"id": "c", "vector": [0, 0, 1, 0]},
    ]})
    assert r == {"upserted": 3, "ids": ["a", "b", "c"]}, r
    gen = t.developer.call("POST", f"{base}/points", {"points": [
        {"vector": [0.5, 0.5, 0, 0], "payload": {"gen": True}},
        {"vector": [0, 0.5, 0.5, 0]}]})
    assert gen["upserted"] == 2 and len(gen["ids"]) == 2, gen
    assert all(UUID7_RE.match(i) for i in gen["ids"]) and gen["ids"][0] != gen["ids"][1], gen
    assert t.count(db, c) == 5

    a = t.viewer.call("GET", f"{base}/points/a")
    assert a == {"id": "a", "payload": {"x": 1, "s": "héllo"}}, a
    a = t.viewer.call("GET", f"{base}/points/a", params={"with_vector": "true"})
    assert a["vector"] == [1.0, 0.0, 0.0, 0.0] and a["payload"] == {"x": 1, "s": "héllo"}, a
    b = t.viewer.call("GET", f"{base}/points/b")
    assert b == {"id": "b", "payload": {"x": 2}}, b
    cpt = t.viewer.call("GET", f"{base}/points/c")
    assert cpt["payload"] is None, cpt
    g0 = t.viewer.call("GET", f"{base}/points/{gen['ids'][0]}")
    assert g0["payload"] == {"gen": True}, g0
    expect(t.viewer.get(f"{base}/points/nope"), 404, "not_found")

    # Replace: same id, new vector and payload; the count does not change.
    r = t.developer.call("POST", f"{base}/points", {"points": [
        {"id": "a", "vector": [0, 0, 0, 3], "payload": {"x": 10}}]})
    assert r == {"upserted": 1, "ids": ["a"]}, r
    assert t.count(db, c) == 5
    a = t.viewer.call("GET", f"{base}/points/a", params={"with_vector": "true"})
    assert a == {"id": "a", "payload": {"x": 10}, "vector": [0.0, 0.0, 0.0, 3.0]}, a
    hits = t.viewer.call("POST", f"{base}/search",
                         {"vector": [0, 0, 0, 3], "k": 5, "exact": True})["results"]
    assert hits[0]["id"] == "a" and hits[0]["distance"] == pytest.approx(0.0, abs=1e-6), hits
    assert [h["id"] for h in hits].count("a") == 1, hits
    hits = t.viewer.call("POST", f"{base}/search", {"vector": [1, 0, 0, 0], "k": 5})["results"]
    assert all(not (h["id"] == "a" and h["distance"] < 1e-6) for h in hits), \
        f"the replaced vector of 'a' is still found: {hits}"

    gm = t.viewer.call("POST", f"{base}/points/get", {"ids": ["b", "zz", "a", "yy"]})
    assert sorted(p["id"] for p in gm["points"]) == ["a", "b"], gm
    assert sorted(gm["missing"]) == ["yy", "zz"], gm
    assert all("vector" not in p for p in gm["points"]), gm
    gm = t.viewer.call("POST", f"{base}/points/get", {"ids": ["b"], "with_vector": True})
    assert gm["points"] == [{"id": "b", "payload": {"x": 2},
                             "vector": [0.0, 1.0, 0.0, 0.0]}] and gm["missing"] == [], gm

    d = t.developer.call("POST", f"{base}/points/delete", {"ids": ["a", "zz", "b"]})
    assert d == {"deleted": 2}, d
    assert t.count(db, c) == 3
    expect(t.viewer.get(f"{base}/points/a"), 404, "not_found")
    gm = t.viewer.call("POST", f"{base}/points/get", {"ids": ["a", "c"]})
    assert [p["id"] for p in gm["points"]] == ["c"] and gm["missing"] == ["a"], gm
    hits = t.viewer.call("POST", f"{base}/search", {"vector": [0, 1, 0, 0], "k": 10,
                                                    "exact": True})["results"]
    assert {h["id"] for h in hits} == {"c"} | set(gen["ids"]), hits
    assert t.developer.call("POST", f"{base}/points/delete", {"ids": ["a"]}) == {"deleted": 0}
    assert t.count(db, c) == 3


def test_point_text_is_stored_and_returned(tenant):
    t = tenant
    db = t.create_db()
    c = t.create_collection(db, dimension=2, metric="l2")["name"]
    base = t.coll_path(db, c)
    t.admin.call("POST", f"{base}/points", {"points": [
        {"id": "t1", "vector": [1, 0], "payload": {"x": 1}, "text": "some text ✓"},
        {"id": "t2", "vector": [0, 1], "text": ""}]})
    assert t.admin.call("GET", f"{base}/points/t1") == {"id": "t1", "payload": {"x": 1},
                                                        "text": "some text ✓"}
    gm = t.admin.call("POST", f"{base}/points/get", {"ids": ["t1"], "with_vector": True})
    assert gm["points"] == [{"id": "t1", "payload": {"x": 1}, "text": "some text ✓",
                             "vector": [1.0, 0.0]}], gm
    # A search hit is {"id", "distance", "payload"?, "text"?, "vector"?}
    # (docs/rest-api.md): the text comes with the payload.
    hits = t.admin.call("POST", f"{base}/search", {"vector": [1, 0], "k": 2})["results"]
    assert [h["id"] for h in hits] == ["t1", "t2"], hits
    assert [h.get("text") for h in hits] == ["some text ✓", ""], hits
    bare = t.admin.call("POST", f"{base}/search",
                        {"vector": [1, 0], "k": 2, "include_payload": False})["results"]
    assert all(set(h) == {"id", "distance"} for h in bare), bare


def test_point_ids_with_special_characters(tenant):
    t = tenant
    db = t.create_db()
    c = t.create_collection(db, dimension=2, metric="l2")["name"]
    base = t.coll_path(db, c)
    ids = ["with space", "slash/inside", "ünïcødé-✓", "q?x=1&y#z", "%41", "x" * 256, "."]
    r = t.admin.call("POST", f"{base}/points",
                     {"points": [{"id": i, "vector": [float(n), 1.0], "payload": {"n": n}}
                                 for n, i in enumerate(ids)]})
    assert r["ids"] == ids, r
    for n, i in enumerate(ids):
        if "/" in i or i == ".":
            continue
        got = t.admin.call("GET", f"{base}/points/{qid(i)}")
        assert got == {"id": i, "payload": {"n": n}}, (i, got)
    gm = t.admin.call("POST", f"{base}/points/get", {"ids": ids})
    assert sorted(p["id"] for p in gm["points"]) == sorted(ids) and gm["missing"] == [], gm
    assert t.admin.call("POST", f"{base}/points/delete", {"ids": ["slash/inside"]}) == {"deleted": 1}
    assert t.count(db, c) == len(ids) - 1


# ------------------------------------------------------------------- search --

CATS = ["red", "green", "blue", "black"]
RARE = {3, 77, 150, 299, 371}


def payload_for(i, rng):
    p = {"i": i, "score": round(float(rng.uniform(0, 100)), 3), "flag": i % 3 == 0,
         "tag": f"t{i % 10}", "nested": {"x": i % 7}, "bucket": i % 50}
    if i % 9 != 0:
        p["cat"] = CATS[i % 4]
    if i % 5 == 0:
        p["opt"] = None
    if i in RARE:
        p["rare"] = "yes"
    return p


FILTERS = [
    {"field": "cat", "eq": "red"},
    {"field": "cat", "ne": "red"},
    {"field": "score", "gt": 50},
    {"field": "i", "gte": 200},
    {"field": "score", "lt": 10.5},
    {"field": "i", "lte": 5},
    {"field": "tag", "in": ["t1", "t3"]},
    {"field": "bucket", "in": [7, 8]},
    {"field": "bucket", "eq": 7},
    {"field": "rare", "eq": "yes"},
    {"field": "flag", "eq": True},
    {"field": "opt", "eq": None},
    {"field": "nested.x", "eq": 3.0},
    {"field": "tag", "gte": "t5"},
    {"field": "nosuch", "gt": 0},
    {"field": "nosuch", "ne": 1},
    {"and": [{"field": "flag", "eq": True}, {"field": "score", "gt": 30}]},
    {"or": [{"field": "cat", "eq": "blue"}, {"field": "rare", "eq": "yes"}]},
    {"not": {"field": "cat", "eq": "red"}},
    {"and": [{"field": "i", "gte": 100}, {"not": {"or": [{"field": "tag", "eq": "t2"},
                                                         {"field": "cat", "in": ["red", "blue"]}]}},
             {"field": "nested.x", "lt": 4}]},
]

N_POINTS = 400
DIM = 16


@pytest.fixture(scope="module")
def search_setup(tenant):
    t = tenant
    db = t.create_db()
    rng = np.random.default_rng(42)
    vecs = rng.normal(size=(N_POINTS, DIM)).astype(np.float32)
    out = {}
    for metric in ("l2", "cosine", "dot"):
        name = t.create_collection(db, dimension=DIM, metric=metric)["name"]
        corpus = Corpus(metric)
        prng = np.random.default_rng(7)
        pts = []
        for i in range(N_POINTS):
            pl = payload_for(i, prng)
            pts.append({"id": f"p{i}", "vector": vecs[i].tolist(), "payload": pl})
            corpus.put(f"p{i}", vecs[i], pl)
        for j in range(0, N_POINTS, 100):
            t.upsert(db, name, pts[j:j + 100])
        out[metric] = (t.coll_path(db, name), corpus)
    queries = np.random.default_rng(99).normal(size=(4, DIM)).astype(np.float32).tolist()
    return out, queries


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
def test_search_matches_brute_force(tenant, search_setup, metric):
    colls, queries = search_setup
    path, corpus = colls[metric]
    for qi, q in enumerate(queries):
        for k in (1, 10, 57):
            exact = tenant.viewer.call("POST", f"{path}/search",
                                       {"vector": q, "k": k, "exact": True})
            check_hits(exact["results"], corpus, q, k, exact=True,
                       context=f"{metric} q{qi} k={k} exact")
            approx = tenant.viewer.call("POST", f"{path}/search", {"vector": q, "k": k})
            check_hits(approx["results"], corpus, q, k, exact=False, min_recall=0.9,
                       context=f"{metric} q{qi} k={k} hnsw")
        wide = tenant.viewer.call("POST", f"{path}/search", {"vector": q, "k": 10, "ef": 400})
        check_hits(wide["results"], corpus, q, 10, exact=True,
                   context=f"{metric} q{qi} ef=400 (ef >= n must be exact)")
    every = tenant.viewer.call("POST", f"{path}/search", {"vector": queries[0], "k": 1000})
    assert len(every["results"]) == N_POINTS, "k above the point count returns every point"


@pytest.mark.parametrize("metric", ["l2", "cosine", "dot"])
def test_filtered_search_matches_brute_force(tenant, search_setup, metric):
    colls, queries = search_setup
    path, corpus = colls[metric]
    for fi, flt in enumerate(FILTERS):
        n_match = sum(1 for _, p in corpus.points.values() if matches(flt, p))
        for qi, q in enumerate(queries[:3]):
            for exact in (True, False):
                r = tenant.viewer.call("POST", f"{path}/search",
                                       {"vector": q, "k": 10, "filter": flt, "exact": exact})
                # A selective filter must still give k hits, and exact ones.
                selective = n_match <= 60
                check_hits(r["results"], corpus, q, 10, flt, exact=exact or selective,
                           min_recall=0.8,
                           context=f"{metric} filter#{fi} {json.dumps(flt)} ({n_match} match) "
                                   f"q{qi} exact={exact}")


def test_selective_filter_returns_k_hits(tenant, search_setup):
    colls, queries = search_setup
    path, corpus = colls["l2"]
    flt = {"field": "bucket", "in": [7, 8]}  # 16 of 400 points
    for q in queries:
        r = tenant.viewer.call("POST", f"{path}/search", {"vector": q, "k": 10, "filter": flt})
        check_hits(r["results"], corpus, q, 10, flt, exact=True, context="bucket in [7,8]")
    flt = {"field": "rare", "eq": "yes"}  # 5 points
    r = tenant.viewer.call("POST", f"{path}/search", {"vector": queries[0], "k": 10, "filter": flt})
    assert sorted(h["id"] for h in r["results"]) == sorted(f"p{i}" for i in RARE), r


def test_batch_search_and_options(tenant, search_setup):
    colls, queries = search_setup
    path, corpus = colls["l2"]
    b = tenant.developer.call("POST", f"{path}/search",
                              {"vectors": queries, "k": 7, "exact": True,
                               "filter": {"field": "cat", "ne": "green"}})
    assert set(b) == {"batches"} and len(b["batches"]) == len(queries), b
    for qi, (batch, q) in enumerate(zip(b["batches"], queries)):
        check_hits(batch["results"], corpus, q, 7, {"field": "cat", "ne": "green"}, exact=True,
                   context=f"batch {qi}")
        single = tenant.developer.call("POST", f"{path}/search",
                                       {"vector": q, "k": 7, "exact": True,
                                        "filter": {"field": "cat", "ne": "green"}})
        assert [h["id"] for h in batch["results"]] == [h["id"] for h in single["results"]]

    r = tenant.viewer.call("POST", f"{path}/search", {"vector": queries[0], "k": 3})
    assert set(r) == {"results"}
    for h in r["results"]:
        assert set(h) == {"id", "distance", "payload"}, h
        assert h["payload"] == corpus.points[h["id"]][1], h
    r = tenant.viewer.call("POST", f"{path}/search",
                           {"vector": queries[0], "k": 3, "include_payload": False,
                            "include_vector": True})
    for h in r["results"]:
        assert set(h) == {"id", "distance", "vector"}, h
        np.testing.assert_allclose(h["vector"], corpus.points[h["id"]][0], rtol=1e-6, atol=1e-6)
    r = tenant.viewer.call("POST", f"{path}/search",
                           {"vector": queries[0], "k": 3, "include_payload": False})
    assert all(set(h) == {"id", "distance"} for h in r["results"]), r
    r = tenant.viewer.call("POST", f"{path}/search", {"vector": queries[0]})
    assert len(r["results"]) == 10, "default k is 10"


# -------------------------------------------------------------------- users --

def test_user_lifecycle(server, tenant):
    t = tenant
    users = f"{t.path}/users"
    name = unique("usr")
    pw = cl.new_password()
    u = t.admin.call("POST", users, {"username": name, "role": "developer", "password": pw},
                     status=201)
    assert u["username"] == name and u["role"] == "developer" and u["status"] == "active", u
    assert u["has_password"] is True and UUID7_RE.match(u["id"]), u
    assert u["tenant"] in (t.slug, t.record["id"]) and "password" not in json.dumps(u).lower() \
        .replace("has_password", ""), u
    assert t.admin.call("GET", f"{users}/{name}") == u
    expect(t.admin.post(users, {"username": name, "role": "viewer", "password": pw}), 409,
           "already_exists")
    nopw = t.admin.call("POST", users, {"username": unique("usr"), "role": "viewer"}, status=201)
    assert nopw["has_password"] is False, nopw

    listed = [x["username"] for page in pages(t.admin, users, 2) for x in page]
    assert len(listed) == len(set(listed)) and {name, nopw["username"]} <= set(listed), listed

    uc = t.login(name, pw)
    assert uc.whoami()["user"]["role"] == "developer"
    p = t.admin.call("PATCH", f"{users}/{name}", {"role": "viewer"})
    assert p["role"] == "viewer" and p["updated_at"] >= u["updated_at"], p
    assert t.admin.call("GET", f"{users}/{name}")["role"] == "viewer"
    assert uc.whoami()["user"]["role"] == "viewer", "role change must apply at once"
    expect(uc.post(f"{t.path}/databases", {"name": unique("db")}), 403, "permission_denied")

    assert t.admin.call("PATCH", f"{users}/{name}", {"status": "disabled"})["status"] == "disabled"
    expect(uc.get("/v1/auth/whoami"), 401, "unauthenticated")
    assert t.admin.call("PATCH", f"{users}/{name}", {"status": "active"})["status"] == "active"

    pw2 = cl.new_password()
    t.admin.call("PATCH", f"{users}/{name}", {"password": pw2})
    expect(cl.login_response(server, name, pw, tenant=t.slug), 401, "unauthenticated")
    uc2 = t.login(name, pw2)
    assert uc2.whoami()["user"]["username"] == name

    expect(t.admin.delete(f"{users}/{name}"), 204)
    expect(t.admin.get(f"{users}/{name}"), 404, "not_found")
    expect(uc2.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(t.admin.delete(f"{users}/{name}"), 404, "not_found")
    assert name not in [x["username"] for x in t.admin.list_all(users)]


# ----------------------------------------------------------------- API keys --

def test_api_key_lifecycle(tenant):
    t = tenant
    who = t.users["developer"]["username"]
    keys = f"{t.path}/users/{who}/keys"
    r = t.developer.call("POST", keys, {"name": "ci-key"}, status=201)
    assert set(r) == {"key", "secret"}, r
    secret, key = r["secret"], r["key"]
    assert SECRET_RE.match(secret), secret
    assert key["name"] == "ci-key" and UUID7_RE.match(key["id"]), key
    assert key["prefix"] and key["prefix"] in secret and key["prefix"] != secret, key
    assert key["revoked_at"] is None and key["expires_at"] is None, key

    listed = t.developer.call("GET", keys)
    assert key["id"] in [k["id"] for k in listed["items"]], listed
    text = json.dumps(listed)
    assert secret not in text and secret.split("_")[-1] not in text, "the secret is listed"
    assert "secret" not in {f for k in listed["items"] for f in k}, listed

    kc = t.developer.with_token(secret)
    me = kc.whoami()
    assert me["credential"] == "api_key" and me["user"]["username"] == who, me
    assert kc.call("GET", f"{t.path}/databases")["items"] is not None

    admin_made = t.admin.call("POST", keys, {"name": "by-admin"}, status=201)
    assert admin_made["key"]["user"] in (who, t.users["developer"]["record"]["id"]), admin_made

    expect(t.developer.delete(f"{keys}/{key['id']}"), 204)
    expect(kc.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(kc.get(f"{t.path}/databases"), 401, "unauthenticated")
    listed = {k["id"]: k for k in t.developer.call("GET", keys)["items"]}
    assert listed[key["id"]]["revoked_at"] is not None and TIME_RE.match(
        listed[key["id"]]["revoked_at"]), listed
    expect(t.developer.delete(f"{keys}/{key['id']}"), 409, "conflict")
    expect(t.developer.delete(f"{keys}/01890000-0000-7000-8000-000000000000"), 404, "not_found")
    # The other key still works.
    assert t.developer.with_token(admin_made["secret"]).whoami()["credential"] == "api_key"


# ------------------------------------------------------- sessions, whoami --

def test_whoami_and_logout(server, tenant, sysadmin):
    t = tenant
    me = t.viewer.whoami()
    assert me["credential"] == "session" and TIME_RE.match(me["expires_at"]), me
    assert me["user"]["username"] == t.users["viewer"]["username"], me
    assert me["user"]["role"] == "viewer" and me["user"]["tenant"] in (t.slug, t.record["id"]), me
    assert set(me["user"]) >= {"id", "username", "role", "tenant"}, me
    sa = sysadmin.whoami()
    assert sa["user"]["role"] == "system-admin" and sa["user"]["username"] == "admin", sa

    c = t.login(t.users["viewer"]["username"], t.users["viewer"]["password"])
    assert c.login["expires_at"] and TIME_RE.match(c.login["expires_at"]), c.login
    assert c.login["user"]["username"] == t.users["viewer"]["username"], c.login
    assert c.token != t.viewer.token
    expect(c.post("/v1/auth/logout"), 204)
    expect(c.get("/v1/auth/whoami"), 401, "unauthenticated")
    expect(c.get(f"{t.path}/databases"), 401, "unauthenticated")
    # Other sessions of the same user are unaffected.
    assert t.viewer.whoami()["credential"] == "session"


def test_request_id_is_echoed_or_generated(server, tenant):
    r = tenant.viewer.get("/v1/auth/whoami", request_id="itest-req-0001")
    expect(r, 200)
    assert r.headers.get("X-Request-Id") == "itest-req-0001", r.headers
    r = tenant.viewer.get("/v1/auth/whoami")
    assert UUID_RE.match(r.headers.get("X-Request-Id", "")), r.headers
    r = cl.Client(server).get("/v1/nope", request_id="itest-404")
    expect(r, 404, "not_found")
    assert r.headers.get("X-Request-Id") == "itest-404"


# -------------------------------------------------------------------- audit --

def test_audit_log_records_actions_with_request_ids(server, sysadmin):
    rid = lambda s: f"itest-{s}-{cl.unique('r')}"  # noqa: E731
    slug = unique("au")
    r_tc = rid("tcreate")
    sysadmin.call("POST", "/v1/tenants", {"slug": slug, "name": "Audited"}, status=201,
                  request_id=r_tc)
    t = cl.Tenant(server, sysadmin, sysadmin.call("GET", f"/v1/tenants/{slug}"))
    an, ap, _ = t.add_user("admin", by=sysadmin)
    r_login = rid("login")
    t.clients["admin"] = cl.login(server, an, ap, tenant=slug, request_id=r_login)
    r_fail = rid("fail")
    expect(cl.login_response(server, an, "wrong-password-123", tenant=slug, request_id=r_fail),
           401, "unauthenticated")
    aud, audpw, _ = t.add_user("auditor")
    t.clients["auditor"] = t.login(aud, audpw)
    r_db = rid("dbcreate")
    db = unique("db")
    t.admin.call("POST", f"{t.path}/databases", {"name": db}, status=201, request_id=r_db)
    r_coll = rid("ccreate")
    coll = unique("c")
    t.admin.call("POST", f"{t.db_path(db)}/collections", {"name": coll, "dimension": 2},
                 status=201, request_id=r_coll)
    r_cdel = rid("cdelete")
    expect(t.admin.delete(t.coll_path(db, coll), request_id=r_cdel), 204)
    r_ddel = rid("ddelete")
    expect(t.admin.delete(t.db_path(db), request_id=r_ddel), 204)
    r_key = rid("key")
    key = t.admin.call("POST", f"{t.path}/users/{an}/keys", {"name": "k"}, status=201,
                       request_id=r_key)
    r_rev = rid("revoke")
    expect(t.admin.delete(f"{t.path}/users/{an}/keys/{key['key']['id']}", request_id=r_rev), 204)

    entries = t.auditor.list_all(f"{t.path}/audit")
    by_rid = {}
    for e in entries:
        assert set(e) >= {"seq", "time", "actor", "actor_id", "tenant", "action", "target",
                          "outcome", "request_id", "details"}, e
        assert TIME_RE.match(e["time"]) and e["outcome"] in ("success", "failure", "denied"), e
        by_rid.setdefault(e["request_id"], []).append(e)

    def one(r, action, outcome="success", actor=None):
        got = [e for e in by_rid.get(r, []) if e["action"] == action]
        assert got, f"no {action} entry with request id {r}; entries: {json.dumps(entries)[:4000]}"
        e = got[0]
        assert e["outcome"] == outcome, e
        if actor:
            assert e["actor"] == actor, e
        return e

    one(r_tc, "tenant.create", actor="admin")
    one(r_login, "login.success", actor=an)
    one(r_fail, "login.failure", outcome="failure")
    assert db in one(r_db, "database.create", actor=an)["target"]
    assert coll in one(r_coll, "collection.create", actor=an)["target"]
    assert coll in one(r_cdel, "collection.delete", actor=an)["target"]
    assert db in one(r_ddel, "database.delete", actor=an)["target"]
    one(r_key, "apikey.create", actor=an)
    one(r_rev, "apikey.revoke", actor=an)

    # Filters.
    f = t.auditor.list_all(f"{t.path}/audit", params={"action": "database.create"})
    assert f and all(e["action"] == "database.create" for e in f), f
    assert r_db in [e["request_id"] for e in f]
    f = t.auditor.list_all(f"{t.path}/audit", params={"actor": an})
    assert f and all(e["actor"] == an for e in f), f
    assert {r_login, r_db, r_key} <= {e["request_id"] for e in f}
    f = t.auditor.list_all(f"{t.path}/audit", params={"actor": "nobody-at-all"})
    assert f == [], f

    # Paging and order.
    all_pages = pages(t.auditor, f"{t.path}/audit", 2, params={"order": "oldest"})
    seqs = [e["seq"] for p in all_pages for e in p]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == len(entries), seqs
    newest = [e["seq"] for e in t.auditor.list_all(f"{t.path}/audit",
                                                   params={"order": "newest"})]
    assert newest == sorted(seqs, reverse=True), newest

    # The system-wide log holds the tenant's entries too, tenant named.
    glob = sysadmin.list_all("/v1/audit", params={"action": "tenant.create"})
    mine = [e for e in glob if e["request_id"] == r_tc]
    assert mine and mine[0]["tenant"] in (slug, t.record["id"]), mine
    expect(sysadmin.delete(t.path), 204)


def scan_all(c, base, limit, **params):
    """Every page of an export (GET .../points), each checked for size."""
    out, after = [], None
    for _ in range(10000):
        p = dict(params, limit=limit)
        if after is not None:
            p["after"] = after
        page = c.call("GET", f"{base}/points", params=p)
        assert set(page) == {"points", "next"} and len(page["points"]) <= limit, page
        out.append(page["points"])
        after = page["next"]
        if after is None:
            return out
    raise AssertionError("export did not end")


def test_points_export_pages_in_write_order(tenant):
    t = tenant
    db = t.create_db()
    c = t.create_collection(db, dimension=3, metric="l2")["name"]
    base = t.coll_path(db, c)
    assert scan_all(t.viewer, base, 10) == [[]]  # empty: one empty page, next null
    pts = [{"id": f"p{i:02d}", "vector": [i, 1, 0], "payload": {"i": i}} for i in range(25)]
    t.developer.call("POST", f"{base}/points", {"points": pts})
    t.developer.call("POST", f"{base}/points/delete", {"ids": ["p03", "p04"]})
    # p05 replaced: it moves to the end, with its new payload.
    t.developer.call("POST", f"{base}/points", {"points": [
        {"id": "p05", "vector": [9, 9, 9], "payload": {"i": 500}}]})
    pages = scan_all(t.viewer, base, 10)
    assert [len(p) for p in pages] == [10, 10, 3], [len(p) for p in pages]
    ids = [p["id"] for page in pages for p in page]
    want = [f"p{i:02d}" for i in range(25) if i not in (3, 4, 5)] + ["p05"]
    assert ids == want, ids
    last = pages[-1][-1]
    assert last == {"id": "p05", "payload": {"i": 500}}, last
    with_vec = scan_all(t.viewer, base, 100, with_vector="true")
    assert len(with_vec) == 1 and with_vec[0][-1]["vector"] == [9.0, 9.0, 9.0], with_vec
    assert with_vec[0][0]["vector"] == [0.0, 1.0, 0.0], with_vec[0][0]
    # A page that ends exactly at the last point says so (next null).
    assert [len(p) for p in scan_all(t.viewer, base, 23)] == [23]


def test_points_export_refuses_bad_parameters(tenant):
    t = tenant
    db = t.create_db()
    c = t.create_collection(db, dimension=3, metric="l2")["name"]
    base = t.coll_path(db, c)
    for bad in ("0", "-1", "x", "", "10001"):
        r = expect(t.viewer.get(f"{base}/points", params={"limit": bad}), 400, "invalid_argument")
        assert "limit" in r["error"]["message"], r
    for bad in ("abc", "-3", "0", "1x"):
        r = expect(t.viewer.get(f"{base}/points", params={"after": bad}), 400, "invalid_argument")
        assert "'after'" in r["error"]["message"], r
    expect(t.auditor.get(f"{base}/points"), 403, "permission_denied")
    expect(t.viewer.get(t.coll_path(db, "nope") + "/points"), 404, "not_found")
