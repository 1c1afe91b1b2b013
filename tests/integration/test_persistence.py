"""
Durability through the real server: every write acknowledged with 200 is
there after kill -9 and a restart (vector and payload), and after a graceful
SIGTERM restart (which must exit 0). Catalog state (tenants, users, keys,
sessions) survives too. Default durability (fsync), as users get it.
"""
import threading
import time

import numpy as np

from client import expect, make_tenant
from reference import Corpus, check_hits

DIM = 8


def batch(start, n, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return [{"id": f"p{start + i}", "vector": v[i].tolist(),
             "payload": {"n": start + i, "tag": f"t{(start + i) % 5}", "s": "é" * ((start + i) % 7)}}
            for i in range(n)]


def same_vector(got, want, metric):
    """float32 values must round-trip exactly through the JSON answer. Under
    cosine the server may hand back the unit-length vector it indexes (the
    document does not say which): then the direction must match."""
    g, w = np.float32(got), np.float32(want)
    if metric == "cosine" and not np.array_equal(g, w):
        np.testing.assert_allclose(g, w / np.linalg.norm(w), rtol=0, atol=2e-7)
        return
    np.testing.assert_array_equal(g, w)


def verify(t, db, coll, expected, absent=(), metric="l2"):
    """Every point of `expected` is there with its vector and payload."""
    path = t.coll_path(db, coll)
    ids = list(expected)
    for i in range(0, len(ids), 500):
        got = t.admin.call("POST", f"{path}/points/get",
                           {"ids": ids[i:i + 500], "with_vector": True})
        assert got["missing"] == [], f"acknowledged points lost: {got['missing'][:20]}"
        for p in got["points"]:
            want = expected[p["id"]]
            assert p["payload"] == want["payload"], (p, want)
            same_vector(p["vector"], want["vector"], metric)
    if absent:
        got = t.admin.call("POST", f"{path}/points/get", {"ids": list(absent)})
        assert got["points"] == [], f"deleted points came back: {[p['id'] for p in got['points']]}"


def test_acknowledged_writes_survive_kill_9(fresh_server):
    s = fresh_server
    sys_ = s.login_admin()
    t = make_tenant(s, sys_, roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    path = t.coll_path(db, coll)

    acked = {}
    for k in range(10):
        pts = batch(k * 50, 50, k)
        assert t.upsert(db, coll, pts)["upserted"] == 50
        acked.update({p["id"]: p for p in pts})
    # Replace some, delete some: the latest acknowledged state must win.
    repl = [{"id": f"p{i}", "vector": [float(i)] * DIM, "payload": {"replaced": i}}
            for i in range(0, 50, 5)]
    t.upsert(db, coll, repl)
    acked.update({p["id"]: p for p in repl})
    gone = [f"p{i}" for i in range(100, 150)]
    assert t.admin.call("POST", f"{path}/points/delete", {"ids": gone}) == {"deleted": 50}
    for g in gone:
        acked.pop(g)

    # Keep writing from a thread while the server is killed.
    stop = threading.Event()
    late_acked, errors = {}, []

    def writer():
        k = 100
        while not stop.is_set():
            pts = batch(10000 + k * 20, 20, k)
            try:
                r = t.admin.post(f"{path}/points", {"points": pts})
            except Exception as e:  # the connection dies with the server
                errors.append(repr(e))
                return
            if r.status_code == 200:
                late_acked.update({p["id"]: p for p in pts})
            k += 1

    th = threading.Thread(target=writer)
    th.start()
    # Kill once a few batches were acknowledged, while more are in flight.
    deadline = time.monotonic() + 20
    while len(late_acked) < 60 and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.01)
    time.sleep(0.05)
    s.kill()
    stop.set()
    th.join(30)
    assert late_acked, f"the writer thread got no acknowledgement before the kill: {errors}"

    s.start(same_port=True)
    t.clients["admin"] = t.login(t.users["admin"]["username"], t.users["admin"]["password"])
    acked.update(late_acked)
    verify(t, db, coll, acked, absent=gone)
    count = t.count(db, coll)
    assert count >= len(acked), (count, len(acked))
    # Unacknowledged batches are all-or-nothing: the count is acked + k*20.
    assert (count - len(acked)) % 20 == 0, (count, len(acked))

    # Search works on the recovered data and matches brute force.
    corpus = Corpus("l2")
    got = t.admin.call("POST", f"{path}/points/get",
                       {"ids": [f"p{i}" for i in range(500)], "with_vector": True})
    for p in got["points"]:
        corpus.put(p["id"], p["vector"], p["payload"])
    q = np.random.default_rng(5).normal(size=DIM).tolist()
    r = t.admin.call("POST", f"{path}/search",
                     {"vector": q, "k": 10, "exact": True,
                      "filter": {"field": "n", "lt": 500}})
    check_hits(r["results"], corpus, q, 10, {"field": "n", "lt": 500}, exact=True,
               context="after kill -9")


def test_graceful_restart_keeps_everything(fresh_server):
    s = fresh_server
    sys_ = s.login_admin()
    t = make_tenant(s, sys_, roles=("admin", "viewer"),
                    quotas={"max_collections": 7, "max_qps": 1000})
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="cosine",
                               index={"m": 8, "ef_construction": 64, "ef_search": 33})
    acked = {}
    for k in range(4):
        pts = batch(k * 100, 100, 50 + k)
        t.upsert(db, coll["name"], pts)
        acked.update({p["id"]: p for p in pts})
    admin_user = t.users["admin"]["username"]
    key = t.admin.call("POST", f"{t.path}/users/{admin_user}/keys", {"name": "k"},
                       status=201)["secret"]
    revoked = t.admin.call("POST", f"{t.path}/users/{admin_user}/keys", {"name": "r"}, status=201)
    expect(t.admin.delete(f"{t.path}/users/{admin_user}/keys/{revoked['key']['id']}"), 204)
    tenant_before = sys_.call("GET", t.path)
    coll_before = t.admin.call("GET", t.coll_path(db, coll["name"]))
    search_before = t.viewer.call("POST", f"{t.coll_path(db, coll['name'])}/search",
                                  {"vector": [1.0] * DIM, "k": 10, "exact": True})

    s.restart(graceful=True)

    assert sys_.call("GET", t.path) == tenant_before
    coll_after = t.admin.call("GET", t.coll_path(db, coll["name"]))
    for f in ("id", "name", "dimension", "metric", "index", "points", "created_at"):
        assert coll_after[f] == coll_before[f], (f, coll_before, coll_after)
    verify(t, db, coll["name"], acked, metric="cosine")
    assert t.viewer.call("POST", f"{t.coll_path(db, coll['name'])}/search",
                         {"vector": [1.0] * DIM, "k": 10, "exact": True}) == search_before
    # Sessions and keys live in the catalog: they survive; revoked stays revoked.
    assert t.viewer.whoami()["user"]["role"] == "viewer"
    assert t.admin.with_token(key).whoami()["credential"] == "api_key"
    expect(t.admin.with_token(revoked["secret"]).get("/v1/auth/whoami"), 401, "unauthenticated")
    # And the server keeps working after the restart.
    t.upsert(db, coll["name"], batch(1000, 10, 99))
    assert t.count(db, coll["name"]) == 410
    s.restart(graceful=False)
    assert t.count(db, coll["name"]) == 410


def test_deleted_collection_stays_deleted_after_crash(fresh_server):
    s = fresh_server
    sys_ = s.login_admin()
    t = make_tenant(s, sys_, roles=("admin",))
    db = t.create_db()
    keep = t.create_collection(db, dimension=DIM)["name"]
    drop = t.create_collection(db, dimension=DIM)
    for c in (keep, drop["name"]):
        t.upsert(db, c, batch(0, 30, 1))
    expect(t.admin.delete(t.coll_path(db, drop["name"])), 204)
    s.restart(graceful=False)
    expect(t.admin.get(t.coll_path(db, drop["name"])), 404, "not_found")
    assert not (s.collections_dir / drop["id"]).exists()
    assert t.count(db, keep) == 30
    assert [c["name"] for c in t.admin.list_all(f"{t.db_path(db)}/collections")] == [keep]
