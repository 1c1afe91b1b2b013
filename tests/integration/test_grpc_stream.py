"""
tests/integration/test_grpc_stream.py — the streaming methods of the gRPC
transport, and what every call gets (deadlines, metrics, the access log,
TLS), against the real server (conftest.py starts it with --grpc-port):

  * UpsertStream: one acknowledgement per durable batch, in order, with the
    client's batch ids; the first refused batch ends the call with its
    status and keeps exactly the batches acknowledged before it; a client
    that cuts the stream keeps exactly what was acknowledged (lockstep) or
    whole batches (pipelined); the stream's path rules;
  * Scan: every point in write order, batch by batch, resumable from a
    `next` cursor, vectors on request, the same points REST's export gives;
  * SearchStream: one answer per query, in order, the same hits as unary
    Search and REST; the first refused query ends the call with its status
    after the answers before it; closing the client side ends it OK; the
    role rules of Search;
  * PutUpload: chunks gathered into one upload (size and CRC-32C as REST
    shows them), the size limit, the first message's names;
  * a deadline that passes during a batch search stops it on the server
    (the access log records DEADLINE_EXCEEDED);
  * /metrics counts calls by method and status code; the access log has a
    line per call;
  * TLS with the REST certificate settings.
Needs python3-grpcio, the stubs of grpc_stubs.py and openssl (TLS test).
"""
import os
import re
import shutil
import subprocess
import threading
import time

import grpc
import pytest
import requests

import client as cl
from client import expect
from conftest import akidb_bin, free_port




@pytest.fixture(scope="module")
def tenant(server, sysadmin):
    return cl.make_tenant(server, sysadmin, roles=("admin", "developer", "viewer", "auditor"))


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def batch(stubs, b, n=10, dim=4, first=None, **names):
    pts = [stubs.common_pb2.PointInput(id=f"b{b}-{i}", vector=[b + 1.0, i + 1.0] + [0.5] * (dim - 2),
                                       payload_json='{"b": %d, "i": %d}' % (b, i))
           for i in range(n)]
    return stubs.points_pb2.UpsertStreamRequest(points=pts, batch_id=1000 + b, **names)


def names(tenant, db, coll):
    return {"tenant": tenant.slug, "database": db, "collection": coll}


def new_collection(tenant, dim=4):
    db = tenant.create_db()
    return db, tenant.create_collection(db, dimension=dim, metric="l2")["name"]


def ids_of(tenant, db, coll):
    """Every id of the collection, through REST's export."""
    out, after = [], None
    while True:
        params = {"limit": 1000}
        if after:
            params["after"] = after
        page = tenant.viewer.call("GET", f"{tenant.coll_path(db, coll)}/points", params=params)
        out += [p["id"] for p in page["points"]]
        after = page["next"]
        if after is None:
            return out


# ---------------------------------------------------------- UpsertStream --


def test_upsert_stream_acknowledges_each_durable_batch_in_order(stubs, channel, tenant):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    reqs = [batch(stubs, 0, **names(tenant, db, coll))] + [batch(stubs, b) for b in range(1, 5)]
    acks = list(pts.UpsertStream(iter(reqs), metadata=bearer(tenant.developer.token), timeout=60))
    assert [a.batch_id for a in acks] == [1000, 1001, 1002, 1003, 1004]
    assert all(a.upserted == 10 for a in acks)
    assert list(acks[2].ids) == [f"b2-{i}" for i in range(10)]
    assert tenant.count(db, coll) == 50
    assert ids_of(tenant, db, coll) == [f"b{b}-{i}" for b in range(5) for i in range(10)]
    got = tenant.viewer.call("GET", f"{tenant.coll_path(db, coll)}/points/b3-4")
    assert got["payload"] == {"b": 3, "i": 4}


def test_upsert_stream_refused_batch_ends_the_call_and_keeps_the_acknowledged(stubs, channel,
                                                                              tenant):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    bad = batch(stubs, 2)
    bad.points[7].vector.pop()  # wrong dimension in the third batch
    reqs = [batch(stubs, 0, **names(tenant, db, coll)), batch(stubs, 1), bad, batch(stubs, 3)]
    call = pts.UpsertStream(iter(reqs), metadata=bearer(tenant.developer.token), timeout=60)
    acks = []
    with pytest.raises(grpc.RpcError) as e:
        for a in call:
            acks.append(a.batch_id)
    assert acks == [1000, 1001]
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "points[7]" in e.value.details() and "dimension" in e.value.details()
    assert ids_of(tenant, db, coll) == [f"b{b}-{i}" for b in range(2) for i in range(10)]


def test_upsert_stream_cut_by_the_client_keeps_exactly_the_acknowledged(stubs, channel, tenant):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    acked = threading.Semaphore(0)
    sent = []

    def lockstep():  # each batch only after the last one's acknowledgement
        for b in range(100):
            if b:
                acked.acquire()
            sent.append(b)
            yield batch(stubs, b, **(names(tenant, db, coll) if b == 0 else {}))

    call = pts.UpsertStream(lockstep(), metadata=bearer(tenant.developer.token), timeout=60)
    got = []
    for a in call:
        got.append(a.batch_id)
        if len(got) == 3:
            call.cancel()
            acked.release()
            break
        acked.release()
    assert got == [1000, 1001, 1002]
    time.sleep(0.3)  # let a batch the client might have sent after the cut reach the server
    want = [f"b{b}-{i}" for b in range(3) for i in range(10)]
    assert ids_of(tenant, db, coll) == want, f"sent {sent}"


def test_upsert_stream_cut_while_pipelining_keeps_whole_batches(stubs, channel, tenant):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    reqs = [batch(stubs, 0, n=200, **names(tenant, db, coll))] + [
        batch(stubs, b, n=200) for b in range(1, 40)]
    call = pts.UpsertStream(iter(reqs), metadata=bearer(tenant.developer.token), timeout=60)
    got = []
    for a in call:
        got.append(a.batch_id)
        if len(got) == 5:
            call.cancel()
            break
    time.sleep(0.3)
    ids = ids_of(tenant, db, coll)
    kept = sorted({int(i.split("-")[0][1:]) for i in ids})
    assert len(ids) == 200 * len(kept), "a batch was written in part"
    assert kept == list(range(len(kept))) and len(kept) >= 5, kept  # in order, acked ones kept


def test_upsert_stream_path_rules(stubs, channel, tenant):
    db, coll = new_collection(tenant)
    other_db, other = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(tenant.developer.token)
    with pytest.raises(grpc.RpcError) as e:
        list(pts.UpsertStream(iter([batch(stubs, 0)]), metadata=md, timeout=30))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "first message" in e.value.details()
    reqs = [batch(stubs, 0, **names(tenant, db, coll)), batch(stubs, 1, **names(tenant, other_db,
                                                                                 other))]
    call = pts.UpsertStream(iter(reqs), metadata=md, timeout=30)
    assert next(call).batch_id == 1000
    with pytest.raises(grpc.RpcError) as e:
        next(call)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "another collection" in e.value.details()
    assert tenant.count(db, coll) == 10 and tenant.count(other_db, other) == 0
    # an empty stream is fine: nothing to acknowledge
    assert list(pts.UpsertStream(iter([]), metadata=md, timeout=30)) == []
    # the viewer may not write: refused at the first batch, nothing written
    with pytest.raises(grpc.RpcError) as e:
        list(pts.UpsertStream(iter([batch(stubs, 5, **names(tenant, db, coll))]),
                              metadata=bearer(tenant.viewer.token), timeout=30))
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert tenant.count(db, coll) == 10


# ------------------------------------------------------------------ Scan --


def test_scan_streams_every_point_in_write_order_and_resumes(stubs, channel, tenant):
    db, coll = new_collection(tenant, dim=3)
    rows = [{"id": f"s{i:04d}", "vector": [i, 1, 2], "payload": {"i": i}} for i in range(2500)]
    for k in range(0, 2500, 500):
        tenant.upsert(db, coll, rows[k:k + 500])
    tenant.upsert(db, coll, [{"id": "s0001", "vector": [7, 7, 7], "payload": {"i": -1}}])
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(tenant.viewer.token)
    req = stubs.points_pb2.ScanRequest(batch_size=1000, **names(tenant, db, coll))
    msgs = list(pts.Scan(req, metadata=md, timeout=60))
    assert [len(m.points) for m in msgs] == [1000, 1000, 500]
    ids = [p.id for m in msgs for p in m.points]
    assert ids == [f"s{i:04d}" for i in range(2500) if i != 1] + ["s0001"]
    assert ids == ids_of(tenant, db, coll)
    assert msgs[-1].next == "" and msgs[0].next != ""
    assert msgs[-1].points[-1].payload_json == '{"i":-1}' and not msgs[0].points[0].vector
    # resume after the first message
    rest = list(pts.Scan(stubs.points_pb2.ScanRequest(batch_size=1000, after=msgs[0].next,
                                                      with_vector=True,
                                                      **names(tenant, db, coll)),
                         metadata=md, timeout=60))
    assert [p.id for m in rest for p in m.points] == ids[1000:]
    assert list(rest[-1].points[-1].vector) == [7.0, 7.0, 7.0]


def test_scan_refusals_and_empty_collection(stubs, channel, tenant):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(tenant.viewer.token)
    assert list(pts.Scan(stubs.points_pb2.ScanRequest(**names(tenant, db, coll)), metadata=md,
                         timeout=30)) == []
    cases = [
        (stubs.points_pb2.ScanRequest(batch_size=10001, **names(tenant, db, coll)), md,
         grpc.StatusCode.INVALID_ARGUMENT, "batch_size"),
        (stubs.points_pb2.ScanRequest(after="bogus", **names(tenant, db, coll)), md,
         grpc.StatusCode.INVALID_ARGUMENT, "'after'"),
        (stubs.points_pb2.ScanRequest(tenant=tenant.slug, database=db, collection="nope"), md,
         grpc.StatusCode.NOT_FOUND, "nope"),
        (stubs.points_pb2.ScanRequest(**names(tenant, db, coll)),
         bearer(tenant.auditor.token), grpc.StatusCode.PERMISSION_DENIED, ""),
    ]
    for req, meta, code, word in cases:
        with pytest.raises(grpc.RpcError) as e:
            list(pts.Scan(req, metadata=meta, timeout=30))
        assert e.value.code() == code, (req, e.value.details())
        assert word in e.value.details()


# ---------------------------------------------------------- SearchStream --


def search_req(stubs, tenant, db, coll, q, k=3, **extra):
    return stubs.points_pb2.SearchStreamRequest(search=stubs.points_pb2.SearchRequest(
        tenant=tenant.slug, database=db, collection=coll, vector=q, k=k, **extra))


def filled_collection(stubs, channel, tenant):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    pts.Upsert(stubs.points_pb2.UpsertRequest(points=batch(stubs, 0, n=20).points,
                                              **names(tenant, db, coll)),
               metadata=bearer(tenant.developer.token), timeout=30)
    return db, coll


def test_search_stream_answers_each_query_in_order_like_search_and_rest(stubs, channel, tenant):
    db, coll = filled_collection(stubs, channel, tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(tenant.viewer.token)
    queries = [[1.0, float(i), 0.5, 0.5] for i in (3, 17, 0, 9, 12)]
    answers = list(pts.SearchStream(iter(search_req(stubs, tenant, db, coll, q) for q in queries),
                                    metadata=md, timeout=30))
    assert len(answers) == len(queries)
    for q, a in zip(queries, answers):
        unary = pts.Search(search_req(stubs, tenant, db, coll, q).search, metadata=md, timeout=30)
        rest = tenant.viewer.call("POST", f"{tenant.coll_path(db, coll)}/search",
                                  {"vector": q, "k": 3})
        ids = [h.id for h in a.results]
        assert ids == [h.id for h in unary.results] == [h["id"] for h in rest["results"]]
        assert ids[0] == f"b0-{max(int(q[1]) - 1, 0)}"  # point i has vector [1, i+1, .5, .5]
        assert [h.distance for h in a.results] == pytest.approx([h.distance for h in unary.results])


def test_search_stream_with_no_query_ends_ok(stubs, channel, tenant):
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    call = pts.SearchStream(iter(()), metadata=bearer(tenant.viewer.token), timeout=30)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


def test_search_stream_first_refused_query_ends_the_call_after_earlier_answers(stubs, channel,
                                                                               tenant):
    db, coll = filled_collection(stubs, channel, tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(tenant.viewer.token)
    good = [1.0, 2.0, 0.5, 0.5]
    cases = [
        (search_req(stubs, tenant, db, coll, [1.0, 2.0, 0.5]), grpc.StatusCode.INVALID_ARGUMENT,
         "dimension"),
        (search_req(stubs, tenant, db, "nope", good), grpc.StatusCode.NOT_FOUND, "nope"),
        (search_req(stubs, tenant, db, coll, good, k=100000), grpc.StatusCode.INVALID_ARGUMENT,
         "'k'"),
        (stubs.points_pb2.SearchStreamRequest(), grpc.StatusCode.INVALID_ARGUMENT, "'search'"),
    ]
    for bad, code, word in cases:
        reqs = [search_req(stubs, tenant, db, coll, good)] * 2 + [bad] + \
               [search_req(stubs, tenant, db, coll, good)]
        got = []
        with pytest.raises(grpc.RpcError) as e:
            for a in pts.SearchStream(iter(reqs), metadata=md, timeout=30):
                got.append([h.id for h in a.results])
        assert len(got) == 2 and got[0] == got[1] and len(got[0]) == 3
        assert e.value.code() == code, e.value.details()
        assert word in e.value.details()


def test_search_stream_follows_the_role_rules_of_search(stubs, channel, tenant):
    db, coll = filled_collection(stubs, channel, tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    q = [1.0, 2.0, 0.5, 0.5]
    for role in ("admin", "developer", "viewer"):
        got = list(pts.SearchStream(iter([search_req(stubs, tenant, db, coll, q)]),
                                    metadata=bearer(getattr(tenant, role).token), timeout=30))
        assert len(got) == 1 and len(got[0].results) == 3, role
    for meta, code in ((bearer(tenant.auditor.token), grpc.StatusCode.PERMISSION_DENIED),
                       ((), grpc.StatusCode.UNAUTHENTICATED)):
        with pytest.raises(grpc.RpcError) as e:
            list(pts.SearchStream(iter([search_req(stubs, tenant, db, coll, q)]), metadata=meta,
                                  timeout=30))
        assert e.value.code() == code


# ------------------------------------------------------------- PutUpload --


def upload_chunks(stubs, tenant_slug, name, data, chunk=64 * 1024):
    first = True
    for k in range(0, len(data), chunk):
        kw = {"tenant": tenant_slug, "upload": name} if first else {}
        first = False
        yield stubs.uploads_pb2.PutUploadRequest(data=data[k:k + chunk], **kw)


def test_put_upload_gathers_the_chunks(stubs, channel, tenant):
    up = stubs.uploads_pb2_grpc.UploadServiceStub(channel)
    data = bytes(range(256)) * 4000 + b"tail"  # 1,024,004 bytes in 16 chunks
    r = up.PutUpload(upload_chunks(stubs, tenant.slug, "grpc-up.bin", data),
                     metadata=bearer(tenant.developer.token), timeout=60)
    assert r.name == "grpc-up.bin" and r.bytes == len(data)
    assert re.fullmatch(r"[0-9a-f]{8}", r.crc32c)
    listed = tenant.developer.call("GET", f"/v1/tenants/{tenant.slug}/uploads")
    got = {u["name"]: u for u in listed["items"]}["grpc-up.bin"]
    assert got["bytes"] == len(data)
    # the same bytes through REST give the same CRC-32C
    rest = expect(tenant.developer.request(
        "PUT", f"/v1/tenants/{tenant.slug}/uploads/rest-up.bin", data=data,
        headers={"Content-Type": "application/octet-stream"}), 201)
    assert rest["crc32c"] == r.crc32c


def test_put_upload_refusals_store_nothing(stubs, channel, tenant, server_factory):
    up = stubs.uploads_pb2_grpc.UploadServiceStub(channel)
    md = bearer(tenant.developer.token)
    listed = lambda: {u["name"] for u in tenant.developer.call(  # noqa: E731
        "GET", f"/v1/tenants/{tenant.slug}/uploads")["items"]}
    before = listed()
    with pytest.raises(grpc.RpcError) as e:
        up.PutUpload(iter([stubs.uploads_pb2.PutUploadRequest(data=b"x")]), metadata=md,
                     timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "first message" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        up.PutUpload(iter([]), metadata=md, timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    two = [stubs.uploads_pb2.PutUploadRequest(tenant=tenant.slug, upload="a.bin", data=b"1"),
           stubs.uploads_pb2.PutUploadRequest(upload="b.bin", data=b"2")]
    with pytest.raises(grpc.RpcError) as e:
        up.PutUpload(iter(two), metadata=md, timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        up.PutUpload(upload_chunks(stubs, tenant.slug, ".hidden", b"abc"), metadata=md,
                     timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert listed() == before
    # over limits.max_body_bytes in total: RESOURCE_EXHAUSTED, nothing stored
    s = server_factory(config="[limits]\nmax_body_bytes = 100000\n")
    admin = cl.login(s, s.admin_user, s.admin_password)
    ch = grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}")
    try:
        t = cl.make_tenant(s, admin, roles=("developer",))
        small = stubs.uploads_pb2_grpc.UploadServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            small.PutUpload(upload_chunks(stubs, t.slug, "big.bin", b"z" * 150000, chunk=50000),
                            metadata=bearer(t.developer.token), timeout=30)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "max_body_bytes" in e.value.details()
        assert t.developer.call("GET", f"/v1/tenants/{t.slug}/uploads")["items"] == []
    finally:
        ch.close()


# ------------------------------------------- deadlines, metrics, the log --


def test_deadline_during_a_batch_search_stops_it_on_the_server(stubs, channel, tenant, server):
    db, coll = new_collection(tenant, dim=64)
    rows = [{"id": f"d{i}", "vector": [((i * 7 + j) % 13) / 13.0 + 0.01 for j in range(64)]}
            for i in range(20000)]
    for k in range(0, 20000, 5000):
        tenant.upsert(db, coll, rows[k:k + 5000])
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    queries = [stubs.common_pb2.Vector(values=r["vector"]) for r in rows[:10000]]
    req = stubs.points_pb2.SearchRequest(vectors=queries, k=10, exact=True,
                                         **names(tenant, db, coll))
    rid = f"deadline-{time.monotonic_ns()}"
    with pytest.raises(grpc.RpcError) as e:
        pts.Search(req, metadata=bearer(tenant.viewer.token) + (("x-request-id", rid),),
                   timeout=0.5)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # the server saw the deadline pass (10,000 exact queries over 20,000
    # points would otherwise have run to the end and been logged OK)
    line = wait_for_log(server, rid)
    assert "grpc_status=DEADLINE_EXCEEDED" in line, line


def wait_for_log(server, rid, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = server.stderr_path.read_text(errors="replace") + \
            server.stdout_path.read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if f"request_id={rid}" in ln and 'msg="rpc"' in ln]
        if lines:
            return lines[-1]
        time.sleep(0.1)
    raise AssertionError(f"no access log line for request {rid}")


def test_access_log_and_metrics_by_method_and_code(stubs, channel, tenant, server):
    db, coll = new_collection(tenant)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    rid = f"count-{time.monotonic_ns()}"
    req = stubs.points_pb2.CountPointsRequest(**names(tenant, db, coll))
    pts.Count(req, metadata=bearer(tenant.viewer.token) + (("x-request-id", rid),), timeout=30)
    with pytest.raises(grpc.RpcError):
        pts.Count(stubs.points_pb2.CountPointsRequest(tenant=tenant.slug, database=db,
                                                      collection="nope"),
                  metadata=bearer(tenant.viewer.token), timeout=30)
    line = wait_for_log(server, rid)
    assert "rpc=/akidb.v1.PointService/Count" in line and "grpc_status=OK" in line, line
    assert f"tenant={tenant.slug}" in line, line
    text = cl.Client(server).get("/metrics").text
    ok = re.search(r'^akidb_grpc_requests_total\{method="/akidb.v1.PointService/Count",'
                   r'code="OK"\} (\d+)', text, re.M)
    nf = re.search(r'^akidb_grpc_requests_total\{method="/akidb.v1.PointService/Count",'
                   r'code="NOT_FOUND"\} (\d+)', text, re.M)
    assert ok and int(ok.group(1)) >= 1, text[:3000]
    assert nf and int(nf.group(1)) >= 1
    assert re.search(r'^akidb_grpc_request_duration_seconds_bucket\{method="/akidb.v1.'
                     r'PointService/Count",code="OK",le="\+Inf"\} \d+', text, re.M)
    # an unknown method is counted as "unimplemented", never by its raw path
    with pytest.raises(grpc.RpcError) as e:
        channel.unary_unary("/akidb.v1.PointService/NoSuchMethod")(b"", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "NoSuchMethod" in e.value.details()
    text = cl.Client(server).get("/metrics").text
    assert "NoSuchMethod" not in text
    assert re.search(r'^akidb_grpc_requests_total\{method="unimplemented",code="UNIMPLEMENTED"\}'
                     r' \d+', text, re.M)


# ------------------------------------------------------------------- TLS --


def test_tls_with_the_rest_certificate(stubs, tmp_path):
    openssl = shutil.which("openssl")
    assert openssl, "openssl not found: apt-get install openssl"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    port, gport = free_port(), free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[server]\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n')
    # the sanitizers' options (suppressions, halt_on_error) pass through
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKIDB_")}
    env["AKIDB_ADMIN_PASSWORD"] = "tls-test-password-1"
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([akidb_bin(), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--grpc-port", str(gport), "--data-dir", str(tmp_path / "data"),
                             "--config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        ch = grpc.secure_channel(f"127.0.0.1:{gport}", creds)
        grpc.channel_ready_future(ch).result(timeout=30)
        h = stubs.health_pb2_grpc.HealthStub(ch)
        r = h.Check(stubs.health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert r.status == stubs.health_pb2.HealthCheckResponse.SERVING
        ch.close()
        # REST serves the same certificate
        assert requests.get(f"https://127.0.0.1:{port}/health", verify=str(cert),
                            timeout=10).status_code == 200
        # a plaintext client gets nowhere
        plain = grpc.insecure_channel(f"127.0.0.1:{gport}")
        with pytest.raises(grpc.RpcError) as e:
            stubs.health_pb2_grpc.HealthStub(plain).Check(
                stubs.health_pb2.HealthCheckRequest(service=""), timeout=3)
        assert e.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        plain.close()
    except Exception as e:  # the server's log says why (it may have died)
        log.flush()
        text = (tmp_path / "server.log").read_text(errors="replace")
        raise AssertionError(f"{e!r}; the server (exit status {proc.poll()}) logged:\n"
                             + text[-6000:]) from e
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()
