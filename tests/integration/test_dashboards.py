"""
tests/integration/test_dashboards.py — no dead panel, no dead alert: a real
Prometheus (Debian's /usr/bin/prometheus) scrapes a real AkiDB every second
while a small mixed load runs, with deploy/prometheus/alerts.yml loaded, and
every query of deploy/grafana/dashboards/*.json and every expression of the
rule file goes through Prometheus' HTTP API.

The stack (one per module, about 30 seconds):
  * s3rver (tests/integration/s3server.py) as the object store, and the
    stand-in OTLP receiver (otlp_standin.py) with tracing on;
  * `akidb serve` (REST and gRPC) with a memory budget (so the budget's
    series have a denominator) and a 1 ms slow-request threshold;
  * Prometheus on a free loopback port, scrape and rule evaluation every
    second, the job called `akidb` as in deploy/prometheus/prometheus.yml;
  * the load: REST and gRPC upserts and searches (vector, batch, text and
    hybrid on a collection with the built-in embedder), client errors, a
    failed login, a quota refusal, a snapshot, tier changes (hot → warm →
    hot, cold and back through s3rver), then an object-store fault (s3rver
    killed: a move to cold answers 503, the move waits in the dead-letter
    queue, the circuit breaker opens).

What "returns data" means:
  * a panel query (its `$job`, `$instance`, `$__rate_interval` replaced by
    `akidb`, the server's instance and `1m`) must answer status "success"
    with at least one series — and so must each of its comparison / set
    operands (promql_leaves.py);
  * a recording rule: its expression and its recorded series must return
    data;
  * an alert: its expression must parse (status "success"; it is normally
    empty, as nothing is wrong) and every leaf of it — the operands of its
    comparisons, `and`, `unless` and `or`, thresholds excluded — must return
    data, so the alert watches series that exist;
  * /api/v1/rules lists every rule of the file with health "ok".
A failure lists every dead query at once, with the metric names it uses.
"""
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

import client as cl
from client import expect, gaussian_points, make_tenant, wait_until
from conftest import Server, free_port
from promql_leaves import leaves
from s3server import S3rver

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
DASHBOARDS = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
PROMETHEUS = "/usr/bin/prometheus"
JOB = "akidb"
RATE_INTERVAL = "1m"
DIM = 8
STOP_TIMEOUT_S = 15

CONFIG = """
[storage]
memory_budget_bytes = 1073741824
[object_store]
connect_timeout_ms = 500
request_timeout_ms = 3000
max_retries = 1
retry_base_ms = 20
retry_max_ms = 100
breaker_failures = 2
breaker_cooldown_ms = 60000
dead_letter_retry_ms = 300
[log]
slow_request_ms = 1
[tracing]
enabled = true
endpoint = "{otlp}"
batch_delay_ms = 100
"""


class Process:
    """A child process with its output in a file, stopped in bounded time."""

    def __init__(self, args, log, env=None):
        self.log = log
        with open(log, "w") as f:
            self.proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)

    def stop(self):
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def tail(self, n=40):
        try:
            return "\n".join(Path(self.log).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "<no log>"


class Prometheus:
    def __init__(self, root, target):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        root = Path(root)
        (root / "tsdb").mkdir(parents=True, exist_ok=True)
        cfg = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [{"job_name": JOB, "metrics_path": "/metrics",
                                "static_configs": [{"targets": [target]}]}],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(cfg))
        self.process = Process([PROMETHEUS, f"--config.file={root / 'prometheus.yml'}",
                                f"--storage.tsdb.path={root / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{self.port}",
                                "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                               root / "prometheus.log")
        deadline = time.monotonic() + 30
        while True:
            assert self.process.proc.poll() is None, \
                f"prometheus exited at start:\n{self.process.tail()}"
            try:
                if requests.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, \
                f"prometheus not ready in 30 s:\n{self.process.tail()}"
            time.sleep(0.1)

    def query(self, expr):
        """(status, error, result) of an instant query."""
        r = requests.post(self.url + "/api/v1/query", data={"query": expr}, timeout=30)
        body = r.json()
        return body["status"], body.get("error", ""), body.get("data", {}).get("result", [])

    def api(self, path):
        r = requests.get(self.url + path, timeout=30)
        r.raise_for_status()
        return r.json()["data"]


def unix_time(rfc3339):
    """Seconds since the epoch of Prometheus' RFC 3339 time (nanoseconds
    cut to microseconds); 0 for none."""
    if not rfc3339 or rfc3339.startswith("0001"):
        return 0.0
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", rfc3339)
    assert m, rfc3339
    whole = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return whole + float(m.group(2) or 0)


def metric_names(expr):
    """The metric and recording-rule names an expression mentions (for reports)."""
    names = set(re.findall(r"\b(akidb[a-z0-9_:]*|up)\b", re.sub(r'"[^"]*"', '""', expr)))
    return sorted(n for n in names if not n.endswith(":"))


# --------------------------------------------------------------------- load --

def grpc_load(server, t, db, stubs):
    """gRPC: login, upsert, searches, one call that fails (NOT_FOUND)."""
    import grpc
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    try:
        grpc.channel_ready_future(ch).result(timeout=10)
        u = t.users["admin"]
        auth = stubs.auth_pb2_grpc.AuthServiceStub(ch)
        token = auth.Login(stubs.auth_pb2.LoginRequest(tenant=t.slug, username=u["username"],
                                                       password=u["password"]),
                           timeout=30).token
        md = (("authorization", f"Bearer {token}"),)
        coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
        pts = stubs.points_pb2_grpc.PointServiceStub(ch)
        batch = [stubs.common_pb2.PointInput(id=p["id"], vector=p["vector"])
                 for p in gaussian_points(DIM, 0, 50, 5)]
        pts.Upsert(stubs.points_pb2.UpsertRequest(tenant=t.slug, database=db, collection=coll,
                                                  points=batch), metadata=md, timeout=30)
        for i in range(10):
            pts.Search(stubs.points_pb2.SearchRequest(tenant=t.slug, database=db,
                                                      collection=coll,
                                                      vector=batch[i].vector, k=5),
                       metadata=md, timeout=30)
        with pytest.raises(grpc.RpcError) as e:
            pts.Search(stubs.points_pb2.SearchRequest(tenant=t.slug, database=db,
                                                      collection="no-such-collection",
                                                      vector=batch[0].vector, k=5),
                       metadata=md, timeout=30)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        ch.close()


def rest_load(server, t, db):
    """REST: vector and text/hybrid collections, searches, client errors, a
    failed login, a quota refusal, a snapshot. Returns the vector collection."""
    coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    path = t.coll_path(db, coll)
    for b in range(4):
        t.upsert(db, coll, gaussian_points(DIM, b * 50, 50, 7))
    q = gaussian_points(DIM, 0, 1, 7)[0]["vector"]
    for _ in range(10):
        t.viewer.call("POST", f"{path}/search", {"vector": q, "k": 5})
    t.viewer.call("POST", f"{path}/search", {"vectors": [q, q], "k": 3})
    expect(t.viewer.post(f"{path}/search", {"vector": [1.0, 2.0], "k": 3}), 400,
           "invalid_argument")
    expect(t.viewer.get(f"{t.db_path(db)}/collections/nope"), 404, "not_found")
    # text and hybrid on the built-in embedder
    text = t.admin.call("POST", f"{t.db_path(db)}/collections",
                        {"name": cl.unique("txt"), "dimension": 64,
                         "embedding": {"provider": "builtin"}}, status=201)["name"]
    tpath = t.coll_path(db, text)
    words = ["supersonic flow over a thin wedge", "laminar boundary layer heating",
             "buckling of cylindrical shells", "turbulent mixing in a jet",
             "heat transfer in a wedge flow"]
    t.upsert(db, text, [{"id": f"d{i}", "text": w} for i, w in enumerate(words)])
    for body in ({"mode": "text", "text": "wedge flow"},
                 {"mode": "hybrid", "text": "boundary layer"},
                 {"mode": "text", "text": "jet"}):
        t.viewer.call("POST", f"{tpath}/search", dict(body, k=3))
    # a failed login, a collection-count quota refusal, a snapshot
    expect(cl.login_response(server, t.users["viewer"]["username"], "wrong-password-000",
                             tenant=t.slug), 401, "unauthenticated")
    t.admin.call("POST", f"{path}/snapshots", status=201)
    return coll


def quota_refusal(server, sysadmin, db_name="qdb"):
    q = make_tenant(server, sysadmin, quotas={"max_collections": 1}, roles=("admin",))
    qdb = q.create_db(db_name)
    q.create_collection(qdb, dimension=DIM)
    expect(q.admin.post(f"{q.db_path(qdb)}/collections",
                        {"name": "second", "dimension": DIM}), 403, "quota_exceeded")


def tier_changes(t, db, coll):
    """hot → warm → hot (API), cold (to s3rver) and back on use."""
    path = t.coll_path(db, coll)
    t.admin.call("PATCH", path, {"tier": "warm"})
    t.admin.call("PATCH", path, {"tier": "hot"})
    assert t.admin.call("PATCH", path, {"tier": "cold"})["tier"] == "cold"
    assert t.count(db, coll) == 200  # downloaded and loaded again
    assert t.admin.call("GET", path)["tier"] == "hot"


def object_store_fault(server, s3, t, db):
    """s3rver dies: a move to cold fails (503, stays warm), waits in the
    dead-letter queue, and the breaker opens."""
    coll = t.create_collection(db, dimension=DIM, metric="l2")["name"]
    t.upsert(db, coll, gaussian_points(DIM, 0, 20, 9))
    s3.kill()
    e = expect(t.admin.patch(t.coll_path(db, coll), {"tier": "cold"}), 503, "unavailable")
    assert "stays warm" in e["error"]["message"]
    admin = server.login_admin()
    wait_until(lambda: admin.call("GET", "/v1/system/object-store")["breaker"]["state"]
               == "open", "object-store breaker open", timeout=20)
    assert admin.call("GET", "/v1/system/dead-letters")["items"]


# -------------------------------------------------------------------- stack --

@pytest.fixture(scope="module")
def stack(tmp_path_factory, stubs):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail(f"{PROMETHEUS} is missing: apt-get install prometheus "
                    "(scripts/install-deps.sh)", pytrace=False)
    root = tmp_path_factory.mktemp("dashboards")
    started = time.monotonic()
    s3 = S3rver(root).start()
    otlp = Process(["/usr/bin/python3", str(Path(__file__).with_name("otlp_standin.py")),
                    "--port-file", str(root / "otlp.port"), "--max-seconds", "600"],
                   root / "otlp.log")
    wait_until(lambda: (root / "otlp.port").exists(), "OTLP stand-in listening", timeout=20)
    otlp_url = f"http://127.0.0.1:{(root / 'otlp.port').read_text().strip()}"
    server = Server(root / "akidb", name="dashboards-server",
                    config=CONFIG.format(otlp=otlp_url), env=s3.env())
    prom = None
    try:
        server.start()
        target = f"127.0.0.1:{server.port}"
        prom = Prometheus(root / "prometheus", target)
        sysadmin = server.login_admin()
        t = make_tenant(server, sysadmin, roles=("admin", "viewer"))
        db = t.create_db()
        coll = rest_load(server, t, db)
        grpc_load(server, t, db, stubs)
        quota_refusal(server, sysadmin)
        tier_changes(t, db, coll)
        object_store_fault(server, s3, t, db)
        # a little more traffic after the fault, then wait until Prometheus
        # has scraped the end of the load and evaluated the rules on it
        for _ in range(5):
            t.viewer.call("POST", f"{t.coll_path(db, coll)}/search",
                          {"vector": [0.0] * DIM, "k": 3})
        loaded = time.time()

        def caught_up():
            # two scrapes after the load (a series born during the load then
            # has the two samples rate() needs; Prometheus' first scrape
            # comes about 5 s after its start), then a rule evaluation of
            # every group after the second of them
            since = max(1, int(time.time() - loaded) + 1)
            st, _, res = prom.query(f'up{{job="{JOB}"}}[{since}s]')
            after = [float(t) for t, _ in (res[0]["values"] if st == "success" and res else [])
                     if float(t) > loaded]
            if len(after) < 2:
                return False
            groups = prom.api("/api/v1/rules")["groups"]
            return groups and all(unix_time(g.get("lastEvaluation")) > after[1] for g in groups)
        wait_until(caught_up, "Prometheus scraped the load and evaluated the rules",
                   timeout=30)
        recorded_all(prom, target)
        yield {"server": server, "prom": prom, "instance": target,
               "setup_s": time.monotonic() - started}
    finally:
        if prom is not None:
            prom.process.stop()
        try:
            server.cleanup()
        finally:
            otlp.stop()
            s3.kill()


def recorded_all(prom, target, timeout=15):
    """Gives Prometheus up to `timeout` s more until every recording rule has
    a sample for the server: an evaluation that ran while a scrape of a slow
    (sanitizer) build was missing leaves a rule without one until the next.
    It does not fail: the checks below report what is still missing, with
    the rules' health."""
    names = [r["record"] for r in rules() if "record" in r]
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if all(prom.query(f'{n}{{instance="{target}"}}')[2] for n in names):
            return
        time.sleep(0.2)


# ------------------------------------------------------------------- checks --

def panel_queries():
    """(dashboard, panel title, expr) of every panel target."""
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append((path.name, panel["title"], target["expr"]))
    return out


def substitute(expr, instance):
    """expr as Grafana sends it with job `akidb` and this instance selected
    (a regex, escaped for a PromQL string as Grafana's regex format does)."""
    inst = re.escape(instance).replace("\\", "\\\\")
    e = (expr.replace("$__rate_interval", RATE_INTERVAL).replace("${job}", JOB)
         .replace("$job", JOB).replace("${instance}", inst).replace("$instance", inst))
    assert "$" not in e, f"an unknown variable is left in {e!r}"
    return e


def rules():
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def dead(prom, expr):
    """Why expr is dead (a string), or None when it parses and returns data."""
    status, error, result = prom.query(expr)
    if status != "success":
        return f"does not run: {error}"
    if not result:
        return f"no data (uses {', '.join(metric_names(expr)) or 'no metric'})"
    return None


def report(problems):
    return "\n".join(f"  * {where}\n      {' '.join(expr.split())}\n      -> {why}"
                     for where, expr, why in problems)


def test_every_panel_query_returns_data(stack):
    prom = stack["prom"]
    problems = []
    queries = panel_queries()
    assert len(DASHBOARDS) == 4 and len(queries) >= 60, (DASHBOARDS, len(queries))
    for board, title, expr in queries:
        e = substitute(expr, stack["instance"])
        why = dead(prom, e)
        if why:
            problems.append((f"{board} / {title}", e, why))
            continue
        for leaf in leaves(e):
            why = dead(prom, leaf)
            if why:
                problems.append((f"{board} / {title} (operand)", leaf, why))
    assert not problems, (f"{len(problems)} dead panel queries:\n" + report(problems)
                          + rule_health(prom))


def rule_health(prom):
    """The rules Prometheus could not evaluate, with its error (for a failure report)."""
    bad = [f"  * {r.get('name')}: {r.get('health')} {r.get('lastError', '')}"
           for g in prom.api("/api/v1/rules")["groups"] for r in g.get("rules", [])
           if r.get("health") not in ("ok", None)]
    return ("\nrules not evaluated cleanly:\n" + "\n".join(bad)) if bad else ""


def test_every_rule_expression_returns_data(stack):
    prom = stack["prom"]
    problems = []
    for r in rules():
        name = r.get("alert") or r["record"]
        if "record" in r:
            for expr in (r["expr"], r["record"] + f'{{job="{JOB}"}}'):
                why = dead(prom, expr)
                if why:
                    problems.append((f"record {name}", expr, why))
        else:
            status, error, _ = prom.query(r["expr"])
            if status != "success":
                problems.append((f"alert {name}", r["expr"], f"does not run: {error}"))
        for leaf in leaves(r["expr"]):
            why = dead(prom, leaf)
            if why:
                problems.append((f"{'alert' if 'alert' in r else 'record'} {name} (operand)",
                                 leaf, why))
    assert not problems, f"{len(problems)} dead rule expressions:\n" + report(problems)


def test_every_rule_is_loaded_and_healthy(stack):
    groups = stack["prom"].api("/api/v1/rules")["groups"]
    loaded = {(r.get("name")): r for g in groups for r in g["rules"]}
    want = [r.get("alert") or r["record"] for r in rules()]
    assert sorted(loaded) == sorted(want), (sorted(loaded), sorted(want))
    bad = [(n, r["health"], r.get("lastError")) for n, r in loaded.items()
           if r["health"] != "ok"]
    assert not bad, bad


def test_dashboard_variables_resolve(stack):
    """The `job` and `instance` variables' label_values() queries find the
    scraped server (Grafana runs them as series queries)."""
    prom = stack["prom"]
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for var in board["templating"]["list"]:
            if var["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", var["definition"])
            assert m, (path.name, var["definition"])
            selector = substitute(m.group(1), stack["instance"])
            status, error, result = prom.query(selector)
            assert status == "success" and result, (path.name, var["name"], error)
            values = {s["metric"].get(m.group(2)) for s in result}
            assert {"job": JOB, "instance": stack["instance"]}[var["name"]] in values, values


def test_live_page_passes_promtool_and_the_run_is_short(stack):
    text = stack["server"].client().get("/metrics").text
    p = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                       input=text, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert stack["setup_s"] < 90, f"the stack took {stack['setup_s']:.0f} s to set up"
