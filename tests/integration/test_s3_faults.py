"""
AkiDB on a real S3 wire protocol (s3rver on loopback, started and stopped
here) and what happens when it fails:

  * snapshots and cold copies land in the bucket; boto3 reads them back (the
    Parquet file by DuckDB too); a snapshot restores from S3;
  * s3rver killed: a move to the cold tier fails fast, the collection stays
    warm with its data, the move waits in the dead-letter queue, the circuit
    breaker opens (status route and /metrics); s3rver back: the breaker
    half-opens and closes, the queue drains, the collection goes cold;
  * s3rver killed in the middle of an upload (a proxy cuts the request
    stream and kills it) while a client keeps writing: the breaker opens,
    half-opens and closes (probes counted in /metrics), the dead-letter
    queue drains, every acknowledged point is there;
  * s3rver paused (SIGSTOP): calls time out within their configured time;
  * an object corrupted in s3rver's directory: the download is refused by
    its checksum and nothing is lost or deleted;
  * akidb killed during a cold upload and during a cold download: after a
    restart the collection is whole and in exactly one place.
Zero acknowledged points are lost in every case.
"""
import subprocess
import threading
import time

import pytest

from client import gaussian_points, make_tenant, wait_until
from s3server import BUCKET, CuttingProxy, S3rver

DIM = 16
CONFIG = """
[object_store]
connect_timeout_ms = 500
request_timeout_ms = 3000
max_retries = 1
retry_base_ms = 20
retry_max_ms = 100
breaker_failures = 2
breaker_cooldown_ms = 500
dead_letter_retry_ms = 300
"""


@pytest.fixture
def s3(tmp_path):
    srv = S3rver(tmp_path).start()
    yield srv
    srv.kill()


def points(start, n, seed=11):
    return gaussian_points(DIM, start, n, seed)


def make_collection(server, n=300):
    t = make_tenant(server, server.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2")
    for i in range(0, n, 500):
        t.upsert(db, coll["name"], points(i, min(500, n - i)))
    return t, db, coll


def status(server):
    return server.login_admin().call("GET", "/v1/system/object-store")


def tier(t, db, name):
    return t.admin.call("GET", t.coll_path(db, name))["tier"]


def bucket_keys(s3, prefix=""):
    c = s3.boto3()
    keys, token = [], None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        r = c.list_objects_v2(**kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return keys
        token = r["NextContinuationToken"]


def test_snapshot_and_cold_copy_in_s3_read_back_by_boto3(server_factory, s3, tmp_path):
    srv = server_factory(config=CONFIG, env=s3.env())
    assert status(srv)["kind"] == "s3" and status(srv)["endpoint"] == s3.endpoint
    t, db, coll = make_collection(srv)
    snap = t.admin.call("POST", f"{t.coll_path(db, coll['name'])}/snapshots", status=201)
    keys = bucket_keys(s3, "snapshots/")
    data = [k for k in keys if k.endswith(snap["id"] + "/data.parquet")]
    assert len(data) == 1 and any(k.endswith(snap["id"] + "/manifest.json") for k in keys)
    body = s3.boto3().get_object(Bucket=BUCKET, Key=data[0])["Body"].read()
    assert body[:4] == b"PAR1" and body[-4:] == b"PAR1"
    from test_snapshots import duckdb_rows
    path = tmp_path / "snap.parquet"
    path.write_bytes(body)
    rows = duckdb_rows(path)
    assert sorted(r["id"] for r in rows) == sorted(f"p{i}" for i in range(300))
    t.admin.call("POST", f"{t.path}/snapshots/{snap['id']}/restore", {"collection": "copy"},
                 status=201)
    assert t.count(db, "copy") == 300
    # a cold copy: files then manifest, readable by anyone with the bucket
    t.admin.call("PATCH", t.coll_path(db, coll["name"]), {"tier": "cold"})
    cold = bucket_keys(s3, f"cold/{coll['id']}/")
    assert any(k.endswith("/manifest.json") for k in cold)
    assert any("/files/collection.meta" in k for k in cold)
    assert t.count(db, coll["name"]) == 300  # back from S3
    wait_until(lambda: bucket_keys(s3, f"cold/{coll['id']}/") == [], "remote copy deleted")


def test_dead_store_breaker_and_dead_letter_queue(server_factory, s3):
    srv = server_factory(config=CONFIG, env=s3.env())
    t, db, coll = make_collection(srv, n=400)
    name = coll["name"]
    s3.kill()
    e = t.admin.call("PATCH", t.coll_path(db, name), {"tier": "cold"}, status=503,
                     code="unavailable")
    assert "stays warm" in e["error"]["message"]
    assert tier(t, db, name) in ("warm", "hot")
    assert t.count(db, name) == 400  # nothing lost, still served locally
    t.upsert(db, name, points(400, 10))  # and still writable
    st = status(srv)
    assert st["dead_letters"] == 1
    wait_until(lambda: status(srv)["breaker"]["state"] == "open", "breaker open", timeout=20)
    letters = srv.login_admin().call("GET", "/v1/system/dead-letters")["items"]
    assert letters[0]["kind"] == "cold_upload" and letters[0]["collection_id"] == coll["id"]
    assert letters[0]["last_error"]
    metrics = srv.client().get("/metrics").text
    assert "akidb_object_store_breaker_state 2" in metrics
    assert "akidb_dead_letters 1" in metrics
    # s3rver back on the same port: the probe closes the breaker, the queue drains
    s3.start()
    wait_until(lambda: status(srv)["dead_letters"] == 0, "dead-letter queue drained", timeout=60)
    assert status(srv)["breaker"]["state"] == "closed"
    assert status(srv)["breaker"]["opens"] >= 1
    assert tier(t, db, name) == "cold"
    assert t.count(db, name) == 410  # every acknowledged point


def metric(srv, name):
    for line in srv.client().get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


class Writer(threading.Thread):
    """Upserts batches of new points until stopped; keeps the acknowledged ids."""

    def __init__(self, t, db, name):
        super().__init__(daemon=True)
        self.t, self.db, self.name = t, db, name
        self.acked, self.refused = set(), 0
        self.stop = threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            batch = points(100000 + i, 20, seed=i)
            for k, p in enumerate(batch):
                p["id"] = f"w{i + k}"
            r = self.t.admin.post(self.t.coll_path(self.db, self.name) + "/points",
                                  json={"points": batch})
            if r.status_code == 200:
                self.acked.update(p["id"] for p in batch)
            else:
                self.refused += 1
            i += 20
            time.sleep(0.01)


def test_store_killed_mid_upload_while_writes_go_on(server_factory, s3):
    proxy = CuttingProxy(s3.port)
    try:
        env = s3.env()
        env["AKIDB_S3_ENDPOINT"] = proxy.endpoint
        srv = server_factory(config=CONFIG, env=env)
        t, db, coll = make_collection(srv, n=6000)
        name = coll["name"]
        writer = Writer(t, db, name)
        writer.start()
        wait_until(lambda: len(writer.acked) >= 100, "the writer's first acknowledgements")
        # the move's first files go through, then s3rver dies 100 KB into the requests
        proxy.arm(100_000, s3.kill)
        e = t.admin.call("PATCH", t.coll_path(db, name), {"tier": "cold"}, status=503,
                         code="unavailable")
        assert proxy.fired.is_set(), "the cut never happened: the upload was too small"
        assert "stays warm" in e["error"]["message"]
        assert tier(t, db, name) in ("warm", "hot")
        wait_until(lambda: status(srv)["breaker"]["state"] == "open", "breaker open", timeout=20)
        assert metric(srv, "akidb_object_store_breaker_state") == 2
        # the move waits in the queue (and the cleanup of what reached S3 before the cut)
        letters = srv.login_admin().call("GET", "/v1/system/dead-letters")["items"]
        assert "cold_upload" in [d["kind"] for d in letters]
        assert metric(srv, "akidb_dead_letters") == len(letters)
        probes_before = metric(srv, "akidb_object_store_breaker_probes_total")
        s3.start()  # back on the same port, behind the same proxy
        acked = len(writer.acked)
        wait_until(lambda: len(writer.acked) >= acked + 200, "writes after the restart")
        # the queued move waits while the collection is in use; once idle it goes
        writer.stop.set()
        writer.join(timeout=30)
        wait_until(lambda: status(srv)["dead_letters"] == 0, "dead-letter queue drained",
                   timeout=60)
        assert status(srv)["breaker"]["state"] == "closed"
        assert metric(srv, "akidb_object_store_breaker_state") == 0
        assert metric(srv, "akidb_object_store_breaker_opens_total") >= 1
        # closed again through a half-open probe that succeeded
        assert metric(srv, "akidb_object_store_breaker_probes_total") > probes_before
        # the queued move went through (the writer's next batch, if one came after it,
        # brought the collection back)
        assert metric(srv, 'akidb_collection_cold_moves_total{to="cold",outcome="ok"}') >= 1
        assert tier(t, db, name) in ("cold", "hot")
        assert t.count(db, name) == 6000 + len(writer.acked)  # every acknowledged point
        got = t.admin.call("POST", t.coll_path(db, name) + "/points/get",
                           {"ids": sorted(writer.acked)[:200]})
        assert len(got["points"]) == 200 and got["missing"] == []
    finally:
        proxy.close()


def test_paused_store_times_out_and_recovers(server_factory, s3):
    srv = server_factory(config=CONFIG, env=s3.env())
    t, db, coll = make_collection(srv, n=100)
    s3.pause()
    try:
        t0 = time.monotonic()
        t.admin.call("PATCH", t.coll_path(db, coll["name"]), {"tier": "cold"}, status=503,
                     code="unavailable")
        # request_timeout_ms 3000 x (1 + max_retries 1) plus backoff, with room
        assert time.monotonic() - t0 < 20
    finally:
        s3.resume()
    wait_until(lambda: status(srv)["dead_letters"] == 0, "queue drained after resume", timeout=60)
    assert tier(t, db, coll["name"]) == "cold"
    assert t.count(db, coll["name"]) == 100


def test_corrupt_cold_object_is_refused_and_nothing_is_lost(server_factory, s3):
    srv = server_factory(config=CONFIG, env=s3.env())
    t, db, coll = make_collection(srv, n=200)
    name = coll["name"]
    t.admin.call("PATCH", t.coll_path(db, name), {"tier": "cold"})
    victims = s3.object_files("collection.meta")
    assert victims, "no stored collection.meta in s3rver's directory"
    original = victims[0].read_bytes()
    victims[0].write_bytes(bytes([original[0] ^ 0xFF]) + original[1:])
    e = t.admin.call("GET", f"{t.coll_path(db, name)}/count", status=503, code="unavailable")
    assert "checksum" in e["error"]["message"] or "corrupt" in e["error"]["message"]
    assert tier(t, db, name) == "cold"  # still where it was, nothing deleted
    assert bucket_keys(s3, f"cold/{coll['id']}/")
    victims[0].write_bytes(original)  # repaired: the next use loads it
    assert t.count(db, name) == 200


@pytest.mark.parametrize("delay_s", [0.05, 0.3])
def test_kill_during_cold_upload_and_download(server_factory, s3, delay_s):
    srv = server_factory(config=CONFIG, env=s3.env())
    t, db, coll = make_collection(srv, n=6000)
    name, cid = coll["name"], coll["id"]

    def patch():
        try:
            t.admin.patch(t.coll_path(db, name), json={"tier": "cold"})
        except Exception:
            pass  # the server dies under it

    th = threading.Thread(target=patch)
    th.start()
    time.sleep(delay_s)
    srv.kill()
    th.join(timeout=30)
    srv.start()
    assert t.count(db, name) == 6000
    # one place: loaded by the count, so local; whatever the cut-short upload
    # left in the bucket is deleted (its intent is due at start)
    assert tier(t, db, name) == "hot"
    assert (srv.collections_dir / cid).exists()
    wait_until(lambda: bucket_keys(s3, f"cold/{cid}/") == [],
               "no stale remote copy of a local collection", timeout=30)
    # now down: kill during the download of a cold collection
    t.admin.call("PATCH", t.coll_path(db, name), {"tier": "cold"})
    assert not (srv.collections_dir / cid).exists()

    def count():
        try:
            t.admin.get(f"{t.coll_path(db, name)}/count")
        except Exception:
            pass

    th = threading.Thread(target=count)
    th.start()
    time.sleep(delay_s / 5)
    srv.kill()
    th.join(timeout=30)
    srv.start()
    assert not list(srv.collections_dir.glob(cid + ".download"))
    assert t.count(db, name) == 6000
    assert (srv.collections_dir / cid).exists()
    wait_until(lambda: bucket_keys(s3, f"cold/{cid}/") == [], "remote copy deleted", timeout=30)
