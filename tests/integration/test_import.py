"""
Bringing embeddings a user already has: a Parquet file written by DuckDB
(an id column, a FLOAT[] or DOUBLE[] vector column, other columns) is
uploaded (PUT .../uploads/{name}, raw bytes) and imported into a collection
(POST .../import): every row arrives with its vector and its other columns
in the payload. A bad file (wrong dimension, not Parquet, NaN) is refused
naming the row or the cause and writes nothing; uploads are per tenant.
"""
import json
import subprocess
from pathlib import Path

import numpy as np
import requests

from client import make_tenant

ROOT = Path(__file__).resolve().parents[2]
DIM = 8


def duckdb(sql):
    tools = subprocess.run([str(ROOT / "tests/integration/node-tools.sh"), "--dir"],
                           capture_output=True, text=True, timeout=900, check=True).stdout.strip()
    script = """
const {DuckDBInstance} = require('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(process.argv[1]);
})().catch(e => { console.error(e); process.exit(1); });
"""
    p = subprocess.run(["node", "-e", script, sql], cwd=tools, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr


def write_file(path, n, dim=DIM, vtype="FLOAT", nan_row=None):
    vec = f"[(i * 7 + d) % 13 - 6.0 for d in range(0, {dim})]"
    vec_sql = (f"list_transform(range(0, {dim}), d -> (((i * 7 + d) % 13) - 6)::{vtype})"
               f"::{vtype}[]")
    if nan_row is not None:
        vec_sql = (f"CASE WHEN i = {nan_row} THEN list_transform(range(0, {dim}), d -> "
                   f"'nan'::{vtype})::{vtype}[] ELSE {vec_sql} END")
    duckdb(f"COPY (SELECT i AS id, {vec_sql} AS vector, 'title ' || i AS title, "
           f"i * 2 AS year, i % 2 = 0 AS even FROM range(0, {n}) t(i)) "
           f"TO '{path}' (FORMAT parquet)")
    del vec


def upload(t, name, path, content_type="application/octet-stream", status=201):
    r = requests.put(f"{t.server.url}{t.path}/uploads/{name}", data=Path(path).read_bytes(),
                     headers={"Authorization": f"Bearer {t.admin.token}",
                              "Content-Type": content_type}, timeout=60)
    assert r.status_code == status, r.text
    return r.json() if r.text else None


def test_duckdb_file_imports_row_for_row(server, tmp_path):
    t = make_tenant(server, server.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    path = tmp_path / "emb.parquet"
    write_file(path, 2500)
    up = upload(t, "emb.parquet", path)
    assert up["name"] == "emb.parquet" and up["bytes"] == path.stat().st_size
    listed = t.admin.call("GET", f"{t.path}/uploads")["items"]
    assert [u["name"] for u in listed] == ["emb.parquet"]
    r = t.admin.call("POST", f"{t.coll_path(db, coll)}/import", {"upload": "emb.parquet"})
    assert r == {"upload": "emb.parquet", "imported": 2500}
    assert t.count(db, coll) == 2500
    got = t.admin.call("POST", f"{t.coll_path(db, coll)}/points/get",
                       {"ids": ["0", "1234", "2499"], "with_vector": True})["points"]
    for p in got:
        i = int(p["id"])
        assert p["vector"] == [float((i * 7 + d) % 13 - 6) for d in range(DIM)]
        assert p["payload"] == {"title": f"title {i}", "year": i * 2, "even": i % 2 == 0}
    t.admin.call("DELETE", f"{t.path}/uploads/emb.parquet", status=204)
    t.admin.call("DELETE", f"{t.path}/uploads/emb.parquet", status=404, code="not_found")


def test_double_vectors_and_chosen_columns(server, tmp_path):
    t = make_tenant(server, server.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="cosine")["name"]
    path = tmp_path / "dbl.parquet"
    write_file(path, 300, vtype="DOUBLE")
    upload(t, "dbl.parquet", path, content_type="application/vnd.apache.parquet")
    r = t.admin.call("POST", f"{t.coll_path(db, coll)}/import",
                     {"upload": "dbl.parquet", "id_column": "title", "extra_columns": False})
    assert r["imported"] == 300
    p = t.admin.call("GET", f"{t.coll_path(db, coll)}/points/title%2042")
    assert p["id"] == "title 42" and p["payload"] is None


def test_bad_files_are_refused_and_write_nothing(server, tmp_path):
    t = make_tenant(server, server.login_admin(), roles=("admin", "viewer"))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    wrong = tmp_path / "wrong.parquet"
    write_file(wrong, 50, dim=DIM + 1)
    upload(t, "wrong.parquet", wrong)
    e = t.admin.call("POST", f"{t.coll_path(db, coll)}/import", {"upload": "wrong.parquet"},
                     status=400, code="invalid_argument")
    assert "row 0" in e["error"]["message"] and "dimension" in e["error"]["message"]
    nan = tmp_path / "nan.parquet"
    write_file(nan, 3000, nan_row=2222)
    upload(t, "nan.parquet", nan)
    e = t.admin.call("POST", f"{t.coll_path(db, coll)}/import", {"upload": "nan.parquet"},
                     status=400, code="invalid_argument")
    assert "row 2222" in e["error"]["message"]
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"this is not parquet at all, just text" * 10)
    upload(t, "junk.bin", junk)
    e = t.admin.call("POST", f"{t.coll_path(db, coll)}/import", {"upload": "junk.bin"},
                     status=400, code="invalid_argument")
    assert "Parquet" in e["error"]["message"]
    assert t.count(db, coll) == 0  # nothing written by any of them
    t.admin.call("POST", f"{t.coll_path(db, coll)}/import", {"upload": "absent.parquet"},
                 status=404, code="not_found")
    t.admin.call("POST", f"{t.coll_path(db, coll)}/import", {}, status=400,
                 code="invalid_argument")
    upload(t, "bad..type", junk, content_type="application/json", status=415)
    upload(t, ".hidden", junk, status=400)
    r = requests.put(f"{server.url}{t.path}/uploads/x.parquet", data=junk.read_bytes(),
                     headers={"Authorization": f"Bearer {t.viewer.token}",
                              "Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 403
    other = make_tenant(server, server.login_admin(), roles=("admin",))
    odb = other.create_db()
    oc = other.create_collection(odb, dimension=DIM, metric="l2")["name"]
    other.admin.call("POST", f"{other.coll_path(odb, oc)}/import", {"upload": "wrong.parquet"},
                     status=404, code="not_found")  # another tenant's upload is not there
