"""
tests/integration/reference.py — what the server's answers are checked
against: brute-force k-nearest-neighbour search in numpy and an independent
evaluator of the filter language of docs/rest-api.md.

Filter semantics implemented here (from the contract):
  - condition {"field": "a.b", "<op>": value}, op one of eq ne gt gte lt lte in;
  - a missing field matches nothing except `ne` (and `not` around anything);
  - numbers compare by value (1 == 1.0), booleans are not numbers;
  - gt/gte/lt/lte compare number with number, or string with string
    bytewise (UTF-8); anything else does not match;
  - and / or / not combine filters.
"""
import math

import numpy as np

MISSING = object()
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")


def distance_fn(metric):
    if metric == "l2":
        return lambda X, q: ((X - q) ** 2).sum(axis=1)
    if metric == "dot":
        return lambda X, q: -(X @ q)
    if metric == "cosine":
        def cos(X, q):
            xn = X / np.linalg.norm(X, axis=1, keepdims=True)
            qn = q / np.linalg.norm(q)
            return 1.0 - xn @ qn
        return cos
    raise ValueError(metric)


def as_f32(v):
    """The float32 value the server stores, as float64 for exact arithmetic."""
    return np.asarray(v, dtype=np.float32).astype(np.float64)


class Corpus:
    """The points of one collection as the server should hold them."""

    def __init__(self, metric):
        self.metric = metric
        self.points = {}  # id -> (vector float64 from float32, payload)

    def put(self, pid, vector, payload=None):
        self.points[pid] = (as_f32(vector), payload)

    def remove(self, pid):
        self.points.pop(pid, None)

    def search(self, q, k, flt=None):
        """[(id, distance)] nearest first: every point matching `flt`."""
        ids = [pid for pid, (_, p) in self.points.items() if flt is None or matches(flt, p)]
        if not ids:
            return []
        X = np.stack([self.points[i][0] for i in ids])
        d = distance_fn(self.metric)(X, as_f32(q))
        order = np.argsort(d, kind="stable")
        return [(ids[j], float(d[j])) for j in order[:k]]

    def distance(self, pid, q):
        v = self.points[pid][0][None, :]
        return float(distance_fn(self.metric)(v, as_f32(q))[0])


def close(a, b, tol=1e-3):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check_hits(hits, corpus, q, k, flt=None, exact=True, min_recall=0.9, tol=1e-3,
               context=""):
    """Checks one result list against brute force. Exact: the k distances equal
    the brute-force k best (ties may swap ids). Approximate: every hit matches
    the filter with its true distance, the list is as long as it must be, and
    recall against the true k best is at least `min_recall`."""
    want = corpus.search(q, k, flt)
    where = f"{context}\nwant: {want[:12]}\ngot:  {[(h.get('id'), h.get('distance')) for h in hits][:12]}"
    assert len(hits) == len(want), f"{len(hits)} hits, expected {len(want)} {where}"
    dists = [h["distance"] for h in hits]
    assert all(dists[i] <= dists[i + 1] + 1e-6 for i in range(len(dists) - 1)), \
        f"hits not nearest first {where}"
    seen = set()
    for h in hits:
        pid = h["id"]
        assert pid not in seen, f"id {pid!r} returned twice {where}"
        seen.add(pid)
        assert pid in corpus.points, f"unknown id {pid!r} {where}"
        if flt is not None:
            assert matches(flt, corpus.points[pid][1]), \
                f"hit {pid!r} payload {corpus.points[pid][1]} does not match {flt} {where}"
        true_d = corpus.distance(pid, q)
        assert close(h["distance"], true_d, tol), \
            f"hit {pid!r} distance {h['distance']} != brute force {true_d} {where}"
    if exact:
        for i, ((_, wd), gd) in enumerate(zip(want, dists)):
            assert close(wd, gd, tol), f"rank {i}: distance {gd} != brute force {wd} {where}"
    else:
        if want:
            kth = want[-1][1]
            good = sum(1 for h in hits if corpus.distance(h["id"], q) <= kth + tol * max(1, abs(kth)))
            recall = good / len(want)
            assert recall >= min_recall, f"recall {recall:.2f} < {min_recall} {where}"


# ------------------------------------------------------------------ filter --

def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def field_value(payload, path):
    cur = payload
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def scalar_eq(a, b):
    if is_num(a) and is_num(b):
        return float(a) == float(b)
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    if a is None and b is None:
        return True
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def ordered(a, op, b):
    if is_num(a) and is_num(b):
        x, y = float(a), float(b)
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a.encode("utf-8"), b.encode("utf-8")
    else:
        return False
    if isinstance(x, float) and (math.isnan(x) or math.isnan(y)):
        return False
    return {"gt": x > y, "gte": x >= y, "lt": x < y, "lte": x <= y}[op]


def matches(flt, payload):
    if "and" in flt:
        return all(matches(f, payload) for f in flt["and"])
    if "or" in flt:
        return any(matches(f, payload) for f in flt["or"])
    if "not" in flt:
        return not matches(flt["not"], payload)
    (op,) = [k for k in flt if k != "field"]
    target = flt[op]
    v = field_value(payload if isinstance(payload, dict) else {}, flt["field"])
    if op == "ne":
        return v is MISSING or not scalar_eq(v, target)
    if v is MISSING:
        return False
    if op == "eq":
        return scalar_eq(v, target)
    if op == "in":
        return any(scalar_eq(v, t) for t in target)
    return ordered(v, op, target)
