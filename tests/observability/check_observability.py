#!/usr/bin/python3
"""
tests/observability/check_observability.py — static checks of the alert
rules, their unit tests, their runbooks and the Grafana dashboards and
provisioning files (no server, no Prometheus; ctest observability_static).

  * deploy/prometheus/alerts.yml: at least 14 alerts, each with `for`, a
    severity of page or ticket, a summary, a description and a runbook_url
    naming docs/runbooks/<alert>.md, which exists; docs/runbooks/README.md
    lists every runbook and no runbook is left without its alert;
  * deploy/prometheus/tests/*.yml: every alert has a case where it fires,
    and its input series include an instance it must leave quiet (or a case
    expecting no alert);
  * tests/integration/promql_leaves.py splits expressions as the live test
    expects (operands of comparisons and set operations, thresholds out);
  * deploy/grafana: the dashboards are what build_dashboards.py writes;
    four of them (overview, performance, storage, errors), schemaVersion 39,
    every panel and target on the `${datasource}` variable, unique uids and
    panel ids, every target with an expression; the provisioning files load
    /var/lib/grafana/dashboards and define the datasource uid the
    dashboards default to.
Exit status 0 when all hold; otherwise each problem is printed and 1.
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
problems = []


def check(cond, msg):
    if not cond:
        problems.append(msg)


def alerts():
    doc = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def check_alerts():
    rules = alerts()
    names = [r["alert"] for r in rules]
    check(len(names) >= 14, f"only {len(names)} alerts (at least 14)")
    check(len(set(names)) == len(names), "duplicate alert names")
    runbooks = ROOT / "docs/runbooks"
    for r in rules:
        n = r["alert"]
        check("for" in r, f"{n}: no `for`")
        check(r.get("labels", {}).get("severity") in ("page", "ticket"),
              f"{n}: severity must be page or ticket")
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            check(ann.get(key), f"{n}: no {key} annotation")
        check(ann.get("runbook_url") == f"docs/runbooks/{n}.md",
              f"{n}: runbook_url should be docs/runbooks/{n}.md")
        book = runbooks / f"{n}.md"
        check(book.exists(), f"{n}: {book.relative_to(ROOT)} is missing")
        if book.exists():
            text = book.read_text()
            check(text.startswith(f"# {n}"), f"{book.name}: must start with '# {n}'")
            for section in ("## What it means", "## How to confirm", "## How to fix"):
                check(section in text, f"{book.name}: no '{section}' section")
            check(not re.search(r"\bTODO\b|\bTBD\b|FIXME", text), f"{book.name}: placeholder")
    index = (runbooks / "README.md").read_text() if (runbooks / "README.md").exists() else ""
    check(index, "docs/runbooks/README.md is missing")
    for n in names:
        check(f"({n}.md)" in index, f"docs/runbooks/README.md does not link {n}.md")
    for p in runbooks.glob("*.md"):
        check(p.name == "README.md" or p.stem in names, f"{p.name}: no alert of that name")
    return names


def check_unit_tests(names):
    fires, quiet = set(), set()
    for path in sorted((ROOT / "deploy/prometheus/tests").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        check(doc.get("rule_files") == ["../alerts.yml"], f"{path.name}: rule_files")
        for t in doc.get("tests", []):
            instances = set()
            for s in t.get("input_series", []):
                m = re.search(r'instance="([^"]*)"', s["series"])
                if m:
                    instances.add(m.group(1))
            for case in t.get("alert_rule_test", []):
                n = case["alertname"]
                exp = case.get("exp_alerts") or []
                if not exp:
                    quiet.add(n)
                    continue
                fires.add(n)
                if instances - {e["exp_labels"].get("instance") for e in exp}:
                    quiet.add(n)
    for n in names:
        check(n in fires, f"{n}: no promtool test case where it fires")
        check(n in quiet, f"{n}: no promtool test case where it stays quiet")
    for n in fires | quiet:
        check(n in names, f"promtool tests name an unknown alert {n}")


def check_dashboards():
    script = ROOT / "deploy/grafana/build_dashboards.py"
    p = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    check(p.returncode == 0, p.stderr.strip() or "build_dashboards.py --check failed")
    boards = sorted((ROOT / "deploy/grafana/dashboards").glob("*.json"))
    check([b.name for b in boards] == ["akidb-errors.json", "akidb-overview.json",
                                       "akidb-performance.json", "akidb-storage.json"],
          f"dashboards: {[b.name for b in boards]}")
    uids = set()
    for path in boards:
        d = json.loads(path.read_text())
        check(d.get("schemaVersion") == 39, f"{path.name}: schemaVersion")
        check(d["uid"] not in uids, f"{path.name}: duplicate uid")
        uids.add(d["uid"])
        var = {v["name"]: v for v in d["templating"]["list"]}
        check(var.get("datasource", {}).get("type") == "datasource"
              and var["datasource"].get("query") == "prometheus",
              f"{path.name}: no Prometheus datasource variable")
        ids = [p["id"] for p in d["panels"]]
        check(len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids")
        for panel in d["panels"]:
            if panel["type"] == "row":
                continue
            where = f"{path.name} / {panel['title']}"
            check(panel.get("datasource", {}).get("uid") == "${datasource}",
                  f"{where}: datasource is not ${{datasource}}")
            check(panel.get("targets"), f"{where}: no query")
            for t in panel.get("targets", []):
                check(t.get("expr", "").strip(), f"{where}: empty expr")
                check(t.get("datasource", {}).get("uid") == "${datasource}",
                      f"{where}: target datasource is not ${{datasource}}")
    prov = ROOT / "deploy/grafana/provisioning"
    ds = yaml.safe_load((prov / "datasources/akidb.yaml").read_text())
    check(any(x.get("uid") == "akidb-prometheus" and x.get("type") == "prometheus"
              for x in ds.get("datasources", [])), "datasource provisioning: no akidb-prometheus")
    dash = yaml.safe_load((prov / "dashboards/akidb.yaml").read_text())
    check(any(x.get("options", {}).get("path") == "/var/lib/grafana/dashboards"
              for x in dash.get("providers", [])),
          "dashboard provisioning does not load /var/lib/grafana/dashboards")
    for f in list(prov.rglob("*.yaml")) + list((ROOT / "deploy/prometheus").rglob("*.yml")):
        check(f.read_text().startswith("# "), f"{f.relative_to(ROOT)}: no leading comment")


def check_leaf_splitter():
    """tests/integration/promql_leaves.py, on the shapes the rules use."""
    sys.path.insert(0, str(ROOT / "tests/integration"))
    from promql_leaves import leaves
    cases = {
        'a > 0.05 and on (job, instance) b > 0.1': ["a", "b"],
        '(x > (14.4 * 0.001) and y > (14.4 * 0.001)) or (z > 0.006)': ["x", "y", "z"],
        'sum(rate(m{code!="OK", le=~"0.2[5]"}[5m])) >= bool 1': ['sum(rate(m{code!="OK", le=~"0.2[5]"}[5m]))'],
        'r / (budget > 0) > 0.9 unless on () group_left(v) w == 0': ["r / (budget > 0)", "w"],
        '(a) + (b)': ["(a) + (b)"],
        'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))':
            ["histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))"],
        'orders_total or vector(0)': ["orders_total", "vector(0)"],
    }
    for expr, want in cases.items():
        got = [" ".join(x.split()) for x in leaves(expr)]
        check(got == want, f"promql_leaves({expr!r}) = {got}, expected {want}")


def main():
    check_leaf_splitter()
    names = check_alerts()
    check_unit_tests(names)
    check_dashboards()
    for p in problems:
        print("check_observability:", p, file=sys.stderr)
    print(f"check_observability: {len(names)} alerts, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
