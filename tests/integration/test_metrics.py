"""
GET /metrics after some traffic: passes `promtool check metrics` (Debian
package prometheus) and carries request counts by route and status, the
request latency histogram, search latency, points per collection and WAL
fsync figures — labelled by route pattern, never by raw path.
"""
import re
import shutil
import subprocess
import time

import pytest

import client as cl
from client import expect, make_tenant

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

SEARCH_ROUTE = "/v1/tenants/{tenant}/databases/{database}/collections/{collection}/search"
UPSERT_ROUTE = "/v1/tenants/{tenant}/databases/{database}/collections/{collection}/points"


def parse(text):
    """[(name, {labels}, value)] of every sample; asserts each line parses."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"line {n} is not a sample: {line!r}"
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        v = m.group(4)
        value = float("inf") if v == "+Inf" else float("-inf") if v == "-Inf" else float(v)
        out.append((m.group(1), labels, value))
    return out


def find(samples, name, **labels):
    return [(n, lb, v) for n, lb, v in samples
            if n == name and all(lb.get(k) == val for k, val in labels.items())]


@pytest.fixture(scope="module")
def traffic(server, sysadmin):
    t = make_tenant(server, sysadmin, roles=("admin", "viewer"))
    db = t.create_db()
    coll = t.create_collection(db, dimension=3, metric="l2")["name"]
    path = t.coll_path(db, coll)
    for b in range(3):
        t.upsert(db, coll, [{"id": f"m{b}-{i}", "vector": [i, b, 1.0]} for i in range(10)])
    for _ in range(5):
        t.viewer.call("POST", f"{path}/search", {"vector": [1, 2, 3], "k": 3})
    t.viewer.call("POST", f"{path}/search", {"vectors": [[1, 2, 3], [3, 2, 1]], "k": 3})
    expect(t.viewer.post(f"{path}/search", {"vector": [1, 2]}), 400, "invalid_argument")
    expect(t.viewer.get(f"{t.db_path(db)}/collections/nope"), 404, "not_found")
    return {"t": t, "db": db, "coll": coll, "server": server}


def scrape(server):
    r = cl.Client(server).get("/metrics")
    assert r.status_code == 200, cl.describe(r)
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain") and "0.0.4" in ctype, ctype
    return r.text


def test_metrics_pass_promtool(traffic):
    text = scrape(traffic["server"])
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: apt-get install prometheus"
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, (f"promtool check metrics failed ({p.returncode}):\n"
                               f"{p.stdout}\n{p.stderr}\n--- metrics ---\n{text[:5000]}")


def test_request_counts_and_latency_by_route(traffic):
    s = parse(scrape(traffic["server"]))
    search_ok = find(s, "akidb_http_requests_total", route=SEARCH_ROUTE, method="POST",
                     status="200")
    assert search_ok and search_ok[0][2] >= 6, search_ok
    bad = find(s, "akidb_http_requests_total", route=SEARCH_ROUTE, method="POST", status="400")
    assert bad and bad[0][2] >= 1, bad
    upserts = find(s, "akidb_http_requests_total", route=UPSERT_ROUTE, method="POST",
                   status="200")
    assert upserts and upserts[0][2] >= 3, upserts
    # Labels are route patterns, never raw paths with names in them.
    t = traffic["t"]
    for n, lb, _ in s:
        if "route" in lb:
            assert t.slug not in lb["route"] and traffic["coll"] not in lb["route"], (n, lb)
    buckets = find(s, "akidb_http_request_duration_seconds_bucket", route=SEARCH_ROUTE,
                   method="POST", status="200")
    assert buckets, "no latency histogram for the search route"
    inf = [v for _, lb, v in buckets if lb.get("le") == "+Inf"]
    count = find(s, "akidb_http_request_duration_seconds_count", route=SEARCH_ROUTE,
                 method="POST", status="200")
    assert inf and count and inf[0] == count[0][2] == search_ok[0][2], (inf, count, search_ok)
    les = sorted(float(lb["le"]) for _, lb, _ in buckets)
    vals = [v for _, lb, v in sorted(buckets, key=lambda x: float(x[1]["le"]))]
    assert vals == sorted(vals), "histogram buckets must be cumulative"
    assert len(les) >= 5, les
    assert find(s, "akidb_http_request_duration_seconds_sum", route=SEARCH_ROUTE,
                method="POST", status="200")


def test_search_latency_and_points_per_collection(traffic):
    s = parse(scrape(traffic["server"]))
    cnt = find(s, "akidb_search_duration_seconds_count")
    assert cnt and sum(v for _, _, v in cnt) >= 6, cnt
    assert find(s, "akidb_search_duration_seconds_bucket")
    q = find(s, "akidb_search_queries_total")
    assert q and sum(v for _, _, v in q) >= 7, q   # 5 single + 1 batch of 2
    t = traffic["t"]
    coll = dict(tenant=t.slug, database=traffic["db"], collection=traffic["coll"])
    points = find(s, "akidb_collection_points", **coll)
    assert [v for _, _, v in points] == [30], f"points per collection: {points}"
    pending = find(s, "akidb_collection_pending_points", **coll)
    assert len(pending) == 1 and 0 <= pending[0][2] <= 30, pending
    for name in ("akidb_collection_memory_bytes", "akidb_collection_disk_bytes"):
        got = find(s, name, **coll)
        assert len(got) == 1 and got[0][2] > 0, (name, got)
    fsyncs = find(s, "akidb_wal_fsyncs_total", **coll)
    assert len(fsyncs) == 1 and fsyncs[0][2] >= 3, f"3 upserts under fsync durability: {fsyncs}"
    secs = find(s, "akidb_wal_fsync_seconds_total", **coll)
    assert len(secs) == 1 and secs[0][2] > 0, secs


def test_login_and_process_metrics(traffic):
    s = parse(scrape(traffic["server"]))
    ok = find(s, "akidb_logins_total", outcome="success")
    assert ok and ok[0][2] >= 2, ok
    rss = find(s, "akidb_process_resident_memory_bytes")
    assert rss and rss[0][2] > 1 << 20, rss
    st = find(s, "akidb_process_start_time_seconds")
    assert st and abs(st[0][2] - time.time()) < 24 * 3600, st
    assert find(s, "akidb_build_info"), "akidb_build_info missing"
