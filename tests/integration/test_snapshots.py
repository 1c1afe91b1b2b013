"""
Snapshots through the real server, stored in the default local object
store (<data_dir>/objects): a snapshot holds exactly the points of its
collection at one moment (the Parquet file, read by DuckDB, matches value by
value), restores into a new collection and over an existing one (the old
content back exactly, all-or-nothing), is listed per collection and per
tenant, outlives its collection, is refused to other roles and tenants,
is audited, and deleting it removes its objects. A restore cut short by a
crash is undone at the next start.
"""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from client import expect, make_tenant

DIM = 6
ROOT = Path(__file__).resolve().parents[2]
LOCAL_HEADER = 8192  # the local object store's header before an object's bytes


def make_points(n, seed=7, start=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    pts = []
    for i in range(n):
        p = {"id": f"p{start + i}", "vector": v[i].tolist()}
        if i % 4:
            p["payload"] = {"n": start + i, "tag": ["a", "b", "é"][i % 3]}
        if i % 3 == 0:
            p["text"] = f"text {start + i}"
        pts.append(p)
    return pts


def all_points(t, db, coll, ids):
    got = t.admin.call("POST", f"{t.coll_path(db, coll)}/points/get",
                       {"ids": ids, "with_vector": True})
    return {p["id"]: p for p in got["points"]}


def make_collection(server, n=300, metric="l2"):
    t = make_tenant(server, server.login_admin())
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric=metric)["name"]
    pts = make_points(n)
    for i in range(0, n, 100):
        t.upsert(db, coll, pts[i:i + 100])
    t.admin.call("POST", f"{t.coll_path(db, coll)}/points/delete", {"ids": ["p1", "p2"]})
    return t, db, coll


def snapshot(t, db, coll, by=None):
    return (by or t.admin).call("POST", f"{t.coll_path(db, coll)}/snapshots", status=201)


def test_snapshot_restores_into_a_new_collection_exactly(server):
    t, db, coll = make_collection(server)
    s = snapshot(t, db, coll)
    assert s["state"] == "ready" and s["points"] == 298 and s["bytes"] > 0
    assert s["collection"] == coll and s["database"] == db and s["tenant"] == t.slug
    r = t.admin.call("POST", f"{t.path}/snapshots/{s['id']}/restore",
                     {"collection": coll + "-copy"}, status=201)
    assert r == {"snapshot": s["id"], "database": db, "collection": coll + "-copy",
                 "points": 298, "replaced": False}
    ids = [f"p{i}" for i in range(300)]
    a, b = all_points(t, db, coll, ids), all_points(t, db, coll + "-copy", ids)
    assert a.keys() == b.keys() and len(a) == 298
    for k in a:
        assert a[k] == b[k], k
    copy = t.admin.call("GET", t.coll_path(db, coll + "-copy"))
    assert copy["dimension"] == DIM and copy["metric"] == "l2"
    hits = t.admin.call("POST", f"{t.coll_path(db, coll + '-copy')}/search",
                        {"vector": a["p5"]["vector"], "k": 1})
    assert hits["results"][0]["id"] == "p5"


def test_restore_over_the_collection_brings_its_old_content_back(server):
    t, db, coll = make_collection(server, metric="cosine")
    before = all_points(t, db, coll, [f"p{i}" for i in range(400)])
    s = snapshot(t, db, coll)
    t.upsert(db, coll, make_points(100, seed=99, start=300))  # p300..p399 new
    t.upsert(db, coll, make_points(10, seed=98))               # p0..p9 changed
    t.admin.call("POST", f"{t.coll_path(db, coll)}/points/delete", {"ids": ["p50", "p51"]})
    r = t.admin.call("POST", f"{t.path}/snapshots/{s['id']}/restore", {"replace": True},
                     status=200)
    assert r["replaced"] is True and r["points"] == 298
    after = all_points(t, db, coll, [f"p{i}" for i in range(400)])
    assert after.keys() == before.keys()
    for k in before:
        assert after[k]["payload"] == before[k]["payload"], k
        assert after[k].get("text") == before[k].get("text"), k
        assert np.allclose(after[k]["vector"], before[k]["vector"], atol=1e-6), k
    assert t.count(db, coll) == 298
    # still writable, and the write survives a restart
    t.upsert(db, coll, make_points(1, seed=5, start=1000))
    server.restart()  # sessions live in the catalog: the clients stay logged in
    assert t.count(db, coll) == 299


def test_restore_refuses_what_it_cannot_do_and_changes_nothing(server):
    t, db, coll = make_collection(server, n=120)
    s = snapshot(t, db, coll)
    sid = s["id"]
    e = t.admin.call("POST", f"{t.path}/snapshots/{sid}/restore", {}, status=409,
                     code="already_exists")
    assert "replace" in e["error"]["message"]
    t.admin.call("POST", f"{t.path}/snapshots/{sid}/restore",
                 {"collection": "nothere", "replace": True}, status=404, code="not_found")
    other = t.create_collection(db, dimension=DIM + 1, metric="l2")["name"]
    t.admin.call("POST", f"{t.path}/snapshots/{sid}/restore",
                 {"collection": other, "replace": True}, status=409, code="conflict")
    assert t.count(db, other) == 0
    t.admin.call("POST", f"{t.path}/snapshots/{sid}/restore", {"colection": "x"}, status=400,
                 code="invalid_argument")
    t.admin.call("POST", f"{t.path}/snapshots/not-a-uuid/restore", {}, status=400,
                 code="invalid_argument")
    t.admin.call("POST", f"{t.path}/snapshots/{sid}/restore", {"database": "nodb"},
                 status=404, code="not_found")
    assert t.count(db, coll) == 118


def test_snapshots_are_listed_kept_and_deleted(server):
    t, db, coll = make_collection(server, n=50)
    s1, s2 = snapshot(t, db, coll), snapshot(t, db, coll)
    listed = t.viewer.call("GET", f"{t.coll_path(db, coll)}/snapshots")
    assert [x["id"] for x in listed["items"]] == [s1["id"], s2["id"]]
    assert t.viewer.call("GET", f"{t.path}/snapshots/{s1['id']}")["points"] == 48
    objects = server.data_dir / "objects" / "snapshots"
    assert any(objects.rglob("manifest.json"))
    # the collection goes, its snapshots stay and can be restored
    t.admin.call("DELETE", t.coll_path(db, coll), status=204)
    assert len(t.admin.call("GET", f"{t.path}/snapshots")["items"]) == 2
    t.admin.call("POST", f"{t.path}/snapshots/{s2['id']}/restore", {}, status=201)
    assert t.count(db, coll) == 48
    for s in (s1, s2):
        t.admin.call("DELETE", f"{t.path}/snapshots/{s['id']}", status=204)
        t.admin.call("GET", f"{t.path}/snapshots/{s['id']}", status=404, code="not_found")
        tenant_dir = objects / t.record["id"] / s["id"]
        assert not tenant_dir.exists() or not any(tenant_dir.iterdir())
    # audit: both creations and the restore
    audit = t.admin.call("GET", f"{t.path}/audit", params={"limit": 1000})["items"]
    actions = [a["action"] for a in audit]
    assert actions.count("snapshot.create") == 2
    assert actions.count("snapshot.restore") == 1 and actions.count("snapshot.delete") == 2


def test_snapshots_respect_roles_and_tenants(server):
    t, db, coll = make_collection(server, n=20)
    s = snapshot(t, db, coll)
    t.viewer.call("POST", f"{t.coll_path(db, coll)}/snapshots", status=403,
                  code="permission_denied")
    t.viewer.call("POST", f"{t.path}/snapshots/{s['id']}/restore", {"collection": "v"},
                  status=403, code="permission_denied")
    t.viewer.call("DELETE", f"{t.path}/snapshots/{s['id']}", status=403, code="permission_denied")
    t.auditor.call("GET", f"{t.path}/snapshots", status=403, code="permission_denied")
    snapshot(t, db, coll, by=t.developer)
    other = make_tenant(server, server.login_admin(), roles=("admin",))
    # another tenant's admin cannot learn of it: its id under their tenant is not found
    other.admin.call("GET", f"{other.path}/snapshots/{s['id']}", status=404, code="not_found")
    other.admin.call("POST", f"{other.path}/snapshots/{s['id']}/restore", {}, status=404,
                     code="not_found")
    assert other.admin.call("GET", f"{other.path}/snapshots")["items"] == []


def duckdb_rows(path):
    """(id, vector, payload, text) of every row, read by DuckDB."""
    tools = subprocess.run([str(ROOT / "tests/integration/node-tools.sh"), "--dir"],
                           capture_output=True, text=True, timeout=900, check=True).stdout.strip()
    script = """
const {DuckDBInstance} = require('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const r = await c.runAndReadAll(`SELECT id, vector, payload::VARCHAR AS payload, text
                                   FROM read_parquet('${process.argv[1]}') ORDER BY id`);
  const rows = r.getRowObjectsJson();
  process.stdout.write(JSON.stringify(rows));
})().catch(e => { console.error(e); process.exit(1); });
"""
    p = subprocess.run(["node", "-e", script, str(path)], cwd=tools, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_snapshot_parquet_reads_in_duckdb_as_the_collection(server, tmp_path):
    t, db, coll = make_collection(server, n=150)
    s = snapshot(t, db, coll)
    stored = server.data_dir / "objects" / "snapshots" / t.record["id"] / s["id"] / "data.parquet"
    plain = tmp_path / "data.parquet"
    plain.write_bytes(stored.read_bytes()[LOCAL_HEADER:])
    rows = duckdb_rows(plain)
    pts = all_points(t, db, coll, [f"p{i}" for i in range(150)])
    assert len(rows) == len(pts) == 148
    for r in rows:
        p = pts[r["id"]]
        assert np.array_equal(np.float32(r["vector"]), np.float32(p["vector"])), r["id"]
        assert (json.loads(r["payload"]) if r["payload"] is not None else None) == p["payload"]
        assert r["text"] == p.get("text")


def test_restore_cut_short_is_undone_at_start(server_factory):
    s = server_factory()
    t, db, coll = make_collection(s, n=40)
    cid = t.admin.call("GET", t.coll_path(db, coll))["id"]
    s.stop()
    live = s.collections_dir / cid
    # a crash between the swap's two renames: the data is under <id>.old,
    # a staging copy beside it
    live.rename(s.collections_dir / (cid + ".old"))
    shutil.copytree(s.collections_dir / (cid + ".old"), s.collections_dir / (cid + ".restore"))
    s.start()
    assert t.count(db, coll) == 38
    assert not (s.collections_dir / (cid + ".old")).exists()
    assert not (s.collections_dir / (cid + ".restore")).exists()


def test_deleting_the_tenant_deletes_its_snapshots_and_uploads(server):
    t, db, coll = make_collection(server, n=30)
    snapshot(t, db, coll)
    import requests
    r = requests.put(f"{server.url}{t.path}/uploads/x.bin", data=b"abc" * 100,
                     headers={"Authorization": f"Bearer {t.admin.token}",
                              "Content-Type": "application/octet-stream"}, timeout=30)
    assert r.status_code == 201, r.text
    objects = server.data_dir / "objects"
    tid = t.record["id"]
    assert any((objects / "snapshots" / tid).rglob("*")) and any((objects / "uploads" / tid).rglob("*"))
    server.login_admin().call("DELETE", t.path, status=204)
    for kind in ("snapshots", "uploads"):
        left = [p for p in (objects / kind / tid).rglob("*") if p.is_file()] \
            if (objects / kind / tid).exists() else []
        assert left == [], f"{kind} left behind: {left}"


def test_restore_keeps_the_text_index_parameters_and_finds_the_text(server):
    t = make_tenant(server, server.login_admin())
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2", text={"k1": 1.7, "b": 0.4})["name"]
    pts = make_points(20)
    for i, p in enumerate(pts):
        p["text"] = f"point number {i} " + ("supersonic wedge" if i % 5 == 0 else "laminar plate")
    t.upsert(db, coll, pts)
    s = snapshot(t, db, coll)
    t.admin.call("POST", f"{t.path}/snapshots/{s['id']}/restore", {"collection": coll + "-t"},
                 status=201)
    copy = t.admin.call("GET", t.coll_path(db, coll + "-t"))
    assert copy["text"] == {"k1": 1.7, "b": 0.4}
    q = {"mode": "text", "text": "supersonic wedge", "k": 10}
    a = t.admin.call("POST", f"{t.coll_path(db, coll)}/search", q)["results"]
    b = t.admin.call("POST", f"{t.coll_path(db, coll + '-t')}/search", q)["results"]
    assert [h["id"] for h in b] == [h["id"] for h in a] == ["p0", "p5", "p10", "p15"]
    assert [h["score"] for h in b] == [h["score"] for h in a]
