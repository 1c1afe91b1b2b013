"""
tests/integration/test_embeddings.py — collections with an embedding model,
over the REST API, against a real `akidb serve` and the stand-in
OpenAI-compatible model server (embed_standin.py, on loopback):

  * the configuration at create: shown by GET with every setting; the
    built-in embedder's dimension range; a dimension that does not match;
    a base_url the operator did not allow; an api_key_env outside
    AKIDB_EMBEDDING_KEY_*; unknown fields — each refused, nothing created;
  * points with `text` and no vector are embedded (built-in: the same
    vector the text engine makes; openai: the stand-in's SHA-256 vectors,
    exactly); a search by `text` embeds the query;
  * when the provider fails (500s after the retries, 429 with Retry-After
    retried, a stall past the timeout, a wrong number of embeddings,
    malformed JSON, a wrong dimension, connection refused) the upsert
    fails with 503 naming the provider and the cause, and nothing is
    written; the key is sent as Bearer and never shown.
"""
import base64
import hashlib
import json
import struct

import grpc
import pytest
import requests

import client as cl
from client import expect
from conftest import Server, free_port
from standin_proc import StandinProcess

KEY = "sk-test-" + "9" * 24


def standin_vector(text, dim):
    """The stand-in's vector of text (its documented formula)."""
    data = text.encode()
    out = []
    for i in range(dim):
        block = hashlib.sha256(data + struct.pack(">I", i // 8)).digest()
        u = struct.unpack(">I", block[4 * (i % 8):4 * (i % 8) + 4])[0]
        out.append(u / 2 ** 31 - 1.0)
    return out


class Standin(StandinProcess):
    """The stand-in model server (embed_standin.py)."""

    def __init__(self):
        super().__init__("embed_standin.py")
        self.base = f"{self.url}/v1"

    def control(self, body):
        self.post("/control", body)

    def reset(self):
        self.post("/control/reset")

    def requests(self):
        return self.get("/control/requests")


@pytest.fixture(scope="module")
def standin():
    s = Standin()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, standin):
    s = Server(tmp_path_factory.mktemp("embed"), name="embed-server",
               env={"AKIDB_EMBEDDING_ALLOWED_URLS": standin.base,
                    "AKIDB_EMBEDDING_KEY_STANDIN": KEY})
    s.start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def tenant(srv):
    return cl.make_tenant(srv, srv.login_admin(), roles=("admin", "developer", "viewer"))


def openai_config(standin, dim=8, **extra):
    cfg = {"provider": "openai", "base_url": standin.base, "model": f"standin-{dim}",
           "api_key_env": "AKIDB_EMBEDDING_KEY_STANDIN", "timeout_ms": 2000, "max_retries": 2,
           "backoff_base_ms": 10, "backoff_max_ms": 50, "breaker_threshold": 1000}
    cfg.update(extra)
    return cfg


def create(tenant, db, dim, embedding, metric="cosine", status=201):
    return tenant.developer.call("POST", f"{tenant.db_path(db)}/collections",
                                 {"name": cl.unique("e"), "dimension": dim, "metric": metric,
                                  "embedding": embedding}, status=status)


def test_builtin_embeds_points_and_queries(tenant):
    db = tenant.create_db()
    coll = create(tenant, db, 64, {"provider": "builtin"})
    assert coll["embedding"] == {"provider": "builtin", "model": "akidb-builtin-v1",
                                 "dimension": 64}
    name = coll["name"]
    texts = {"a": "supersonic flow over a thin wedge", "b": "laminar boundary layer heating",
             "c": "buckling of cylindrical shells"}
    tenant.upsert(db, name, [{"id": k, "text": v} for k, v in texts.items()])
    got = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/points/get",
                             {"ids": ["a"], "with_vector": True})["points"][0]
    assert len(got["vector"]) == 64 and got["text"] == texts["a"]
    assert sum(x * x for x in got["vector"]) == pytest.approx(1.0, abs=1e-5)
    hits = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/search",
                              {"text": "boundary layer", "k": 3})["results"]
    assert hits[0]["id"] == "b" and "distance" in hits[0]
    # hybrid by text alone: the model makes the vector side's query
    fused = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/search",
                               {"mode": "hybrid", "text": "boundary layer", "k": 3,
                                "explain": True})["results"]
    assert fused[0]["id"] == "b"
    assert fused[0]["explain"]["vector"]["rank"] == 1 and fused[0]["explain"]["text"]["rank"] == 1
    # a point may still bring its own vector
    tenant.upsert(db, name, [{"id": "d", "vector": got["vector"], "text": "anything"}])
    assert tenant.count(db, name) == 4


def test_hybrid_defaults_give_the_builtin_side_a_tenth(tenant):
    """docs/embeddings.md: when the built-in embedder makes the vector side,
    RRF weighs it 0.1 against BM25's 1 (linear: alpha 0.1); a vector the
    client sends, or weights in the request, keep their own weights."""
    db = tenant.create_db()
    coll = create(tenant, db, 64, {"provider": "builtin"})
    name, path = coll["name"], f"{tenant.coll_path(db, coll['name'])}/search"
    words = ["supersonic", "wedge", "boundary", "layer", "heating", "shell", "buckling",
             "laminar", "flow", "pressure"]
    tenant.upsert(db, name, [{"id": f"p{i}", "text": " ".join(words[i:i + 3] + words[:i % 4])}
                             for i in range(8)])
    body = {"mode": "hybrid", "text": "laminar boundary layer flow", "k": 8, "explain": True}

    def rrf_score(h, wv, wt):
        x = h["explain"]
        return ((wv / (60 + x["vector"]["rank"]) if x["vector"] else 0) +
                (wt / (60 + x["text"]["rank"]) if x["text"] else 0))

    hits = tenant.viewer.call("POST", path, body)["results"]
    assert hits and any(h["explain"]["vector"] for h in hits)
    for h in hits:
        assert h["score"] == pytest.approx(rrf_score(h, 0.1, 1.0), rel=1e-6)
    asked = tenant.viewer.call("POST", path, dict(body, fusion={"weights": {"vector": 1,
                                                                         "text": 1}}))
    for h in asked["results"]:
        assert h["score"] == pytest.approx(rrf_score(h, 1.0, 1.0), rel=1e-6)
    vec = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/points/get",
                             {"ids": ["p0"], "with_vector": True})["points"][0]["vector"]
    own = tenant.viewer.call("POST", path, dict(body, vector=vec))["results"]
    for h in own:
        assert h["score"] == pytest.approx(rrf_score(h, 1.0, 1.0), rel=1e-6)
    lin = tenant.viewer.call("POST", path, dict(body, fusion={"method": "linear"}))["results"]
    assert len(lin) == 8  # every point: both sides' candidates are all visible
    ds = [h["explain"]["vector"]["distance"] for h in lin]
    ts = [h["explain"]["text"]["score"] for h in lin if h["explain"]["text"]]
    for h in lin:
        x = h["explain"]
        vn = (max(ds) - x["vector"]["distance"]) / (max(ds) - min(ds))
        tn = (x["text"]["score"] - min(ts)) / (max(ts) - min(ts)) if x["text"] else 0
        assert h["score"] == pytest.approx(0.1 * vn + 0.9 * tn, rel=1e-5, abs=1e-6)


def test_openai_provider_embeds_exactly_what_the_model_returns(tenant, standin):
    standin.reset()
    db = tenant.create_db()
    coll = create(tenant, db, 8, openai_config(standin), metric="l2")
    shown = coll["embedding"]
    assert shown["base_url"] == standin.base and shown["api_key_env"] == "AKIDB_EMBEDDING_KEY_STANDIN"
    assert KEY not in json.dumps(coll)
    name = coll["name"]
    tenant.upsert(db, name, [{"id": f"p{i}", "text": f"text number {i}"} for i in range(5)])
    got = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/points/get",
                             {"ids": ["p3"], "with_vector": True})["points"][0]
    assert got["vector"] == pytest.approx(standin_vector("text number 3", 8), abs=1e-6)
    hits = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/search",
                              {"text": "text number 3", "k": 1})["results"]
    assert hits[0]["id"] == "p3" and hits[0]["distance"] == pytest.approx(0, abs=1e-5)
    reqs = standin.requests()["requests"]
    assert reqs and all(r["headers"].get("authorization") == f"Bearer {KEY}" for r in reqs)


FAILURES = [
    ({"fail": "500", "times": -1}, "500"),
    ({"fail": "stall", "stall_ms": 5000, "times": -1}, "timed out"),
    ({"fail": "count", "times": -1}, "embeddings for"),
    ({"fail": "malformed", "times": -1}, "JSON"),
    ({"fail": "dimension", "times": -1}, "dimension"),
]


@pytest.mark.parametrize("command,words", FAILURES, ids=[f[0]["fail"] for f in FAILURES])
def test_provider_failure_fails_the_upsert_and_writes_nothing(tenant, standin, command, words):
    standin.reset()
    db = tenant.create_db()
    coll = create(tenant, db, 8, openai_config(standin, timeout_ms=500, max_retries=1),
                  metric="l2")
    name = coll["name"]
    tenant.upsert(db, name, [{"id": "keep", "vector": [1.0] * 8}])
    standin.control(command)
    r = tenant.developer.request("POST", f"{tenant.coll_path(db, name)}/points",
                                 {"points": [{"id": "a", "vector": [2.0] * 8},
                                             {"id": "b", "text": "needs a model"}]})
    expect(r, 503, "unavailable")
    msg = r.json()["error"]["message"]
    assert standin.base in msg and words in msg, msg
    assert KEY not in msg
    assert tenant.count(db, name) == 1  # the batch is all-or-nothing
    standin.reset()


def test_429_with_retry_after_is_retried_then_succeeds(tenant, standin):
    standin.reset()
    db = tenant.create_db()
    coll = create(tenant, db, 8, openai_config(standin), metric="l2")
    standin.control({"fail": "429", "times": 1, "retry_after": "1"})
    tenant.upsert(db, coll["name"], [{"id": "a", "text": "retry me"}])
    reqs = standin.requests()["requests"]
    assert len(reqs) == 2 and reqs[1]["start"] - reqs[0]["sent"] >= 0.9
    assert tenant.count(db, coll["name"]) == 1


def test_connection_refused_names_the_provider(tenant, srv):
    db = tenant.create_db()
    port = free_port()
    dead = f"http://127.0.0.1:{port}/v1"
    r = tenant.developer.request("POST", f"{tenant.db_path(db)}/collections",
                                 {"name": "dead", "dimension": 8, "embedding":
                                  {"provider": "openai", "base_url": dead, "model": "m"}})
    expect(r, 400, "invalid_argument")  # not in the allow-list
    assert "allowed_urls" in r.json()["error"]["message"]


def test_bad_configurations_are_refused_and_create_nothing(tenant, standin):
    db = tenant.create_db()
    cases = [
        (16, {"provider": "builtin"}, "32..4096"),
        (64, {"provider": "builtin", "dimension": 32}, "does not match"),
        (64, {"provider": "builtin", "model": "gpt"}, "akidb-builtin-v1"),
        (8, {"provider": "openai", "base_url": "http://10.1.2.3:80/v1", "model": "m"},
         "allowed_urls"),
        (8, dict(openai_config(standin), api_key_env="AKIDB_ADMIN_PASSWORD"),
         "AKIDB_EMBEDDING_KEY_"),
        (8, {"provider": "openai", "base_url": standin.base}, "model"),
        (8, {"provider": "magic"}, "provider"),
        (8, {"provider": "builtin", "colour": "red"}, "colour"),
        (8, dict(openai_config(standin), batch_size=0), "batch_size"),
    ]
    before = len(tenant.developer.call("GET", f"{tenant.db_path(db)}/collections")["items"])
    for dim, emb, words in cases:
        r = tenant.developer.request("POST", f"{tenant.db_path(db)}/collections",
                                     {"name": cl.unique("bad"), "dimension": dim,
                                      "embedding": emb})
        expect(r, 400, "invalid_argument")
        assert words in r.json()["error"]["message"], (emb, r.json())
    after = len(tenant.developer.call("GET", f"{tenant.db_path(db)}/collections")["items"])
    assert after == before


def test_text_without_a_model_is_refused(tenant):
    db = tenant.create_db()
    name = tenant.create_collection(db, dimension=4)["name"]
    r = tenant.developer.request("POST", f"{tenant.coll_path(db, name)}/points",
                                 {"points": [{"id": "a", "text": "no model here"}]})
    expect(r, 400, "invalid_argument")
    assert "no embedding model" in r.json()["error"]["message"]
    r = tenant.viewer.request("POST", f"{tenant.coll_path(db, name)}/search", {"text": "x"})
    expect(r, 400, "invalid_argument")
    assert "no embedding model" in r.json()["error"]["message"]


@pytest.fixture(scope="module")
def grpc_channel(srv):
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as ch:
        yield ch


def test_grpc_creates_and_shows_the_embedding_and_embeds_text(tenant, stubs, grpc_channel):
    channel = grpc_channel
    md = (("authorization", f"Bearer {tenant.developer.token}"),)
    colls = stubs.collections_pb2_grpc.CollectionServiceStub(channel)
    pts = stubs.points_pb2_grpc.PointServiceStub(channel)
    db = tenant.create_db()
    made = colls.CreateCollection(stubs.collections_pb2.CreateCollectionRequest(
        tenant=tenant.slug, database=db, name="g", dimension=48,
        embedding=stubs.common_pb2.EmbeddingConfig(provider="builtin")), metadata=md, timeout=30)
    assert (made.embedding.provider, made.embedding.model, made.embedding.dimension) == \
        ("builtin", "akidb-builtin-v1", 48)
    rest = tenant.developer.call("GET", tenant.coll_path(db, "g"))
    assert rest["embedding"] == {"provider": "builtin", "model": "akidb-builtin-v1",
                                 "dimension": 48}
    pts.Upsert(stubs.points_pb2.UpsertRequest(
        tenant=tenant.slug, database=db, collection="g",
        points=[stubs.common_pb2.PointInput(id="x", text="shock waves on a cone"),
                stubs.common_pb2.PointInput(id="y", text="heat transfer in plates")]),
        metadata=md, timeout=30)
    hits = pts.Search(stubs.points_pb2.SearchRequest(
        tenant=tenant.slug, database=db, collection="g", text="cone shock", k=2),
        metadata=md, timeout=30).results
    assert hits[0].id == "x"
    rest_hits = tenant.developer.call("POST", f"{tenant.coll_path(db, 'g')}/search",
                                      {"text": "cone shock", "k": 2})["results"]
    assert [h.id for h in hits] == [h["id"] for h in rest_hits]
    with pytest.raises(grpc.RpcError) as e:
        colls.CreateCollection(stubs.collections_pb2.CreateCollectionRequest(
            tenant=tenant.slug, database=db, name="g2", dimension=8,
            embedding=stubs.common_pb2.EmbeddingConfig(provider="builtin")),
            metadata=md, timeout=30)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "32..4096" in e.value.details()


# ------------------------------------------------------ /v1/embeddings --

def test_embeddings_endpoint_builtin_float_and_base64(tenant):
    body = {"model": "akidb-builtin-v1", "input": ["supersonic flow", "laminar boundary layer"],
            "dimensions": 64}
    r = tenant.viewer.call("POST", "/v1/embeddings", body)
    assert r["object"] == "list" and r["model"] == "akidb-builtin-v1"
    assert [d["index"] for d in r["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 64 for d in r["data"])
    assert r["usage"]["prompt_tokens"] == 5 == r["usage"]["total_tokens"]
    b = tenant.viewer.call("POST", "/v1/embeddings", dict(body, encoding_format="base64"))
    raw = base64.b64decode(b["data"][1]["embedding"])
    floats = list(struct.unpack("<64f", raw))
    assert floats == pytest.approx(r["data"][1]["embedding"], abs=1e-7)
    # the same vector a collection with the built-in model stores for that text
    db = tenant.create_db()
    name = create(tenant, db, 64, {"provider": "builtin"})["name"]
    tenant.upsert(db, name, [{"id": "x", "text": "laminar boundary layer"}])
    stored = tenant.viewer.call("POST", f"{tenant.coll_path(db, name)}/points/get",
                                {"ids": ["x"], "with_vector": True})["points"][0]["vector"]
    assert stored == pytest.approx(floats, abs=1e-6)
    one = tenant.viewer.call("POST", "/v1/embeddings", {"model": "akidb-builtin-v1",
                                                         "input": "one text"})
    assert len(one["data"]) == 1 and len(one["data"][0]["embedding"]) == 1024


def test_embeddings_endpoint_uses_a_collections_model(tenant, standin):
    standin.reset()
    db = tenant.create_db()
    name = create(tenant, db, 8, openai_config(standin), metric="l2")["name"]
    r = tenant.developer.call("POST", "/v1/embeddings", {"model": f"{db}/{name}",
                                                          "input": ["alpha", "beta"]})
    assert r["data"][1]["embedding"] == pytest.approx(standin_vector("beta", 8), abs=1e-6)
    standin.control({"fail": "500", "times": -1})
    bad = tenant.developer.request("POST", "/v1/embeddings", {"model": f"{db}/{name}",
                                                             "input": ["alpha"]})
    expect(bad, 503, "unavailable")
    assert standin.base in bad.json()["error"]["message"]
    standin.reset()


def test_embeddings_endpoint_refusals(tenant, srv):
    cases = [
        ({"input": "x"}, 400, "'model'"),
        ({"model": "akidb-builtin-v1"}, 400, "'input'"),
        ({"model": "akidb-builtin-v1", "input": [1, 2]}, 400, "token arrays"),
        ({"model": "akidb-builtin-v1", "input": "x", "dimensions": 8}, 400, "'dimensions'"),
        ({"model": "akidb-builtin-v1", "input": "x", "encoding_format": "int8"}, 400,
         "encoding_format"),
        ({"model": "akidb-builtin-v1", "input": ["fine", "!!!"]}, 400, "input[1]"),
        ({"model": "gpt-4", "input": "x"}, 404, "not configured"),
        ({"model": "nodb/nocoll", "input": "x"}, 404, "nodb"),
    ]
    for body, status, words in cases:
        r = tenant.viewer.request("POST", "/v1/embeddings", body)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["error"]["message"], (body, r.json())
    # roles: the auditor may not embed; a system admin has no tenant
    auditor = cl.make_tenant(srv, srv.login_admin(), roles=("admin", "auditor"))
    r = auditor.auditor.request("POST", "/v1/embeddings", {"model": "akidb-builtin-v1",
                                                           "input": "x"})
    expect(r, 403, "permission_denied")
    r = srv.login_admin().request("POST", "/v1/embeddings", {"model": "akidb-builtin-v1",
                                                             "input": "x"})
    expect(r, 403, "permission_denied")


def test_embeddings_endpoint_does_not_reach_another_tenants_collection(tenant, srv):
    other = cl.make_tenant(srv, srv.login_admin(), roles=("admin", "developer"))
    db = other.create_db()
    name = create(other, db, 32, {"provider": "builtin"})["name"]
    r = tenant.developer.request("POST", "/v1/embeddings", {"model": f"{db}/{name}",
                                                           "input": "x"})
    assert r.status_code == 404, r.text
    assert other.slug not in r.text
    ok = other.developer.call("POST", "/v1/embeddings", {"model": f"{db}/{name}", "input": "x y"})
    assert len(ok["data"][0]["embedding"]) == 32


def test_grpc_embed_matches_rest(tenant, stubs, grpc_channel):
    es = stubs.embeddings_pb2_grpc.EmbeddingServiceStub(grpc_channel)
    md = (("authorization", f"Bearer {tenant.viewer.token}"),)
    got = es.Embed(stubs.embeddings_pb2.EmbedRequest(model="akidb-builtin-v1",
                                                     input=["a wedge", "a cone"],
                                                     dimensions=40), metadata=md, timeout=30)
    rest = tenant.viewer.call("POST", "/v1/embeddings", {"model": "akidb-builtin-v1",
                                                          "input": ["a wedge", "a cone"],
                                                          "dimensions": 40})
    assert [list(v.values) for v in got.data] == \
        [pytest.approx(d["embedding"], abs=1e-7) for d in rest["data"]]
    assert got.prompt_tokens == rest["usage"]["prompt_tokens"]
    with pytest.raises(grpc.RpcError) as e:
        es.Embed(stubs.embeddings_pb2.EmbedRequest(model="gpt-4", input=["x"]), metadata=md,
                 timeout=30)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_metrics_count_embeddings_by_provider_and_cause(tenant, srv, standin):
    def sample(text, name, **labels):
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for line in text.splitlines():
            if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(name + " ")):
                return float(line.split()[-1])
        raise AssertionError(f"{name}{{{want}}} not in /metrics")

    before = requests.get(f"{srv.url}/metrics", timeout=10).text
    tenant.viewer.call("POST", "/v1/embeddings", {"model": "akidb-builtin-v1",
                                                  "input": ["one two", "three four"]})
    standin.reset()
    db = tenant.create_db()
    name = create(tenant, db, 8, openai_config(standin, max_retries=1), metric="l2")["name"]
    standin.control({"fail": "500", "times": -1})
    tenant.developer.request("POST", f"{tenant.coll_path(db, name)}/points",
                             {"points": [{"id": "a", "text": "x"}]})
    standin.reset()
    after = requests.get(f"{srv.url}/metrics", timeout=10).text
    d = lambda n, **kw: sample(after, n, **kw) - sample(before, n, **kw)  # noqa: E731
    assert d("akidb_embedding_calls_total", provider="builtin", outcome="ok") == 1
    assert d("akidb_embedding_inputs_total", provider="builtin") == 2
    assert d("akidb_embedding_input_bytes_total", provider="builtin") == 17
    assert d("akidb_embedding_calls_total", provider="openai", outcome="failed") == 1
    assert d("akidb_embedding_errors_total", provider="openai", cause="http_5xx") == 2
    assert d("akidb_embedding_retries_total", provider="openai") == 1
    assert sample(after, "akidb_embedding_call_duration_seconds_count", provider="builtin") >= 1
