"""
tests/integration/test_text_search.py — full-text search over the REST API:
`"mode": "text"` ranks the points' text by BM25 with the collection's k1
and b (set at create, shown by GET), and the scores equal an independent
computation (bench/text_bm25_ref.py: its own tokeniser and Porter stemmer,
written from docs/embeddings.md, BM25 from raw counts here); replaced and
deleted points' old text no longer matches; filters apply; text written
before a restart is found after it; invalid UTF-8 in a point's text is
refused and changes nothing; bad search bodies get clear 400s.
"""
import math
import os
import sys
from pathlib import Path

import pytest

import client as cl
from client import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import text_bm25_ref as ref  # noqa: E402

DOCS = {
    "d0": "the boundary layer of a flat plate in supersonic flow",
    "d1": "heat transfer in the laminar boundary layer of a cone",
    "d2": "buckling of thin cylindrical shells under axial load",
    "d3": "supersonic flow past a cone: shock waves and surface pressure",
    "d4": "the flutter of a wing panel in supersonic flow at high mach numbers",
    "d5": "boundary layers, boundary conditions and the boundary of a wing",
}


@pytest.fixture(scope="module")
def tenant(server, sysadmin):
    return cl.make_tenant(server, sysadmin, roles=("admin", "developer", "viewer"))


def points(docs):
    return [{"id": pid, "vector": [float(i + 1), 1.0, 0.5, 0.25], "text": text,
             "payload": {"n": i, "even": i % 2 == 0}}
            for i, (pid, text) in enumerate(docs.items())]


def new_collection(tenant, docs=DOCS, **extra):
    db = tenant.create_db()
    coll = tenant.create_collection(db, dimension=4, metric="l2", **extra)
    tenant.upsert(db, coll["name"], points(docs))
    return db, coll


def bm25(docs, query, k1=1.2, b=0.75):
    """BM25 of every document for the query, from raw term counts."""
    doc_terms = {pid: ref.terms(text) for pid, text in docs.items()}
    n = len(doc_terms)
    avgdl = sum(len(t) for t in doc_terms.values()) / n
    df = {}
    for t in doc_terms.values():
        for term in set(t):
            df[term] = df.get(term, 0) + 1
    scores = {}
    for pid, t in doc_terms.items():
        s = 0.0
        for q in ref.terms(query):
            tf = t.count(q)
            if not tf:
                continue
            idf = math.log(1 + (n - df[q] + 0.5) / (df[q] + 0.5))
            s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(t) / avgdl))
        if s > 0:
            scores[pid] = s
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def text_search(tenant, db, coll, text, by="viewer", **extra):
    body = {"mode": "text", "text": text}
    body.update(extra)
    return getattr(tenant, by).call("POST", f"{tenant.coll_path(db, coll)}/search", body)


def test_text_search_scores_equal_an_independent_bm25(tenant):
    db, coll = new_collection(tenant)
    assert coll["text"] == {"k1": 1.2, "b": 0.75}
    for query in ("supersonic flow", "boundary layer", "cone", "wing panels fluttering"):
        got = text_search(tenant, db, coll["name"], query, k=10)["results"]
        want = bm25(DOCS, query)
        assert [h["id"] for h in got] == [pid for pid, _ in want], query
        for h, (_, s) in zip(got, want):
            assert h["score"] == pytest.approx(s, rel=1e-5), (query, h)
            assert "distance" not in h
            assert h["text"] == DOCS[h["id"]] and h["payload"]["n"] == int(h["id"][1])


def test_collection_bm25_parameters_apply(tenant):
    db, coll = new_collection(tenant, text={"k1": 2.0, "b": 0.3})
    assert coll["text"] == {"k1": 2.0, "b": 0.3}
    shown = tenant.viewer.call("GET", tenant.coll_path(db, coll["name"]))
    assert shown["text"] == {"k1": 2.0, "b": 0.3}
    got = text_search(tenant, db, coll["name"], "boundary layer")["results"]
    want = bm25(DOCS, "boundary layer", k1=2.0, b=0.3)
    assert [(h["id"], pytest.approx(h["score"], rel=1e-5)) for h in got] == \
        [(pid, pytest.approx(s, rel=1e-5)) for pid, s in want]


def test_replace_delete_and_filter(tenant):
    db, coll = new_collection(tenant)
    name = coll["name"]
    tenant.upsert(db, name, [{"id": "d2", "vector": [1, 1, 1, 1], "text": "an aeroelastic wing"}])
    assert text_search(tenant, db, name, "buckling")["results"] == []
    assert [h["id"] for h in text_search(tenant, db, name, "aeroelastic")["results"]] == ["d2"]
    tenant.admin.call("POST", f"{tenant.coll_path(db, name)}/points/delete", {"ids": ["d3"]})
    assert text_search(tenant, db, name, "shock")["results"] == []
    even = text_search(tenant, db, name, "supersonic flow",
                       filter={"field": "even", "eq": True})["results"]
    assert [h["id"] for h in even] == [pid for pid, _ in bm25({k: DOCS[k] for k in ("d0", "d4")},
                                                             "supersonic flow")]
    assert len(text_search(tenant, db, name, "boundary", k=1)["results"]) == 1


def test_text_is_found_after_a_restart(fresh_server):
    s = fresh_server
    t = cl.make_tenant(s, s.login_admin(), roles=("admin", "viewer"))
    db, coll = new_collection(t)
    before = text_search(t, db, coll["name"], "supersonic boundary")["results"]
    s.restart()
    t.clients["viewer"] = t.login(t.users["viewer"]["username"], t.users["viewer"]["password"])
    after = text_search(t, db, coll["name"], "supersonic boundary")["results"]
    assert [(h["id"], h["score"]) for h in after] == [(h["id"], h["score"]) for h in before]
    assert len(after) == 5  # d0, d1, d3, d4, d5 hold 'supersonic' or 'boundary'


def test_bad_text_and_bad_search_bodies_are_refused(tenant, server):
    db, coll = new_collection(tenant)
    path = tenant.coll_path(db, coll["name"])
    cases = [
        ({"mode": "text"}, "'text'"),
        ({"mode": "text", "text": "flow", "vector": [1, 2, 3, 4]}, "takes no 'vector'"),
        ({"mode": "text", "text": "flow", "ef": 50}, "'ef' and 'exact'"),
        ({"mode": "text", "text": 5}, "'text' must be a string"),
        ({"mode": "words", "text": "flow"}, "'mode' must be"),
        ({"text": "flow"}, "\"mode\": \"text\""),
    ]
    for body, words in cases:
        r = tenant.viewer.request("POST", f"{path}/search", body)
        expect(r, 400, "invalid_argument")
        assert words in r.json()["error"]["message"], (body, r.json())
    r = tenant.developer.request("POST", f"{tenant.db_path(db)}/collections",
                                 {"name": "bad-bm25", "dimension": 4, "text": {"k1": 11}})
    expect(r, 400, "invalid_argument")
    assert "k1" in r.json()["error"]["message"]
    # invalid UTF-8 in a point's text (JSON cannot carry it; a lone surrogate escape is the
    # closest a JSON body gets, and jansson refuses it as malformed JSON)
    raw = b'{"points": [{"id": "x", "vector": [1, 2, 3, 4], "text": "bad \\ud800 text"}]}'
    r = tenant.developer.request("POST", f"{path}/points", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert tenant.count(db, coll["name"]) == len(DOCS)


# ---------------------------------------------------------------- hybrid --

def sides(tenant, db, coll, vector, text, n):
    path = f"{tenant.coll_path(db, coll)}/search"
    v = tenant.viewer.call("POST", path, {"vector": vector, "k": n, "include_payload": False})
    t = tenant.viewer.call("POST", path, {"mode": "text", "text": text, "k": n,
                                          "include_payload": False})
    return v["results"], t["results"]


def rrf(v, t, k=60, wv=1.0, wt=1.0):
    score = {}
    for r, h in enumerate(v, 1):
        score[h["id"]] = score.get(h["id"], 0) + wv / (k + r)
    for r, h in enumerate(t, 1):
        score[h["id"]] = score.get(h["id"], 0) + wt / (k + r)
    best = {}
    for r, h in enumerate(v, 1):
        best[h["id"]] = min(best.get(h["id"], 1 << 30), r)
    for r, h in enumerate(t, 1):
        best[h["id"]] = min(best.get(h["id"], 1 << 30), r)
    return sorted(score.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))


def linear(v, t, alpha):
    def norm(vals, lower_better):
        lo, hi = min(vals), max(vals)
        if hi <= lo:
            return [1.0] * len(vals)
        return [((hi - x) if lower_better else (x - lo)) / (hi - lo) for x in vals]
    score = {}
    for h, s in zip(v, norm([h["distance"] for h in v], True)):
        score[h["id"]] = score.get(h["id"], 0) + alpha * s
    for h, s in zip(t, norm([h["score"] for h in t], False)):
        score[h["id"]] = score.get(h["id"], 0) + (1 - alpha) * s
    return score


def test_hybrid_rrf_and_linear_match_the_two_sides_fused_by_hand(tenant):
    db, coll = new_collection(tenant)
    name = coll["name"]
    path = f"{tenant.coll_path(db, name)}/search"
    q, text = [3.0, 1.0, 0.5, 0.25], "supersonic boundary layer"
    v, t = sides(tenant, db, name, q, text, 50)
    got = tenant.viewer.call("POST", path, {"mode": "hybrid", "vector": q, "text": text,
                                            "k": 4, "explain": True})["results"]
    want = rrf(v, t)[:4]
    assert [h["id"] for h in got] == [pid for pid, _ in want]
    for h, (_, s) in zip(got, want):
        assert h["score"] == pytest.approx(s, rel=1e-5)
    # 3 candidates a side: some hits come from one side only, and explain
    # must show what that side said of them
    v3, t3 = sides(tenant, db, name, q, text, 3)
    every = tenant.viewer.call("POST", path, {"mode": "hybrid", "vector": q, "text": text,
                                              "k": 3, "candidates": 3, "explain": True})["results"]
    assert any(h["explain"]["vector"] is None for h in every), every  # text-only hits
    assert any(h["explain"]["text"] is None for h in every)    # vector-only hits
    for hits, vs, ts in ((got, v, t), (every, v3, t3)):
        vr = {h["id"]: r for r, h in enumerate(vs, 1)}
        tr = {h["id"]: r for r, h in enumerate(ts, 1)}
        for h in hits:
            x = h["explain"]
            assert (x["vector"] or {}).get("rank") == vr.get(h["id"])
            assert (x["text"] or {}).get("rank") == tr.get(h["id"])
            if x["vector"]:
                assert x["vector"]["distance"] == pytest.approx(vs[vr[h["id"]] - 1]["distance"],
                                                                rel=1e-6, abs=1e-9)
            if x["text"]:
                assert x["text"]["score"] == pytest.approx(ts[tr[h["id"]] - 1]["score"],
                                                           rel=1e-6)
    weighted = tenant.viewer.call("POST", path, {
        "mode": "hybrid", "vector": q, "text": text, "k": 6,
        "fusion": {"method": "rrf", "k": 10, "weights": {"vector": 0.25, "text": 2}}})["results"]
    assert [h["id"] for h in weighted] == [pid for pid, _ in rrf(v, t, 10, 0.25, 2.0)[:6]]
    lin = tenant.viewer.call("POST", path, {"mode": "hybrid", "vector": q, "text": text, "k": 6,
                                            "fusion": {"method": "linear", "alpha": 0.3}})
    scores = linear(v, t, 0.3)
    for h in lin["results"]:
        assert h["score"] == pytest.approx(scores[h["id"]], rel=1e-5, abs=1e-6)
    assert [h["score"] for h in lin["results"]] == pytest.approx(
        sorted(scores.values(), reverse=True)[:6], rel=1e-5, abs=1e-6)


def test_hybrid_filter_applies_to_both_sides_and_bad_bodies_are_refused(tenant):
    db, coll = new_collection(tenant)
    path = f"{tenant.coll_path(db, coll['name'])}/search"
    q = [3.0, 1.0, 0.5, 0.25]
    got = tenant.viewer.call("POST", path, {"mode": "hybrid", "vector": q, "text": "flow",
                                            "filter": {"field": "even", "eq": True},
                                            "k": 10})["results"]
    assert got and all(h["payload"]["even"] for h in got)
    # the sides carry ids and scores; the winners get what was asked for
    want = {p["id"]: p for p in points(DOCS)}
    full = tenant.viewer.call("POST", path, {"mode": "hybrid", "vector": q, "text": "flow",
                                             "k": 3, "include_vector": True})["results"]
    assert len(full) == 3
    for h in full:
        assert h["vector"] == pytest.approx(want[h["id"]]["vector"])
        assert h["payload"] == want[h["id"]]["payload"] and h["text"] == DOCS[h["id"]]
    bare = tenant.viewer.call("POST", path, {"mode": "hybrid", "vector": q, "text": "flow",
                                             "k": 3, "include_payload": False})["results"]
    assert [h["id"] for h in bare] == [h["id"] for h in full]
    assert all("payload" not in h and "vector" not in h and "text" not in h for h in bare)
    cases = [
        ({"mode": "hybrid", "vector": q}, "needs 'text'"),
        ({"mode": "hybrid", "text": "flow"}, "no embedding model"),
        ({"mode": "hybrid", "vectors": [q], "text": "flow"}, "one query"),
        ({"mode": "hybrid", "vector": q, "text": "f", "fusion": {"method": "max"}}, "fusion.method"),
        ({"mode": "hybrid", "vector": q, "text": "f", "fusion": {"k": 0}}, "fusion.k"),
        ({"mode": "hybrid", "vector": q, "text": "f", "fusion": {"alpha": 2, "method": "linear"}},
         "fusion.alpha"),
        ({"mode": "hybrid", "vector": q, "text": "f", "fusion": {"weights": {"vector": 0,
                                                                           "text": 0}}},
         "not both 0"),
        ({"mode": "hybrid", "vector": q, "text": "f", "fusion": {"alpha": 0.5}}, "belongs to"),
        ({"vector": q, "text": "flow"}, "not both"),
    ]
    for body, words in cases:
        r = tenant.viewer.request("POST", path, body)
        expect(r, 400, "invalid_argument")
        assert words in r.json()["error"]["message"], (body, r.json())
