"""
Property-based fuzzing with hypothesis against the shared server: generated
upsert, search and filter bodies — valid and invalid shapes, odd numbers,
unicode, deep nesting, huge integers, raw bytes — must never get a 5xx, every
error must be the documented JSON shape, and the server must still answer
/health afterwards. Valid generated filters are also checked against the
brute-force reference (the answer must be exactly right, not just non-5xx).

Example counts are bounded so the file runs in well under a minute.
"""
import json
import urllib.parse

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import client as cl
from client import expect, make_tenant
from reference import Corpus, check_hits

DIM = 4
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow,
                                                      HealthCheck.data_too_large],
                derandomize=True, database=None)

WEIRD_NUMBERS = st.sampled_from([0, -0.0, 1, -1, 2 ** 31, 2 ** 63, -2 ** 63 - 1, 2 ** 64,
                                 10 ** 40, -10 ** 400, 1e308, -1e308, 5e-324, 1e-320,
                                 3.4028235e38, 3.5e38, -3.5e38, 1.401298e-45, 0.1, 123456789.123])
numbers = st.one_of(st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                    st.floats(allow_nan=False, allow_infinity=False), WEIRD_NUMBERS)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(texts, kids, max_size=4)), max_leaves=20)

vectors = st.one_of(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=DIM, max_size=DIM),
    st.lists(numbers, min_size=0, max_size=DIM + 2),
    st.lists(json_values, max_size=DIM + 1),
    json_values)
ids = st.one_of(st.text(min_size=1, max_size=20), st.text(min_size=250, max_size=260),
                st.integers(), st.none(), texts)
points = st.one_of(
    st.fixed_dictionaries({"id": ids, "vector": vectors},
                          optional={"payload": json_values, "text": json_values}),
    st.fixed_dictionaries({"vector": vectors}),
    st.dictionaries(texts, json_values, max_size=4),
    json_values)
upsert_bodies = st.one_of(
    st.fixed_dictionaries({"points": st.lists(points, max_size=5)}),
    st.fixed_dictionaries({"points": st.lists(points, max_size=3)},
                          optional={"extra": json_values}),
    json_values)

FIELDS = st.sampled_from(["i", "cat", "score", "flag", "nested.x", "nested", "missing", "",
                          "a..b", ".", "cat.x", "é"])
OPS = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "in", "regex", "EQ", "field"])
conditions = st.builds(lambda f, op, v: {"field": f, op: v}, FIELDS, OPS,
                       st.one_of(scalars, st.lists(scalars, max_size=4), json_values))
any_filters = st.recursive(
    st.one_of(conditions, json_values),
    lambda kids: st.one_of(st.builds(lambda xs: {"and": xs}, st.lists(kids, max_size=3)),
                           st.builds(lambda xs: {"or": xs}, st.lists(kids, max_size=3)),
                           st.builds(lambda x: {"not": x}, kids),
                           st.dictionaries(st.sampled_from(["and", "or", "not", "field", "x"]),
                                           kids, max_size=3)),
    max_leaves=12)
search_bodies = st.one_of(
    st.fixed_dictionaries({"vector": vectors},
                          optional={"k": st.one_of(st.integers(-5, 2000), json_values),
                                    "ef": st.one_of(st.integers(-5, 20000), json_values),
                                    "filter": any_filters,
                                    "include_payload": st.one_of(st.booleans(), json_values),
                                    "include_vector": st.one_of(st.booleans(), json_values),
                                    "exact": st.one_of(st.booleans(), json_values)}),
    st.fixed_dictionaries({"vectors": st.lists(vectors, max_size=4)},
                          optional={"k": st.integers(-1, 50), "filter": any_filters}),
    json_values)

# Valid filters only, over the fixture's payload fields.
valid_scalars = {
    "i": st.integers(-5, 70),
    "score": st.floats(-10, 110, allow_nan=False),
    "cat": st.sampled_from(["red", "green", "blue", "", "Red"]),
    "flag": st.booleans(),
    "nested.x": st.integers(-1, 8),
    "opt": st.none(),
    "missing": st.integers(0, 3),
}


@st.composite
def valid_conditions(draw):
    field = draw(st.sampled_from(sorted(valid_scalars)))
    values = valid_scalars[field]
    op = draw(st.sampled_from(["eq", "ne", "in"] + (["gt", "gte", "lt", "lte"]
                                                    if field in ("i", "score", "cat", "nested.x",
                                                                 "missing") else [])))
    if op == "in":
        return {"field": field, "in": draw(st.lists(values, min_size=1, max_size=4))}
    return {"field": field, op: draw(values)}


valid_filters = st.recursive(
    valid_conditions(),
    lambda kids: st.one_of(st.builds(lambda xs: {"and": xs}, st.lists(kids, min_size=1, max_size=3)),
                           st.builds(lambda xs: {"or": xs}, st.lists(kids, min_size=1, max_size=3)),
                           st.builds(lambda x: {"not": x}, kids)),
    max_leaves=6)


def payload(i):
    p = {"i": i, "score": float((i * 37) % 101), "flag": i % 2 == 0, "nested": {"x": i % 7}}
    if i % 6:
        p["cat"] = ["red", "green", "blue"][i % 3]
    if i % 4 == 0:
        p["opt"] = None
    return p


@pytest.fixture(scope="module")
def fz(server, sysadmin):
    t = make_tenant(server, sysadmin, roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    fixed = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    rng = np.random.default_rng(3)
    corpus = Corpus("l2")
    pts = []
    for i in range(64):
        v = rng.normal(size=DIM).astype(np.float32).tolist()
        pts.append({"id": f"f{i}", "vector": v, "payload": payload(i)})
        corpus.put(f"f{i}", v, payload(i))
    t.upsert(db, fixed, pts)
    t.upsert(db, coll, pts)
    return {"t": t, "path": t.coll_path(db, coll), "fixed": t.coll_path(db, fixed),
            "corpus": corpus, "server": server}


def send(fz, method, path, body=None, raw=None, ctype="application/json"):
    c = fz["t"].admin
    if raw is not None:
        r = c.request(method, path, data=raw, headers={"Content-Type": ctype})
    elif body is not None:
        r = c.request(method, path, data=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"})
    else:
        r = c.request(method, path)
    assert r.status_code < 500, "server error\n" + cl.describe(r)
    if r.status_code >= 400:
        cl.check_error_shape(r)
        assert r.status_code in (400, 404, 409, 413, 415), cl.describe(r)
    return r


@settings(max_examples=150, **SETTINGS)
@given(body=upsert_bodies)
def test_fuzz_upsert(fz, body):
    r = send(fz, "POST", f"{fz['path']}/points", body)
    if r.status_code == 200:
        got = r.json()
        assert got["upserted"] == len(body["points"]) == len(got["ids"]), got


@settings(max_examples=150, **SETTINGS)
@given(body=search_bodies)
def test_fuzz_search(fz, body):
    r = send(fz, "POST", f"{fz['path']}/search", body)
    if r.status_code == 200:
        got = r.json()
        assert ("results" in got) != ("batches" in got), got


@settings(max_examples=150, **SETTINGS)
@given(flt=any_filters, exact=st.booleans())
def test_fuzz_filters(fz, flt, exact):
    send(fz, "POST", f"{fz['fixed']}/search",
         {"vector": [0.1, 0.2, 0.3, 0.4], "k": 5, "filter": flt, "exact": exact})


@settings(max_examples=120, **SETTINGS)
@given(flt=valid_filters, k=st.integers(1, 70), exact=st.booleans(),
       q=st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=DIM, max_size=DIM))
def test_valid_filters_match_brute_force(fz, flt, k, exact, q):
    assume(any(abs(x) > 1e-3 for x in q))
    r = send(fz, "POST", f"{fz['fixed']}/search",
             {"vector": q, "k": k, "filter": flt, "exact": exact})
    assert r.status_code == 200, cl.describe(r)
    # 64 points: small enough that every search must be exact.
    check_hits(r.json()["results"], fz["corpus"], q, k, flt, exact=True,
               context=f"filter {json.dumps(flt)} k={k} exact={exact}")


@settings(max_examples=100, **SETTINGS)
@given(data=st.one_of(st.binary(max_size=300),
                      st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
                      st.integers(1, 300).map(lambda d: ("[" * d + "]" * d).encode()),
                      st.integers(1, 300).map(lambda d: ('{"a":' * d + "1" + "}" * d).encode()),
                      st.integers(1, 300).map(
                          lambda d: ('{"points":[{"id":"x","vector":[1,2,3,4],"payload":'
                                     + '{"a":' * d + "1" + "}" * d + "}]}").encode()),
                      st.sampled_from([b"", b"null", b"{}", b"[]", b"\x00", b"{\"points\":null}",
                                       b"1" * 5000, b"-" * 10, b"{\"points\":[{}]}" * 3,
                                       b'{"points":[{"vector":[1e999,1,1,1]}]}',
                                       b'{"points":[{"vector":[123456789012345678901234567890,1,1,1]}]}',
                                       b'{"vector":[1,2,3,4],"k":1e400}',
                                       b'{"vector":[1,2,3,4],"k":99999999999999999999999}'])),
       where=st.sampled_from(["points", "search", "points/get", "points/delete"]))
def test_fuzz_raw_bodies(fz, data, where):
    send(fz, "POST", f"{fz['path']}/{where}", raw=data)


@settings(max_examples=100, **SETTINGS)
@given(pid=st.text(min_size=1, max_size=300))
def test_fuzz_point_id_in_path(fz, pid):
    r = send(fz, "GET", f"{fz['fixed']}/points/{urllib.parse.quote(pid, safe='')}")
    assert r.status_code in (200, 400, 404), cl.describe(r)


@settings(max_examples=60, **SETTINGS)
@given(path=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8),
       method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]))
def test_fuzz_paths(fz, path, method):
    p = "/v1/" + "/".join(urllib.parse.quote(x, safe="") for x in path)
    r = fz["t"].admin.request(method, p)
    assert r.status_code < 500, cl.describe(r)


def test_server_alive_after_fuzzing(fz, server):
    r = cl.Client(server).get("/health")
    assert expect(r, 200) == {"status": "ok"}
    assert expect(cl.Client(server).get("/ready"), 200) == {"status": "ready"}
    c = fz["t"].admin.call("GET", f"{fz['fixed']}/count")
    assert c == {"count": 64}, c
