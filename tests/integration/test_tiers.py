"""
Hot and warm tiers through the real server: the tier API (move, pin, show),
an idle collection going warm after a short configured interval and coming
back on use, the memory budget unloading the least recently used, pins
surviving a restart, /metrics counting tiers and loads, and a restart with
many collections ready at once (nothing loads until used) with every
acknowledged point there after kill -9.
"""
import re
import time

import numpy as np


from client import expect, gaussian_points, make_tenant, wait_until

DIM = 8


def points(start, n, seed=1):
    return gaussian_points(DIM, start, n, seed)


def make_colls(server, n_colls=1, n_points=20):
    sys_ = server.login_admin()
    t = make_tenant(server, sys_, roles=("admin",))
    db = t.create_db()
    names = []
    for i in range(n_colls):
        name = t.create_collection(db, dimension=DIM, metric="l2")["name"]
        t.upsert(db, name, points(0, n_points, seed=i))
        names.append(name)
    return t, db, names


def get(t, db, name):
    return t.admin.call("GET", t.coll_path(db, name))


def search(t, db, name, k=5):
    return t.admin.call("POST", f"{t.coll_path(db, name)}/search",
                        {"vector": [0.0] * DIM, "k": k})["results"]


def metric(server, name, labels=""):
    text = server.client().get("/metrics").text
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_tier_api_moves_and_pins(fresh_server):
    s = fresh_server
    t, db, (c,) = make_colls(s)
    before = search(t, db, c)
    g = get(t, db, c)
    assert (g["tier"], g["resident"], g["tier_pinned"]) == ("hot", True, False)
    assert g["memory_bytes"] > 0 and g["last_access"] is not None

    g = t.admin.call("PATCH", t.coll_path(db, c), {"tier": "warm"})
    assert (g["tier"], g["resident"], g["memory_bytes"]) == ("warm", False, 0)
    assert g["points"] == 20  # the figures it had when it left memory
    assert search(t, db, c) == before  # comes back on use, same answer
    assert get(t, db, c)["resident"] is True

    g = t.admin.call("PATCH", t.coll_path(db, c), {"tier": "warm", "tier_pinned": True})
    assert (g["tier"], g["tier_pinned"]) == ("warm", True)
    assert search(t, db, c) == before  # a pinned-warm collection still answers
    wait_until(lambda: get(t, db, c)["resident"] is False, "pinned warm unloaded after use")

    g = t.admin.call("PATCH", t.coll_path(db, c), {"tier": "hot"})
    assert (g["tier"], g["resident"], g["tier_pinned"]) == ("hot", True, True)

    # Bad input is refused and changes nothing.
    for body in ({"tier": "tepid"}, {"tier_pinned": "yes"}, {"tier": 1}, {}):
        expect(t.admin.patch(t.coll_path(db, c), json=body), 400, "invalid_argument")
    g = get(t, db, c)
    assert (g["tier"], g["tier_pinned"]) == ("hot", True)

    # Every tier change is in the audit log.
    audit = t.admin.call("GET", f"{t.path}/audit?action=collection.tier_change")
    assert len(audit["items"]) >= 3
    assert all(e["outcome"] == "success" for e in audit["items"])
    assert metric(s, "akidb_collection_unloads_total", '{reason="api"}') >= 1
    assert metric(s, "akidb_collection_loads_total", '{outcome="ok"}') >= 2


def test_idle_collection_goes_warm_and_comes_back(server_factory):
    s = server_factory(config="[tiering]\nwarm_after_s = 1\ncheck_interval_ms = 100\n")
    t, db, (c,) = make_colls(s)
    before = search(t, db, c)
    wait_until(lambda: get(t, db, c)["resident"] is False, "idle collection went warm")
    assert metric(s, "akidb_collection_unloads_total", '{reason="idle"}') >= 1
    assert metric(s, "akidb_collections", '{tier="warm"}') == 1
    assert search(t, db, c) == before
    assert get(t, db, c)["resident"] is True


def test_budget_unloads_least_recently_used(server_factory):
    # A budget of one byte holds no unpinned collection: each one used
    # leaves memory at the next check; a pinned-hot one stays.
    s = server_factory(config="[storage]\nmemory_budget_bytes = 1\n"
                              "[tiering]\ncheck_interval_ms = 100\n")
    t, db, names = make_colls(s, n_colls=3)
    t.admin.call("PATCH", t.coll_path(db, names[0]), {"tier": "hot", "tier_pinned": True})
    for c in names:
        assert len(search(t, db, c)) == 5
    wait_until(lambda: all(get(t, db, c)["resident"] is False for c in names[1:]),
               "budget unloaded the unpinned collections")
    assert get(t, db, names[0])["resident"] is True
    assert metric(s, "akidb_collection_unloads_total", '{reason="budget"}') >= 2
    assert metric(s, "akidb_memory_budget_bytes") == 1


def test_pins_survive_restart(fresh_server):
    s = fresh_server
    t, db, (hot, warm, plain) = make_colls(s, n_colls=3)
    t.admin.call("PATCH", t.coll_path(db, hot), {"tier_pinned": True})
    t.admin.call("PATCH", t.coll_path(db, warm), {"tier": "warm", "tier_pinned": True})
    s.restart(graceful=True)
    wait_until(lambda: get(t, db, hot)["resident"] is True, "pinned hot loaded at start")
    assert get(t, db, warm)["resident"] is False
    assert get(t, db, plain)["resident"] is False
    assert get(t, db, warm)["tier_pinned"] is True
    assert len(search(t, db, plain)) == 5


def test_restart_with_many_collections_is_ready_at_once(fresh_server):
    s = fresh_server
    t, db, names = make_colls(s, n_colls=40, n_points=10)
    # More writes after the last checkpoint: recovery happens at first load.
    for i, c in enumerate(names):
        t.upsert(db, c, points(100, 5, seed=i))
    s.kill()
    t0 = time.monotonic()
    s.start(same_port=True)
    ready_s = time.monotonic() - t0
    assert metric(s, "akidb_collections", '{tier="hot"}') == 0
    for i, c in enumerate(names):
        assert t.count(db, c) == 15
        got = t.admin.call("POST", f"{t.coll_path(db, c)}/points/get",
                           {"ids": ["p0", "p104"], "with_vector": True})
        assert got["missing"] == []
        want = points(100, 5, seed=i)[4]["vector"]
        assert np.array_equal(np.float32(got["points"][1]["vector"]), np.float32(want))
    assert metric(s, "akidb_collections", '{tier="hot"}') == 40
    print(f"restart to /ready with 40 collections: {ready_s:.3f} s")
