"""
tests/integration/test_grpc_node.py — a second, independent gRPC client
library: grpc_node_smoke.mjs (@grpc/grpc-js with @grpc/proto-loader, npm,
installed by node-tools.sh) logs in, upserts unary and streaming, reads a
point back, searches, and sends a wrong-dimension batch; this test checks
what it saw and that REST sees the same data.
"""
import json
import subprocess
from pathlib import Path

import pytest

import client as cl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def node_path():
    out = subprocess.run([str(HERE / "node-tools.sh"), "--dir"], capture_output=True, text=True,
                         timeout=900)
    if out.returncode != 0:
        pytest.fail(f"node-tools.sh failed: {out.stderr}", pytrace=False)
    return str(Path(out.stdout.strip()) / "node_modules")


def test_grpc_js_upserts_streams_reads_and_searches(server, sysadmin, node_path):
    t = cl.make_tenant(server, sysadmin, roles=("developer",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=4, metric="l2")["name"]
    u = t.users["developer"]
    run = subprocess.run(["node", str(HERE / "grpc_node_smoke.mjs"), str(ROOT / "proto"),
                          f"127.0.0.1:{server.grpc_port}", t.slug, db, coll, u["username"],
                          u["password"]],
                         capture_output=True, text=True, timeout=120,
                         env={"NODE_PATH": node_path, "PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["upserted"] == 3 and seen["ids"] == ["node-0", "node-1", "node-2"]
    assert seen["acks"] == [{"batch_id": 7, "ids": ["node-s0"]}, {"batch_id": 8, "ids": ["node-s1"]}]
    assert seen["get"] == {"id": "node-1", "vector": [2, 0.5, 0.25, 0.125],
                           "payload_json": '{"i":1}'}
    assert [h["id"] for h in seen["hits"]] == ["node-0", "node-1"]
    assert seen["hits"][0]["distance"] == pytest.approx(0.0, abs=1e-6)
    assert seen["refused"]["code"] == 3  # INVALID_ARGUMENT
    assert "dimension" in seen["refused"]["details"]
    assert t.count(db, coll) == 5
    assert t.developer.call("GET", f"{t.coll_path(db, coll)}/points/node-s1")["id"] == "node-s1"
