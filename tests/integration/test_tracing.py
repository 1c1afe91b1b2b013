"""
OpenTelemetry tracing of the real server (docs/tracing.md) against the
stand-in OTLP receiver (otlp_standin.py): a span per request continuing the
client's W3C traceparent, with children for authentication, the catalog,
the search, the write-ahead log append and fsync, the embedding call and
the object-store calls; the trace id passed on to the model server and to
S3 (headers seen on the wire); unsampled and probe requests record nothing;
a dead collector changes nothing for clients and its losses are counted in
/metrics.
"""
import time

import pytest
import requests

from client import make_tenant, wait_until
from s3server import CuttingProxy, S3rver, free_port
from standin_proc import StandinProcess

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"
EMBED_KEY = "tracing-standin-key"


@pytest.fixture(scope="module")
def otlp():
    s = StandinProcess("otlp_standin.py")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def model():
    s = StandinProcess("embed_standin.py")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    store = S3rver(tmp_path_factory.mktemp("s3-tracing")).start()
    proxy = CuttingProxy(store.port)
    yield store, proxy
    proxy.close()
    store.kill()


def tracing_config(endpoint, ratio=1.0):
    return (f"[tracing]\nenabled = true\nendpoint = \"{endpoint}\"\nsample_ratio = {ratio}\n"
            "batch_delay_ms = 50\n")


def spans_of(otlp, trace_id, at_least=1, names=(), timeout=20):
    """The received spans of trace_id, once at least `at_least` arrived and
    every one of `names` among them."""
    got = []

    def enough():
        nonlocal got
        got = [s for s in otlp.get("/control/spans")["spans"] if s["traceId"] == trace_id]
        return len(got) >= at_least and set(names) <= {s["name"] for s in got}
    wait_until(enough, f"{at_least} spans of trace {trace_id} with {names}", timeout=timeout)
    return got


def attrs(span):
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = next(iter(v.values()))
    return out


def test_spans_continue_the_clients_trace_through_every_layer(server_factory, otlp, model, s3):
    store, proxy = s3
    otlp.post("/control/reset")
    env = store.env()
    env["AKIDB_S3_ENDPOINT"] = proxy.endpoint
    env.update({"AKIDB_EMBEDDING_ALLOWED_URLS": model.url + "/v1",
                "AKIDB_EMBEDDING_KEY_TRACE": EMBED_KEY})
    srv = server_factory(config=tracing_config(otlp.url), env=env)
    t = make_tenant(srv, srv.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=8, metric="l2", embedding={
        "provider": "openai", "base_url": model.url + "/v1", "model": "standin-8",
        "api_key_env": "AKIDB_EMBEDDING_KEY_TRACE"})["name"]
    path = t.coll_path(db, coll)
    hdr = {"traceparent": TRACEPARENT, "tracestate": "vendor=abc"}
    # an upsert embedded by the model server, a search, a snapshot to S3
    t.admin.call("POST", f"{path}/points", {"points": [{"id": "a", "text": "boundary layer"},
                                                      {"id": "b", "text": "shock wave"}]},
                 headers=hdr)
    t.admin.call("POST", f"{path}/search", {"vector": [0.1] * 8, "k": 2}, headers=hdr)
    t.admin.call("POST", f"{path}/snapshots", status=201, headers=hdr)
    route = "POST /v1/tenants/{tenant}/databases/{database}/collections/{collection}"
    spans = spans_of(otlp, TRACE_ID, 10, names=(
        f"{route}/points", f"{route}/search", f"{route}/snapshots", "auth", "catalog", "search",
        "wal.append", "wal.fsync", "embed.call"))
    by_name = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)
    servers = [s for s in spans if s["kind"] == 2]
    assert {s["name"] for s in servers} >= {
        "POST /v1/tenants/{tenant}/databases/{database}/collections/{collection}/points",
        "POST /v1/tenants/{tenant}/databases/{database}/collections/{collection}/search",
        "POST /v1/tenants/{tenant}/databases/{database}/collections/{collection}/snapshots"}
    for s in servers:  # children of the client's span, with the route and status
        assert s["parentSpanId"] == PARENT, s
        a = attrs(s)
        assert a["http.route"].startswith("/v1/") and int(a["http.response.status_code"]) < 300
        assert a["http.request.method"] == "POST"
    ids = {s["spanId"]: s for s in spans}
    for name in ("auth", "catalog", "search", "wal.append", "wal.fsync", "embed.call"):
        assert name in by_name, (name, sorted(by_name))
        for s in by_name[name]:
            assert s["parentSpanId"] in ids, (name, s)  # inside this trace
    search = attrs(by_name["search"][0])
    assert search["akidb.search.mode"] == "vector" and int(search["akidb.search.k"]) == 2
    embed = by_name["embed.call"][0]
    assert embed["kind"] == 3 and attrs(embed)["akidb.embed.provider"] == "openai"
    puts = [s for s in spans if s["name"].startswith("objstore.")]
    assert puts and all(s["kind"] == 3 for s in puts), sorted(by_name)
    # the model server and S3 got the trace id (and the embed span as parent)
    reqs = model.get("/control/requests")["requests"]
    tps = [r["headers"].get("traceparent", "") for r in reqs]
    assert any(tp.startswith(f"00-{TRACE_ID}-{embed['spanId']}") for tp in tps), tps
    assert f"traceparent: 00-{TRACE_ID}-".encode() in bytes(proxy.seen)
    res = otlp.get("/control/requests")["requests"][0]["body"]["resourceSpans"][0]["resource"]
    assert {"key": "service.name", "value": {"stringValue": "akidb"}} in res["attributes"]


def test_unsampled_and_probe_requests_record_nothing(server_factory, otlp):
    otlp.post("/control/reset")
    srv = server_factory(config=tracing_config(otlp.url, ratio=0.0))
    t = make_tenant(srv, srv.login_admin(), roles=("admin",))
    db = t.create_db()
    trace = "0af7651916cd43dd8448eb211c80319c"
    # the ratio is 0: only a sampled parent records; an unsampled one does not
    t.admin.call("GET", f"{t.db_path(db)}/collections",
                 headers={"traceparent": f"00-{trace}-b7ad6b7169203331-01"})
    t.admin.call("GET", f"{t.db_path(db)}/collections",
                 headers={"traceparent": "00-" + "1" * 32 + "-b7ad6b7169203331-00"})
    for path in ("/health", "/ready", "/metrics"):
        requests.get(srv.url + path, timeout=10,
                     headers={"traceparent": "00-" + "2" * 32 + "-b7ad6b7169203331-01"})
    spans_of(otlp, trace, 1)
    time.sleep(0.5)  # a batch delay: anything else would have arrived too
    seen = {s["traceId"] for s in otlp.get("/control/spans")["spans"]}
    assert seen == {trace}, seen


def test_a_dead_collector_changes_nothing_for_clients(server_factory, tmp_path):
    port = free_port()  # bound and released: nothing listens there
    srv = server_factory(config=tracing_config(f"http://127.0.0.1:{port}") +
                         "export_timeout_ms = 200\nqueue_capacity = 64\nbatch_max = 64\n")
    t = make_tenant(srv, srv.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=4, metric="l2")["name"]
    for i in range(20):
        t.upsert(db, coll, [{"id": f"p{i}-{j}", "vector": [i, j, 1.0, 2.0]} for j in range(20)])
        hits = t.admin.call("POST", f"{t.coll_path(db, coll)}/search",
                            {"vector": [i, 1.0, 1.0, 2.0], "k": 3})["results"]
        assert len(hits) == 3
    assert t.count(db, coll) == 400

    def lost():
        text = requests.get(srv.url + "/metrics", timeout=10).text
        started = dropped = 0.0
        for line in text.splitlines():
            if line.startswith("akidb_trace_spans_started_total "):
                started = float(line.split()[1])
            if line.startswith("akidb_trace_spans_dropped_total{"):
                dropped += float(line.split()[1])
        return started > 0 and dropped > 0
    wait_until(lost, "spans counted as dropped while the collector is dead", timeout=30)


def test_grpc_calls_continue_the_clients_trace(server_factory, otlp, stubs):
    import grpc
    otlp.post("/control/reset")
    srv = server_factory(config=tracing_config(otlp.url))
    t = make_tenant(srv, srv.login_admin(), roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=4, metric="l2")["name"]
    trace = "5cf92f3577b34da6a3ce929d0e0e4736"
    md = (("authorization", f"Bearer {t.admin.token}"),
          ("traceparent", f"00-{trace}-{PARENT}-01"))
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as ch:
        pts = stubs.points_pb2_grpc.PointServiceStub(ch)
        P = stubs.points_pb2
        pts.Upsert(P.UpsertRequest(tenant=t.slug, database=db, collection=coll, points=[
            stubs.common_pb2.PointInput(id="g0", vector=[1.0, 0.0, 0.0, 0.0])]),
            metadata=md, timeout=30)
        got = pts.Search(P.SearchRequest(tenant=t.slug, database=db, collection=coll,
                                         vector=[1.0, 0.0, 0.0, 0.0], k=1),
                         metadata=md, timeout=30)
        assert [h.id for h in got.results] == ["g0"]
    spans = spans_of(otlp, trace, names=("akidb.v1.PointService/Upsert",
                                         "akidb.v1.PointService/Search", "search", "wal.fsync"))
    ids = {s["spanId"] for s in spans}
    for s in spans:
        if s["kind"] == 2:
            assert s["parentSpanId"] == PARENT, s
            a = attrs(s)
            assert a["rpc.system"] == "grpc" and int(a["rpc.grpc.status_code"]) == 0, a
        else:
            assert s["parentSpanId"] in ids, s
