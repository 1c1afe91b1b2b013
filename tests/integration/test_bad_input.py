"""
Bad input of every kind gets a clear 4xx with the documented code — and
changes nothing: after each refused request the collection's points, the
lists of databases, collections, users and tenants read back the same.
"""
import json

import pytest

import client as cl
from client import expect, make_tenant, unique

SMALL_LIMITS = """
[limits]
max_body_bytes = 65536
max_json_depth = 8
max_batch = 20
max_k = 50
max_ef = 100
max_dimension = 64
max_id_bytes = 16
max_filter_depth = 4
max_payload_bytes = 1024
"""


class Fixture:
    def __init__(self, server, sysadmin):
        self.t = make_tenant(server, sysadmin, roles=("admin", "developer"))
        self.sys = sysadmin
        self.db = self.t.create_db()
        self.coll = self.t.create_collection(self.db, dimension=4, metric="l2")["name"]
        self.cos = self.t.create_collection(self.db, dimension=4, metric="cosine")["name"]
        self.base = self.t.coll_path(self.db, self.coll)
        self.t.upsert(self.db, self.coll, [
            {"id": f"p{i}", "vector": [float(i), 1.0, 2.0, 3.0], "payload": {"i": i}}
            for i in range(3)])

    def state(self):
        t, c = self.t, self.t.admin
        return {
            "count": c.call("GET", f"{self.base}/count"),
            "points": c.call("POST", f"{self.base}/points/get",
                             {"ids": ["p0", "p1", "p2", "n", "z", "ok0", "ok1", "x" * 256],
                              "with_vector": True}),
            "cos_count": c.call("GET", f"{t.coll_path(self.db, self.cos)}/count"),
            "dbs": [d["name"] for d in c.list_all(f"{t.path}/databases")],
            "colls": [x["name"] for x in c.list_all(f"{t.db_path(self.db)}/collections")],
            "users": [u["username"] for u in c.list_all(f"{t.path}/users")],
            "tenants": [x["slug"] for x in self.sys.list_all("/v1/tenants")],
        }


@pytest.fixture(scope="module")
def fx(server, sysadmin):
    return Fixture(server, sysadmin)


def raw(c, method, path, data, ctype="application/json", headers=None):
    h = {} if ctype is None else {"Content-Type": ctype}
    h.update(headers or {})
    if isinstance(data, str):
        data = data.encode()
    return c.request(method, path, data=data, headers=h)


def refused(resp, status, code, mentions=()):
    """The response is the given error, names what it should, and nothing changed."""
    body = expect(resp, status, code)
    msg = body["error"]["message"]
    for m in mentions:
        assert m in msg, f"message {msg!r} should mention {m!r}\n" + cl.describe(resp)
    return msg


def nest(depth, leaf=1):
    v = leaf
    for _ in range(depth):
        v = {"a": v}
    return v


def pt(id_="n", vec=(1, 2, 3, 4), **extra):
    d = {"id": id_, "vector": list(vec)}
    d.update(extra)
    return d


UPSERT_BAD_JSON = [
    ("truncated", '{"points": ['),
    ("trailing garbage", '{"points": [{"id": "n", "vector": [1, 2, 3, 4]}]} x'),
    ("single quotes", "{'points': []}"),
    ("NaN token", '{"points": [{"id": "n", "vector": [NaN, 1, 2, 3]}]}'),
    ("Infinity token", '{"points": [{"id": "n", "vector": [Infinity, 1, 2, 3]}]}'),
    ("-Infinity token", '{"points": [{"id": "n", "vector": [1, -Infinity, 2, 3]}]}'),
    ("invalid UTF-8", b'{"points": [{"id": "\xff\xfe", "vector": [1, 2, 3, 4]}]}'),
    ("lone surrogate escape", '{"points": [{"id": "\\ud800", "vector": [1, 2, 3, 4]}]}'),
    ("too deep", json.dumps({"points": [pt(payload=nest(40))]})),
]

UPSERT_BAD_ARGS = [
    ("body is an array", [1, 2]),
    ("body is a number", 5),
    ("points missing", {}),
    ("points not an array", {"points": "x"}),
    ("empty batch", {"points": []}),
    ("point not an object", {"points": [[1, 2, 3, 4]]}),
    ("vector missing", {"points": [{"id": "n"}]}),
    ("vector of strings", {"points": [pt(vec=["a", 1, 2, 3])]}),
    ("vector with a bool", {"points": [pt(vec=[True, 1, 2, 3])]}),
    ("vector with null", {"points": [pt(vec=[None, 1, 2, 3])]}),
    ("vector not an array", {"points": [pt(vec="1,2,3,4")]}),
    ("vector empty", {"points": [pt(vec=[])]}),
    ("vector too short", {"points": [pt(vec=[1, 2, 3])]}),
    ("vector too long", {"points": [pt(vec=[1, 2, 3, 4, 5])]}),
    ("id a number", {"points": [pt(id_=5)]}),
    ("id empty", {"points": [pt(id_="")]}),
    ("id 257 bytes", {"points": [pt(id_="x" * 257)]}),
    ("id 258 bytes of UTF-8", {"points": [pt(id_="é" * 129)]}),
    ("payload an array", {"points": [pt(payload=[1, 2])]}),
    ("payload a string", {"points": [pt(payload="x")]}),
    ("text a number", {"points": [pt(text=5)]}),
    ("unknown field in point", {"points": [pt(colour="red")]}),
    ("unknown top-level field", {"points": [pt()], "bogus": 1}),
    ("1e999 overflows to infinity", None),  # sent raw below
]


@pytest.mark.parametrize("name,body", UPSERT_BAD_JSON, ids=[c[0] for c in UPSERT_BAD_JSON])
def test_upsert_not_json(fx, name, body):
    before = fx.state()
    refused(raw(fx.t.developer, "POST", f"{fx.base}/points", body), 400, "invalid_json")
    assert fx.state() == before


def test_upsert_empty_body(fx):
    # An empty body is both "not JSON" (invalid_json) and "the body is
    # missing" (invalid_argument); the document does not choose.
    before = fx.state()
    r = raw(fx.t.developer, "POST", f"{fx.base}/points", "")
    assert r.status_code == 400 and cl.error_of(r)["code"] in ("invalid_json",
                                                               "invalid_argument"), cl.describe(r)
    r = fx.t.developer.request("POST", f"{fx.base}/points")
    assert r.status_code == 400 and cl.error_of(r)["code"] in ("invalid_json",
                                                               "invalid_argument"), cl.describe(r)
    assert fx.state() == before


@pytest.mark.parametrize("name,body", UPSERT_BAD_ARGS, ids=[c[0] for c in UPSERT_BAD_ARGS])
def test_upsert_invalid_argument(fx, name, body):
    before = fx.state()
    if body is None:
        r = raw(fx.t.developer, "POST", f"{fx.base}/points",
                '{"points": [{"id": "n", "vector": [1e999, 1, 2, 3]}]}')
    else:
        r = fx.t.developer.post(f"{fx.base}/points", body)
    refused(r, 400, "invalid_argument")
    assert fx.state() == before


def test_upsert_is_all_or_nothing(fx):
    before = fx.state()
    pts = [pt("ok0"), pt("ok1"), pt("z", vec=[1, 2, 3]), pt("p0", payload={"changed": True})]
    msg = refused(fx.t.developer.post(f"{fx.base}/points", {"points": pts}), 400,
                  "invalid_argument")
    assert "2" in msg, f"the message should name the bad point's index 2: {msg!r}"
    pts = [pt("ok0"), pt("ok1"), pt("z", vec=["x", 2, 3, 4])]
    refused(fx.t.developer.post(f"{fx.base}/points", {"points": pts}), 400,
            "invalid_argument")
    assert fx.state() == before


def test_zero_vector_under_cosine_is_refused(fx):
    before = fx.state()
    refused(fx.t.developer.post(f"{fx.t.coll_path(fx.db, fx.cos)}/points",
                                    {"points": [pt("z", vec=[0, 0, 0, 0])]}), 400,
            "invalid_argument")
    refused(fx.t.developer.post(f"{fx.t.coll_path(fx.db, fx.cos)}/search",
                                    {"vector": [0, 0, 0, 0]}), 400, "invalid_argument")
    assert fx.state() == before


def test_batch_over_max_batch_is_413(fx):
    before = fx.state()
    pts = [pt(f"b{i}") for i in range(10001)]
    refused(fx.t.developer.post(f"{fx.base}/points", {"points": pts}), 413,
            "payload_too_large")
    refused(fx.t.developer.post(f"{fx.base}/search", {"vectors": [[1, 2, 3, 4]] * 10001}),
            413, "payload_too_large")
    assert fx.state() == before


def test_id_of_exactly_256_bytes_is_accepted(fx):
    c = fx.t.developer
    assert c.call("POST", f"{fx.base}/points", {"points": [pt("x" * 256)]})["ids"] == ["x" * 256]
    assert c.call("POST", f"{fx.base}/points/delete", {"ids": ["x" * 256]}) == {"deleted": 1}
    refused(c.get(f"{fx.base}/points/{'y' * 257}"), 400, "invalid_argument")


def deep_not(depth):
    f = {"field": "i", "eq": 1}
    for _ in range(depth):
        f = {"not": f}
    return f


SEARCH_BAD = [
    ("k zero", {"vector": [1, 2, 3, 4], "k": 0}),
    ("k over max_k", {"vector": [1, 2, 3, 4], "k": 1001}),
    ("k a string", {"vector": [1, 2, 3, 4], "k": "10"}),
    ("k fractional", {"vector": [1, 2, 3, 4], "k": 1.5}),
    ("k negative", {"vector": [1, 2, 3, 4], "k": -1}),
    ("ef over max_ef", {"vector": [1, 2, 3, 4], "ef": 10001}),
    ("ef zero", {"vector": [1, 2, 3, 4], "ef": 0}),
    ("wrong dimension", {"vector": [1, 2, 3]}),
    ("vector of strings", {"vector": ["1", "2", "3", "4"]}),
    ("no vector", {"k": 3}),
    ("vector and vectors", {"vector": [1, 2, 3, 4], "vectors": [[1, 2, 3, 4]]}),
    ("vectors empty", {"vectors": []}),
    ("vectors with a bad dimension", {"vectors": [[1, 2, 3, 4], [1, 2]]}),
    ("unknown field", {"vector": [1, 2, 3, 4], "kk": 3}),
    ("include_payload a string", {"vector": [1, 2, 3, 4], "include_payload": "yes"}),
    ("exact a string", {"vector": [1, 2, 3, 4], "exact": "true"}),
    ("filter not an object", {"vector": [1, 2, 3, 4], "filter": "i > 1"}),
    ("unknown filter operator", {"vector": [1, 2, 3, 4], "filter": {"field": "i", "regex": "x"}}),
    ("two operators", {"vector": [1, 2, 3, 4], "filter": {"field": "i", "eq": 1, "ne": 2}}),
    ("no operator", {"vector": [1, 2, 3, 4], "filter": {"field": "i"}}),
    ("no field", {"vector": [1, 2, 3, 4], "filter": {"eq": 1}}),
    ("field not a string", {"vector": [1, 2, 3, 4], "filter": {"field": 3, "eq": 1}}),
    ("in not an array", {"vector": [1, 2, 3, 4], "filter": {"field": "i", "in": 1}}),
    ("in with an object", {"vector": [1, 2, 3, 4], "filter": {"field": "i", "in": [{"a": 1}]}}),
    ("eq with an object", {"vector": [1, 2, 3, 4], "filter": {"field": "i", "eq": {"a": 1}}}),
    ("gt with a bool", {"vector": [1, 2, 3, 4], "filter": {"field": "i", "gt": True}}),
    ("and not an array", {"vector": [1, 2, 3, 4], "filter": {"and": {"field": "i", "eq": 1}}}),
    ("not with an array", {"vector": [1, 2, 3, 4], "filter": {"not": [{"field": "i", "eq": 1}]}}),
    ("filter deeper than max_filter_depth", {"vector": [1, 2, 3, 4], "filter": deep_not(20)}),
]


@pytest.mark.parametrize("name,body", SEARCH_BAD, ids=[c[0] for c in SEARCH_BAD])
def test_search_invalid_argument(fx, name, body):
    before = fx.state()
    msg = refused(fx.t.developer.post(f"{fx.base}/search", body), 400, "invalid_argument")
    if name == "unknown filter operator":
        assert "regex" in msg, msg
    assert fx.state() == before


@pytest.mark.parametrize("body", ['{"vector": [NaN, 1, 2, 3]}', '{"vector": [1, 2, 3, Infinity]}'])
def test_search_nan_is_not_json(fx, body):
    refused(raw(fx.t.developer, "POST", f"{fx.base}/search", body), 400, "invalid_json")


def test_search_overflowing_number_is_invalid_argument(fx):
    refused(raw(fx.t.developer, "POST", f"{fx.base}/search", '{"vector": [1e999, 1, 2, 3]}'),
            400, "invalid_argument")


def test_filter_within_max_depth_is_accepted(fx):
    r = fx.t.developer.call("POST", f"{fx.base}/search",
                            {"vector": [1, 2, 3, 4], "filter": deep_not(14)})
    assert isinstance(r["results"], list)


# ------------------------------------------------------------------- names --

BAD_SLUGS = ["AB", "ab", "a" * 64, "bad_slug", "", "sp ace", "ünï", "a.b"]
BAD_OBJECT_NAMES = ["-x", "_x", "a b", "x" * 64, "", "é", "a/b", "a.b"]
BAD_USERNAMES = ["Upper", "", ".dot", "-dash", "x" * 65, "sp ace", "a/b"]


def test_invalid_tenant_slugs(fx):
    before = fx.state()
    for slug in BAD_SLUGS:
        refused(fx.sys.post("/v1/tenants", {"slug": slug, "name": "n"}), 400,
                "invalid_argument")
    for body in ({"name": "no slug"}, {"slug": 5, "name": "n"}, {"slug": unique("ok")},
                 {"slug": unique("ok"), "name": "n", "status": "suspended"},
                 {"slug": unique("ok"), "name": "n", "quotas": {"max_qps": -1}},
                 {"slug": unique("ok"), "name": "n", "quotas": {"max_cpu": 1}},
                 {"slug": unique("ok"), "name": "n", "colour": "red"},
                 {"slug": unique("ok"), "name": "\u0001ctrl"}):
        refused(fx.sys.post("/v1/tenants", body), 400, "invalid_argument")
    for slug in ("AB", "bad_slug", "x" * 64):
        refused(fx.sys.get(f"/v1/tenants/{slug}"), 400, "invalid_argument")
    assert fx.state() == before


def test_invalid_database_and_collection_names(fx):
    t, c = fx.t, fx.t.admin
    before = fx.state()
    for name in BAD_OBJECT_NAMES:
        refused(c.post(f"{t.path}/databases", {"name": name}), 400, "invalid_argument")
        refused(c.post(f"{t.db_path(fx.db)}/collections", {"name": name, "dimension": 4}),
                400, "invalid_argument")
    for name in ("-bad-", "a.b", "x" * 64):
        refused(c.get(f"{t.path}/databases/{name}"), 400, "invalid_argument")
        refused(c.get(f"{t.db_path(fx.db)}/collections/{name}"), 400, "invalid_argument")
    refused(c.post(f"{t.path}/databases", {}), 400, "invalid_argument")
    refused(c.post(f"{t.path}/databases", {"name": unique("db"), "x": 1}), 400,
            "invalid_argument")
    coll = f"{t.db_path(fx.db)}/collections"
    for body in ({"name": unique("c")},
                 {"name": unique("c"), "dimension": 0},
                 {"name": unique("c"), "dimension": 65537},
                 {"name": unique("c"), "dimension": -1},
                 {"name": unique("c"), "dimension": "8"},
                 {"name": unique("c"), "dimension": 8.5},
                 {"name": unique("c"), "dimension": 8, "metric": "hamming"},
                 {"name": unique("c"), "dimension": 8, "index": {"m": 0}},
                 {"name": unique("c"), "dimension": 8, "index": {"ef_search": "x"}},
                 {"name": unique("c"), "dimension": 8, "index": {"bogus": 1}},
                 {"name": unique("c"), "dimension": 8, "colour": "red"}):
        refused(c.post(coll, body), 400, "invalid_argument")
    assert fx.state() == before


def test_invalid_users(fx):
    t, c = fx.t, fx.t.admin
    before = fx.state()
    for name in BAD_USERNAMES:
        refused(c.post(f"{t.path}/users",
                           {"username": name, "role": "viewer", "password": cl.new_password()}),
                400, "invalid_argument")
    for body in ({"username": unique("u"), "role": "root"},
                 {"username": unique("u")},
                 {"username": unique("u"), "role": "viewer", "password": "short-11by"},
                 {"username": unique("u"), "role": "viewer", "password": "x" * 1025},
                 {"username": unique("u"), "role": "viewer", "password": 123456789012},
                 {"username": unique("u"), "role": "viewer", "colour": "red"}):
        refused(c.post(f"{t.path}/users", body), 400, "invalid_argument")
    me = t.users["developer"]["username"]
    for body in ({"role": "root"}, {"status": "gone"}, {"password": "short"}, {"bogus": 1}):
        refused(c.patch(f"{t.path}/users/{me}", body), 400, "invalid_argument")
    refused(c.post(f"{t.path}/users/{me}/keys", {}), 400, "invalid_argument")
    refused(c.post(f"{t.path}/users/{me}/keys", {"name": "k", "expires_at": "tomorrow"}),
            400, "invalid_argument")
    refused(c.delete(f"{t.path}/users/{me}/keys/not-a-uuid"), 400, "invalid_argument")
    assert t.admin.call("GET", f"{t.path}/users/{me}")["role"] == "developer"
    assert fx.state() == before


def test_invalid_paging(fx):
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "abc"}, {"limit": -5},
                   {"after": "not-a-cursor"}):
        refused(fx.t.admin.get(f"{fx.t.path}/databases", params=params), 400,
                "invalid_argument")
    for params in ({"order": "sideways"}, {"from": "yesterday"}):
        refused(fx.t.admin.get(f"{fx.t.path}/audit", params=params), 400, "invalid_argument")


def test_unknown_tenant_fields_in_patch(fx):
    before = fx.state()
    for body in ({"slug": "renamed"}, {"status": "dormant"}, {"quotas": {"max_qps": "x"}},
                 {"name": 5}, {"id": "x"}):
        refused(fx.sys.patch(fx.t.path, body), 400, "invalid_argument")
    assert fx.sys.call("GET", fx.t.path)["status"] == "active"
    assert fx.state() == before


# ---------------------------------------------------- media type, routing --

def test_wrong_content_type_is_415(fx):
    before = fx.state()
    body = json.dumps({"points": [pt("n")]})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml",
                  "multipart/form-data; boundary=x"):
        refused(raw(fx.t.developer, "POST", f"{fx.base}/points", body, ctype=ctype), 415,
                "unsupported_media_type")
    assert fx.state() == before


def test_missing_or_charset_content_type_is_accepted(fx):
    body = json.dumps({"vector": [1, 2, 3, 4], "k": 1})
    for ctype in (None, "application/json; charset=utf-8", "Application/JSON"):
        r = raw(fx.t.developer, "POST", f"{fx.base}/search", body, ctype=ctype)
        assert expect(r, 200)["results"][0]["id"] in ("p0", "p1", "p2")


def test_unknown_routes_are_404(fx, server):
    anon = cl.Client(server)
    for path in ("/nope", "/v1/nope", "/v1/tenants/x/y/z/w/v", "/v2/tenants", "/v1/",
                 f"{fx.base}/points/a/b/c/d"):
        refused(anon.get(path), 404, "not_found")
        refused(fx.t.admin.get(path), 404, "not_found")


@pytest.mark.parametrize("method,path,allow", [
    ("PUT", "/v1/tenants", {"GET", "POST"}),
    ("DELETE", "/health", {"GET"}),
    ("POST", "/ready", {"GET"}),
    ("POST", "/v1/auth/whoami", {"GET"}),
    ("GET", "/v1/auth/login", {"POST"}),
    ("PUT", "/v1/tenants/{t}", {"GET", "PATCH", "DELETE"}),
    ("POST", "/v1/tenants/{t}/databases/{db}", {"GET", "DELETE"}),
    ("POST", "{base}/count", {"GET"}),
    ("GET", "{base}/search", {"POST"}),
    ("PATCH", "{base}/points/p0", {"GET"}),
])
def test_wrong_method_is_405_with_allow(fx, method, path, allow):
    path = path.format(t=fx.t.slug, db=fx.db, base=fx.base)
    before = fx.state()
    r = fx.t.admin.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else
                           cl._NO_BODY)
    refused(r, 405, "method_not_allowed")
    got = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert got - {"HEAD", "OPTIONS"} == allow, f"Allow: {r.headers.get('Allow')!r}, want {allow}"
    assert fx.state() == before


# ------------------------------------------------------------ small limits --

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from conftest import Server
    s = Server(tmp_path_factory.mktemp("small"), name="small-limits", config=SMALL_LIMITS)
    s.start()
    sys_ = s.login_admin()
    t = make_tenant(s, sys_, roles=("admin",))
    db = t.create_db()
    coll = t.create_collection(db, dimension=4, metric="l2")["name"]
    t.upsert(db, coll, [pt("p0")])
    yield s, t, t.coll_path(db, coll), db
    s.cleanup()


def small_state(t, base):
    return (t.admin.call("GET", f"{base}/count"),
            t.admin.call("POST", f"{base}/points/get", {"ids": ["p0", "big"], "with_vector": True}))


def test_body_over_max_body_bytes_is_413(small):
    s, t, base, _ = small
    before = small_state(t, base)
    big = json.dumps({"points": [pt("big", payload={"s": "x" * 70000})]})
    refused(raw(t.admin, "POST", f"{base}/points", big), 413, "payload_too_large")
    refused(raw(t.admin, "POST", f"{base}/points", "x" * 70000), 413, "payload_too_large")
    # Chunked upload without Content-Length: the limit still holds.
    r = t.admin.session.post(t.admin.base + f"{base}/points",
                             data=iter([big[i:i + 8192].encode() for i in range(0, len(big), 8192)]),
                             headers={"Authorization": f"Bearer {t.admin.token}",
                                      "Content-Type": "application/json"})
    cl.validate("POST", f"{base}/points", r)
    refused(r, 413, "payload_too_large")
    assert small_state(t, base) == before


def test_small_limits_are_enforced(small):
    s, t, base, db = small
    c = t.admin
    before = small_state(t, base)
    refused(c.post(f"{base}/points", {"points": [pt(f"b{i}") for i in range(21)]}), 413,
            "payload_too_large")
    assert c.call("POST", f"{base}/points", {"points": [pt(f"b{i}") for i in range(20)]})[
        "upserted"] == 20
    c.call("POST", f"{base}/points/delete", {"ids": [f"b{i}" for i in range(20)]})
    refused(c.post(f"{base}/search", {"vectors": [[1, 2, 3, 4]] * 21}), 413,
            "payload_too_large")
    refused(c.post(f"{base}/search", {"vector": [1, 2, 3, 4], "k": 51}), 400,
            "invalid_argument")
    refused(c.post(f"{base}/search", {"vector": [1, 2, 3, 4], "k": 5, "ef": 101}), 400,
            "invalid_argument")
    refused(c.post(f"{base}/points", {"points": [pt("x" * 17)]}), 400, "invalid_argument")
    refused(c.post(f"{base}/points", {"points": [pt("big", payload={"s": "x" * 1100})]}),
            400, "invalid_argument")
    refused(raw(c, "POST", f"{base}/points",
                      json.dumps({"points": [pt("big", payload=nest(10))]})), 400, "invalid_json")
    refused(c.post(f"{base}/search",
                         {"vector": [1, 2, 3, 4], "filter": deep_not(6)}), 400, "invalid_argument")
    refused(c.post(f"{t.db_path(db)}/collections", {"name": "wide", "dimension": 65}), 400,
            "invalid_argument")
    assert c.call("POST", f"{base}/points", {"points": [pt("x" * 16)]})["upserted"] == 1
    c.call("POST", f"{base}/points/delete", {"ids": ["x" * 16]})
    assert small_state(t, base) == before
