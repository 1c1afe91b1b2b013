"""
The cold tier through the real server, over the default local object store
(<data_dir>/objects): a collection moved cold (by PATCH, by idleness, by a
pin) leaves local disk only once its copy is confirmed, answers its next
request exactly as before (downloaded, checked, then its remote copy
removed), stays cold across restarts, and leaves nothing behind when
deleted. /metrics counts the tiers, the moves and the object store's calls.
"""
import subprocess


from client import expect, gaussian_points, make_tenant, wait_until

DIM = 8


def points(start, n, seed=3):
    return gaussian_points(DIM, start, n, seed)


def make(server, n=200):
    t = make_tenant(server, server.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2")
    for i in range(0, n, 100):
        t.upsert(db, coll["name"], points(i, min(100, n - i)))
    return t, db, coll


def cold_objects(server, cid):
    root = server.data_dir / "objects" / "cold" / cid
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def search(t, db, name, vec, k=5):
    return [h["id"] for h in t.admin.call("POST", f"{t.coll_path(db, name)}/search",
                                          {"vector": vec, "k": k})["results"]]


def test_patch_cold_moves_out_and_the_next_request_brings_it_back(server):
    t, db, coll = make(server)
    name, cid = coll["name"], coll["id"]
    q = points(0, 1)[0]["vector"]
    before = search(t, db, name, q)
    got = t.admin.call("PATCH", t.coll_path(db, name), {"tier": "cold"})
    assert got["tier"] == "cold" and got["resident"] is False
    assert not (server.collections_dir / cid).exists()  # local files gone
    objs = cold_objects(server, cid)
    assert any(o.endswith("manifest.json") for o in objs)
    assert any("/files/checkpoint-" in o or "/files/wal/" in o for o in objs)
    assert t.admin.call("GET", t.coll_path(db, name))["points"] == 200  # figures kept
    assert search(t, db, name, q) == before  # downloaded on use
    assert t.count(db, name) == 200
    got = t.admin.call("GET", t.coll_path(db, name))
    assert got["tier"] == "hot"
    wait_until(lambda: cold_objects(server, cid) == [], "remote copy removed after the fetch")
    # writes after coming back survive a restart
    t.upsert(db, name, points(200, 10))
    server.restart()
    assert t.count(db, name) == 210


def test_cold_stays_cold_across_restart_and_delete_leaves_nothing(server):
    t, db, coll = make(server, n=100)
    name, cid = coll["name"], coll["id"]
    t.admin.call("PATCH", t.coll_path(db, name), {"tier": "cold"})
    server.kill()
    server.start()
    got = t.admin.call("GET", t.coll_path(db, name))
    assert got["tier"] == "cold"
    assert not (server.collections_dir / cid).exists()
    t.admin.call("DELETE", t.coll_path(db, name), status=204)
    assert cold_objects(server, cid) == []


def test_idle_collections_go_cold_and_pins_hold(server_factory):
    s = server_factory(extra_args=("--warm-after-s", "1", "--cold-after-s", "2"))
    t, db, coll = make(s, n=50)
    pinned = t.create_collection(db, dimension=DIM, metric="l2")
    t.upsert(db, pinned["name"], points(0, 20))
    t.admin.call("PATCH", t.coll_path(db, pinned["name"]), {"tier": "warm", "tier_pinned": True})
    wait_until(lambda: t.admin.call("GET", t.coll_path(db, coll["name"]))["tier"] == "cold",
               "idle collection went cold", timeout=30)
    assert t.admin.call("GET", t.coll_path(db, pinned["name"]))["tier"] == "warm"
    assert t.count(db, coll["name"]) == 50
    metrics = s.client().get("/metrics").text
    assert 'akidb_collection_cold_moves_total{to="cold",outcome="ok"}' in metrics
    assert 'akidb_collection_cold_moves_total{to="warm",outcome="ok"}' in metrics
    assert 'akidb_object_store_requests_total{op="put",outcome="ok"}' in metrics
    assert "akidb_object_store_breaker_state 0" in metrics
    p = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
