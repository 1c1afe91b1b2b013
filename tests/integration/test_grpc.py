"""
tests/integration/test_grpc.py — the gRPC transport against the real
server (started by conftest.py with --grpc-port on a free port): health,
login and bearer credentials, points and search, REST and gRPC seeing the
same data, many calls in flight at once on several connections, errors
with the status table's codes and REST's messages, tenant isolation,
deadlines, the message size limit, request ids, and a second server
refused on a gRPC port already in use.
Needs python3-grpcio and the stubs of grpc_stubs.py.
"""

import subprocess

import grpc
import pytest

import client as cl
from conftest import free_port




def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def grpc_login(stubs, channel, tenant, username, password):
    auth = stubs.auth_pb2_grpc.AuthServiceStub(channel)
    r = auth.Login(stubs.auth_pb2.LoginRequest(tenant=tenant, username=username,
                                               password=password), timeout=30)
    assert r.token.startswith("as_") and r.expires_at
    assert r.user.username == username
    return r.token


@pytest.fixture(scope="module")
def tenant(server, sysadmin):
    return cl.make_tenant(server, sysadmin, roles=("admin", "developer"))


def points(stubs, n=3, dim=4, offset=0.0):
    return [stubs.common_pb2.PointInput(id=f"p{i}", vector=[offset + i + 1.0] + [0.5] * (dim - 1),
                                        payload_json='{"n": %d}' % i) for i in range(n)]


def test_health_check_liveness_and_readiness(stubs, channel, server):
    h = stubs.health_pb2_grpc.HealthStub(channel)
    serving = stubs.health_pb2.HealthCheckResponse.SERVING
    assert h.Check(stubs.health_pb2.HealthCheckRequest(service=""), timeout=10).status == serving
    # readiness answers as GET /ready does (200 → SERVING, 503 → NOT_SERVING)
    ready = cl.Client(server).get("/ready", auth=False)
    want = serving if ready.status_code == 200 else stubs.health_pb2.HealthCheckResponse.NOT_SERVING
    r = h.Check(stubs.health_pb2.HealthCheckRequest(service="akidb.v1"), timeout=10)
    assert r.status == want
    with pytest.raises(grpc.RpcError) as e:
        h.Check(stubs.health_pb2.HealthCheckRequest(service="nope"), timeout=10)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_answers_then_stays_open(stubs, channel):
    h = stubs.health_pb2_grpc.HealthStub(channel)
    stream = h.Watch(stubs.health_pb2.HealthCheckRequest(service=""), timeout=30)
    first = next(stream)
    assert first.status == stubs.health_pb2.HealthCheckResponse.SERVING
    stream.cancel()


def test_login_upsert_search_and_rest_sees_it(stubs, channel, tenant):
    db = tenant.create_db()
    coll = tenant.create_collection(db, dimension=4, metric="l2")["name"]
    u = tenant.users["developer"]
    token = grpc_login(stubs, channel, tenant.slug, u["username"], u["password"])
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(token)
    r = pts.Upsert(stubs.points_pb2.UpsertRequest(tenant=tenant.slug, database=db,
                                                  collection=coll, points=points(stubs)),
                   metadata=md, timeout=30)
    assert r.upserted == 3 and list(r.ids) == ["p0", "p1", "p2"]
    s = pts.Search(stubs.points_pb2.SearchRequest(tenant=tenant.slug, database=db,
                                                  collection=coll, vector=[1.0, 0.5, 0.5, 0.5],
                                                  k=3),
                   metadata=md, timeout=30)
    assert [h.id for h in s.results] == ["p0", "p1", "p2"]
    assert s.results[0].distance == pytest.approx(0.0, abs=1e-5)
    assert s.results[0].payload_json == '{"n":0}'
    c = pts.Count(stubs.points_pb2.CountPointsRequest(tenant=tenant.slug, database=db,
                                                      collection=coll), metadata=md, timeout=30)
    assert c.count == 3
    g = pts.Get(stubs.points_pb2.GetPointRequest(tenant=tenant.slug, database=db,
                                                 collection=coll, point_id="p1",
                                                 with_vector=True), metadata=md, timeout=30)
    assert g.id == "p1" and list(g.vector) == [2.0, 0.5, 0.5, 0.5]
    # REST sees the same data
    assert tenant.count(db, coll) == 3
    got = tenant.developer.call("POST", f"{tenant.coll_path(db, coll)}/search",
                                {"vector": [1.0, 0.5, 0.5, 0.5], "k": 3})
    assert [h["id"] for h in got["results"]] == ["p0", "p1", "p2"]
    # and gRPC sees what REST writes
    tenant.upsert(db, coll, [{"id": "rest", "vector": [9.0, 0.5, 0.5, 0.5]}])
    m = pts.GetMany(stubs.points_pb2.GetPointsRequest(tenant=tenant.slug, database=db,
                                                      collection=coll, ids=["rest", "zz"]),
                    metadata=md, timeout=30)
    assert [p.id for p in m.points] == ["rest"] and list(m.missing) == ["zz"]
    d = pts.Delete(stubs.points_pb2.DeletePointsRequest(tenant=tenant.slug, database=db,
                                                        collection=coll, ids=["rest", "zz"]),
                   metadata=md, timeout=30)
    assert d.deleted == 1
    who = stubs.auth_pb2_grpc.AuthServiceStub(channel).WhoAmI(stubs.auth_pb2.WhoAmIRequest(),
                                                              metadata=md, timeout=30)
    assert who.user.username == u["username"] and who.user.tenant == tenant.slug
    assert who.credential == stubs.auth_pb2.CREDENTIAL_SESSION


def test_many_calls_in_flight_on_several_connections_each_get_their_own_answer(stubs, server,
                                                                                 tenant):
    """Searches in flight at once on six connections, many per connection
    (HTTP/2 streams), plus one SearchStream per connection: the network
    threads queue them, run them or hand them to a worker (more than 1 ms
    of queued work, or a worker spinning), and every answer reaches its own
    call, a stream's in order. (An instrumented build showed this test
    reaching both hand-offs and queues of 2 to 8 calls run out after a
    look.)"""
    db = tenant.create_db()
    coll = tenant.create_collection(db, dimension=4, metric="l2")["name"]
    n = 40
    tenant.upsert(db, coll, [{"id": f"q{i}", "vector": [float(i), 0.0, 0.0, 0.0]}
                             for i in range(n)])
    md = bearer(tenant.developer.token)
    names = dict(tenant=tenant.slug, database=db, collection=coll)

    def query(j):
        return stubs.points_pb2.SearchRequest(vector=[j + 0.2, 0.0, 0.0, 0.0], k=2, **names)

    target = f"127.0.0.1:{server.grpc_port}"
    channels = [grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(6)]
    try:
        point_clients = [stubs.points_pb2_grpc.PointServiceStub(ch) for ch in channels]
        streams = []
        for c, pts in enumerate(point_clients):
            order = [(c * 7 + i) % n for i in range(n)]
            reqs = [stubs.points_pb2.SearchStreamRequest(search=query(j)) for j in order]
            streams.append((order, pts.SearchStream(iter(reqs), metadata=md, timeout=120)))
        calls = []
        for rnd in range(5):
            for c, pts in enumerate(point_clients):
                for i in range(n):
                    j = (i * 3 + c + rnd) % n
                    calls.append((j, pts.Search.future(query(j), metadata=md, timeout=120)))
        for j, f in calls:
            ids = [h.id for h in f.result().results]
            assert ids == [f"q{j}", f"q{j + 1}" if j + 1 < n else f"q{j - 1}"], (j, ids)
        for order, stream in streams:
            got = [a.results[0].id for a in stream]
            assert got == [f"q{j}" for j in order]
    finally:
        for ch in channels:
            ch.close()


def test_missing_or_wrong_bearer_is_unauthenticated(stubs, channel, tenant):
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    req = stubs.points_pb2.CountPointsRequest(tenant=tenant.slug, database="x", collection="y")
    for md in ((), bearer("as_nope_nope")):
        with pytest.raises(grpc.RpcError) as e:
            pts.Count(req, metadata=md, timeout=30)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED, e.value.details()


def test_wrong_dimension_same_message_as_rest_and_nothing_written(stubs, channel, tenant):
    db = tenant.create_db()
    coll = tenant.create_collection(db, dimension=4)["name"]
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    bad = [stubs.common_pb2.PointInput(id="a", vector=[1.0, 2.0, 3.0, 4.0]),
           stubs.common_pb2.PointInput(id="b", vector=[1.0, 2.0, 3.0])]
    with pytest.raises(grpc.RpcError) as e:
        pts.Upsert(stubs.points_pb2.UpsertRequest(tenant=tenant.slug, database=db,
                                                  collection=coll, points=bad),
                   metadata=bearer(tenant.developer.token), timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rest = tenant.developer.post(f"{tenant.coll_path(db, coll)}/points",
                                 {"points": [{"id": "a", "vector": [1.0, 2.0, 3.0, 4.0]},
                                             {"id": "b", "vector": [1.0, 2.0, 3.0]}]})
    assert rest.status_code == 400
    assert e.value.details() == cl.error_of(rest)["message"]
    assert tenant.count(db, coll) == 0


def test_cross_tenant_read_is_not_found(stubs, channel, server, sysadmin, tenant):
    other = cl.make_tenant(server, sysadmin, roles=("admin",))
    db = other.create_db()
    coll = other.create_collection(db)["name"]
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    with pytest.raises(grpc.RpcError) as e:
        pts.Count(stubs.points_pb2.CountPointsRequest(tenant=other.slug, database=db,
                                                      collection=coll),
                  metadata=bearer(tenant.admin.token), timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_passed_deadline_is_deadline_exceeded(stubs, channel):
    h = stubs.health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.RpcError) as e:
        h.Check(stubs.health_pb2.HealthCheckRequest(service=""), timeout=-1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_oversized_message_is_resource_exhausted(stubs, server_factory):
    s = server_factory(config="[limits]\nmax_body_bytes = 65536\n")
    ch = grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}")
    try:
        pts = stubs.points_pb2_grpc.PointServiceStub(ch)
        big = [stubs.common_pb2.PointInput(id=f"x{i}", vector=[0.5] * 1024) for i in range(32)]
        with pytest.raises(grpc.RpcError) as e:
            pts.Upsert(stubs.points_pb2.UpsertRequest(tenant="t", database="d", collection="c",
                                                      points=big), timeout=30)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        ch.close()


def test_request_id_echoed_or_generated(stubs, channel):
    h = stubs.health_pb2_grpc.HealthStub(channel)
    req = stubs.health_pb2.HealthCheckRequest(service="")
    _, call = h.Check.with_call(req, metadata=(("x-request-id", "grpc-rid-42"),), timeout=10)
    assert dict(call.initial_metadata())["x-request-id"] == "grpc-rid-42"
    _, call = h.Check.with_call(req, timeout=10)
    rid = dict(call.initial_metadata())["x-request-id"]
    assert len(rid) == 36 and rid[14] == "7"  # a UUIDv7


def test_bad_points_input_is_refused_with_a_clear_message_and_changes_nothing(stubs, channel,
                                                                             tenant):
    db = tenant.create_db()
    coll = tenant.create_collection(db, dimension=4, metric="cosine")["name"]
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    md = bearer(tenant.developer.token)
    path = {"tenant": tenant.slug, "database": db, "collection": coll}
    P = stubs.common_pb2.PointInput
    nan, inf = float("nan"), float("inf")
    INVALID, TOO_LARGE = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED
    cases = [
        ([P(id="a", vector=[1, 2, 3, 4]), P(id="n", vector=[1, nan, 3, 4])], INVALID,
         "point 1: vector value [1] is NaN"),
        ([P(id="i", vector=[inf, 0, 0, 0])], INVALID, "point 0: vector value [0] is infinite"),
        ([P(id="z", vector=[0, 0, 0, 0])], INVALID, "all zeros"),  # no direction under cosine
        ([], INVALID, "empty"),
        ([P(id="x" * 257, vector=[1, 1, 1, 1])], INVALID, "256"),
        ([P(id="j", vector=[1, 1, 1, 1], payload_json="[1, 2]")], INVALID, "payload"),
        ([P(id="k", vector=[1, 1, 1, 1], payload_json="{not json")], INVALID, "payload"),
        ([P(id=f"m{i}", vector=[1, 1, 1, 1]) for i in range(10001)], TOO_LARGE, "10000"),
    ]
    for points_, code, word in cases:
        with pytest.raises(grpc.RpcError) as e:
            pts.Upsert(stubs.points_pb2.UpsertRequest(points=points_, **path), metadata=md,
                       timeout=60)
        assert e.value.code() == code, (word, e.value.details())
        assert word in e.value.details(), e.value.details()
    assert tenant.count(db, coll) == 0
    # a missing path field names what is missing, like REST's routes do
    with pytest.raises(grpc.RpcError) as e:
        pts.Upsert(stubs.points_pb2.UpsertRequest(tenant=tenant.slug, database=db,
                                                  points=[P(id="a", vector=[1, 1, 1, 1])]),
                   metadata=md, timeout=30)
    assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert "collection" in e.value.details()
    # search: one of vector / vectors, k and ef in range, the filter's shape
    S = stubs.points_pb2.SearchRequest
    V = stubs.common_pb2.Vector
    F, C, FV = stubs.common_pb2.Filter, stubs.common_pb2.FilterCondition, \
        stubs.common_pb2.FilterValue
    searches = [
        (S(**path), "exactly one of"),
        (S(vector=[1, 1, 1, 1], vectors=[V(values=[1, 1, 1, 1])], **path), "exactly one of"),
        (S(vector=[1, 1, 1], **path), "dimension"),
        (S(vector=[1, 1, 1, 1], k=100000, **path), "'k'"),
        (S(vector=[1, 1, 1, 1], ef=10 ** 9, **path), "'ef'"),
        (S(vector=[1, 1, 1, 1], filter=F(), **path), "a filter needs one of"),
        (S(vector=[1, 1, 1, 1], filter=F(condition=C(field="a")), **path),
         "a filter condition needs one of"),
        (S(vector=[1, 1, 1, 1], filter=F(condition=C(field="a", eq=FV())), **path),
         "a filter value needs one of"),
    ]
    for req, word in searches:
        with pytest.raises(grpc.RpcError) as e:
            pts.Search(req, metadata=md, timeout=30)
        assert e.value.code() == INVALID, (word, e.value.details())
        assert word in e.value.details(), e.value.details()


def test_a_message_that_is_not_protobuf_is_invalid_argument(channel, tenant):
    call = channel.unary_unary("/akidb.v1.PointService/Upsert")
    with pytest.raises(grpc.RpcError) as e:
        call(b"\xff\xff\xff\xff", metadata=bearer(tenant.developer.token), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "akidb.v1.UpsertRequest" in e.value.details()


def test_text_search_and_bm25_parameters_over_grpc_match_rest(stubs, channel, tenant):
    md = bearer(tenant.developer.token)
    colls = stubs.collections_pb2_grpc.CollectionServiceStub(channel)
    db = tenant.create_db()
    made = colls.CreateCollection(stubs.collections_pb2.CreateCollectionRequest(
        tenant=tenant.slug, database=db, name="texts", dimension=4,
        metric=stubs.common_pb2.METRIC_L2, text=stubs.common_pb2.TextParams(k1=1.6, b=0.5)),
        metadata=md, timeout=30)
    assert (made.text.k1, made.text.b) == (1.6, 0.5)
    rest = tenant.admin.call("GET", tenant.coll_path(db, "texts"))
    assert rest["text"] == {"k1": 1.6, "b": 0.5}
    texts = ["supersonic flow over a wedge", "laminar boundary layer", "boundary layer transition"
             " in supersonic flow", "buckling of shells"]
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    pts.Upsert(stubs.points_pb2.UpsertRequest(
        tenant=tenant.slug, database=db, collection="texts",
        points=[stubs.common_pb2.PointInput(id=f"t{i}", vector=[i + 1.0, 1, 1, 1], text=t)
                for i, t in enumerate(texts)]), metadata=md, timeout=30)
    S = stubs.points_pb2
    got = pts.Search(S.SearchRequest(tenant=tenant.slug, database=db, collection="texts",
                                     mode=S.SEARCH_MODE_TEXT, text="boundary layer", k=10),
                     metadata=md, timeout=30)
    want = tenant.admin.call("POST", f"{tenant.coll_path(db, 'texts')}/search",
                              {"mode": "text", "text": "boundary layer", "k": 10})["results"]
    assert [h.id for h in got.results] == [h["id"] for h in want] == ["t1", "t2"]
    assert [h.score for h in got.results] == pytest.approx([h["score"] for h in want], rel=1e-6)
    assert all(h.distance == 0 and h.text for h in got.results)
    for req, word in ((S.SearchRequest(tenant=tenant.slug, database=db, collection="texts",
                                       mode=7, text="x"), "mode"),
                      (S.SearchRequest(tenant=tenant.slug, database=db, collection="texts",
                                       mode=S.SEARCH_MODE_TEXT), "'text'"),
                      (S.SearchRequest(tenant=tenant.slug, database=db, collection="texts",
                                       text="boundary"), "\"mode\": \"text\"")):
        with pytest.raises(grpc.RpcError) as e:
            pts.Search(req, metadata=md, timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert word in e.value.details(), e.value.details()


def test_hybrid_search_over_grpc_matches_rest(stubs, channel, tenant):
    md = bearer(tenant.developer.token)
    db = tenant.create_db()
    name = tenant.create_collection(db, dimension=4, metric="l2")["name"]
    texts = ["supersonic flow over a wedge", "laminar boundary layer", "boundary layer "
             "transition in supersonic flow", "buckling of shells", "flow separation"]
    tenant.upsert(db, name, [{"id": f"h{i}", "vector": [i + 1.0, 1, 1, 1], "text": t}
                             for i, t in enumerate(texts)])
    S = stubs.points_pb2
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    req = S.SearchRequest(tenant=tenant.slug, database=db, collection=name,
                          mode=S.SEARCH_MODE_HYBRID, vector=[2.0, 1, 1, 1], text="supersonic flow",
                          k=4, explain=True,
                          fusion=S.Fusion(method=S.FUSION_METHOD_RRF, k=20,
                                          weights=S.FusionWeights(vector_weight=1, text_weight=2)))
    got = pts.Search(req, metadata=md, timeout=30).results
    want = tenant.developer.call("POST", f"{tenant.coll_path(db, name)}/search", {
        "mode": "hybrid", "vector": [2.0, 1, 1, 1], "text": "supersonic flow", "k": 4,
        "explain": True, "fusion": {"method": "rrf", "k": 20,
                                    "weights": {"vector": 1, "text": 2}}})["results"]
    assert [h.id for h in got] == [h["id"] for h in want]
    assert [h.score for h in got] == pytest.approx([h["score"] for h in want], rel=1e-6)
    for g, w in zip(got, want):
        assert g.explain.vector_rank == ((w["explain"]["vector"] or {}).get("rank") or 0)
        assert g.explain.text_rank == ((w["explain"]["text"] or {}).get("rank") or 0)


def new_collection(stubs, channel, tenant, dim):
    """A new l2 collection of `dim` in a new database, with the developer's
    credentials and a PointService client: (db, collection, metadata, client)."""
    db = tenant.create_db()
    coll = tenant.create_collection(db, dimension=dim, metric="l2")["name"]
    return db, coll, bearer(tenant.developer.token), stubs.points_pb2_grpc.PointServiceStub(channel)


def stored_vector(stubs, pts, md, tenant, db, coll, point_id):
    """The vector the server holds for point_id, read back over gRPC."""
    g = pts.Get(stubs.points_pb2.GetPointRequest(tenant=tenant.slug, database=db,
                                                 collection=coll, point_id=point_id,
                                                 with_vector=True), metadata=md, timeout=30)
    return list(g.vector)


@pytest.mark.parametrize("compression", [None, grpc.Compression.Gzip], ids=["plain", "gzip"])
def test_large_and_compressed_messages_arrive_whole(stubs, channel, tenant, compression):
    """A batch far larger than one HTTP/2 frame arrives in many slices (the
    server gathers them), a gzip-compressed one is decompressed by the core;
    either way every vector is stored exactly, unary and streamed."""
    import random
    dim = 256
    db, coll, md, pts = new_collection(stubs, channel, tenant, dim)
    rng = random.Random(7)

    def batch(prefix, n):
        return [stubs.common_pb2.PointInput(
            id=f"{prefix}{i}", vector=[rng.uniform(-1, 1) for _ in range(dim)])
            for i in range(n)]

    unary = batch("u", 600)  # ~620 KB: dozens of 16 KB frames
    r = pts.Upsert(stubs.points_pb2.UpsertRequest(tenant=tenant.slug, database=db,
                                                  collection=coll, points=unary),
                   metadata=md, timeout=60, compression=compression)
    assert r.upserted == 600
    streamed = [batch(f"s{b}-", 300) for b in range(3)]
    reqs = [stubs.points_pb2.UpsertStreamRequest(
        tenant=tenant.slug if b == 0 else "", database=db if b == 0 else "",
        collection=coll if b == 0 else "", batch_id=b + 1, points=p)
        for b, p in enumerate(streamed)]
    acks = list(pts.UpsertStream(iter(reqs), metadata=md, timeout=60, compression=compression))
    assert [(a.batch_id, a.upserted) for a in acks] == [(1, 300), (2, 300), (3, 300)]
    assert tenant.count(db, coll) == 1500
    for p in (unary[0], unary[599], streamed[0][0], streamed[2][299]):
        assert stored_vector(stubs, pts, md, tenant, db, coll, p.id) == list(p.vector), p.id
    s = pts.Search(stubs.points_pb2.SearchRequest(tenant=tenant.slug, database=db,
                                                  collection=coll, vector=unary[123].vector, k=1),
                   metadata=md, timeout=30, compression=compression)
    assert [h.id for h in s.results] == ["u123"]


def test_a_message_over_the_gather_buffer_arrives_whole(stubs, channel, tenant):
    """A request over 4 MiB (the size up to which a network thread keeps a
    buffer for gathering a message's slices) is read whole by the core."""
    import random
    dim = 2048
    db, coll, md, pts = new_collection(stubs, channel, tenant, dim)
    rng = random.Random(11)
    big = [stubs.common_pb2.PointInput(id=f"b{i}", vector=[rng.uniform(-1, 1) for _ in range(dim)])
           for i in range(600)]  # 600 x 8 KiB: ~4.9 MB
    req = stubs.points_pb2.UpsertRequest(tenant=tenant.slug, database=db, collection=coll,
                                         points=big)
    assert req.ByteSize() > 4 << 20
    assert pts.Upsert(req, metadata=md, timeout=60).upserted == 600
    for p in (big[0], big[599]):
        assert stored_vector(stubs, pts, md, tenant, db, coll, p.id) == list(p.vector), p.id


def test_a_second_server_on_the_same_grpc_port_refuses_to_start(stubs, server_factory):
    # The gRPC listeners share their port between the network threads
    # (SO_REUSEPORT); a second server must still not be able to join them
    # and take some of the first one's connections.
    first = server_factory()
    second = server_factory(start=False, name="second-server")
    second.grpc_port = first.grpc_port
    second.port = free_port()
    proc = subprocess.Popen(second.command(), env=second.environment(), cwd=str(second.root),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("a second server started on a gRPC port that another one listens on")
    assert proc.returncode != 0
    assert f"cannot listen for gRPC on 127.0.0.1:{first.grpc_port}" in err, err
    assert "in use" in err and "grpc_port" in err, err
    # every new connection still reaches the first server: a tenant only it
    # has logs in over each of several fresh connections
    only_first = cl.make_tenant(first, first.login_admin(), roles=("admin",))
    u = only_first.users["admin"]
    for _ in range(6):
        with grpc.insecure_channel(f"127.0.0.1:{first.grpc_port}") as ch:
            grpc_login(stubs, ch, only_first.slug, u["username"], u["password"])
    assert first.alive()
