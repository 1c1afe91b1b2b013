"""
The README's shell quickstart works as written: the block between
`<!-- quickstart:begin -->` and `<!-- quickstart:end -->` in README.md is run
with bash -euo pipefail against a fresh server ($AKIDB_URL,
$AKIDB_ADMIN_PASSWORD set), must exit 0, and its last command must print
search results.
"""
import json
import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- quickstart:begin -->", "<!-- quickstart:end -->"


def quickstart_script():
    text = README.read_text()
    if BEGIN not in text or END not in text:
        pytest.fail(f"README.md has no quickstart: the markers {BEGIN} and {END} are missing",
                    pytrace=False)
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    fences = re.findall(r"```(?:sh|bash|shell|console)?[^\n]*\n(.*?)```", block, re.S)
    assert fences, "the quickstart block holds no fenced shell code"
    lines = []
    for f in fences:
        for line in f.splitlines():
            lines.append(line[2:] if line.startswith("$ ") else line)
    return "\n".join(lines) + "\n"


def test_readme_quickstart_runs(fresh_server, tmp_path):
    script = quickstart_script()
    path = tmp_path / "quickstart.sh"
    path.write_text(script)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "AKIDB_URL": fresh_server.url, "AKIDB_ADMIN_PASSWORD": fresh_server.admin_password}
    p = subprocess.run(["bash", "-euo", "pipefail", str(path)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    report = (f"--- script ---\n{script}\n--- exit {p.returncode} ---\n--- stdout ---\n"
              f"{p.stdout[-4000:]}\n--- stderr ---\n{p.stderr[-4000:]}")
    assert p.returncode == 0, "the quickstart failed\n" + report
    # The last command's output: the last JSON document (or line) printed.
    out = p.stdout.strip()
    assert out, "the quickstart printed nothing\n" + report
    last = last_json(out)
    assert last is not None, "the quickstart's last output is not JSON\n" + report
    results = last.get("results") if isinstance(last, dict) else None
    if results is None and isinstance(last, dict) and "batches" in last:
        results = [h for b in last["batches"] for h in b["results"]]
    if results is None and isinstance(last, list):
        results = last
    if results is None and isinstance(last, dict) and {"id", "distance"} <= set(last):
        results = [last]  # jq '.results[]' prints one hit per value
    assert results, "the quickstart's last command printed no search results\n" + report
    assert all("id" in h and "distance" in h for h in results), report


def last_json(out):
    """The last complete JSON value in `out` (jq pretty-prints over lines)."""
    dec = json.JSONDecoder()
    found, i = None, 0
    while i < len(out):
        j = out.find("{", i)
        k = out.find("[", i)
        starts = [x for x in (j, k) if x >= 0]
        if not starts:
            break
        s = min(starts)
        try:
            val, end = dec.raw_decode(out, s)
            found, i = val, end
        except ValueError:
            i = s + 1
    return found


GRPC_BEGIN, GRPC_END = "<!-- grpc-quickstart:begin -->", "<!-- grpc-quickstart:end -->"


def grpc_quickstart():
    """The README's gRPC quickstart: (shell block, python block)."""
    text = README.read_text()
    assert GRPC_BEGIN in text and GRPC_END in text, \
        f"README.md has no gRPC quickstart: the markers {GRPC_BEGIN} and {GRPC_END} are missing"
    block = text.split(GRPC_BEGIN, 1)[1].split(GRPC_END, 1)[0]
    sh = re.findall(r"```sh\n(.*?)```", block, re.S)
    py = re.findall(r"```python\n(.*?)```", block, re.S)
    assert len(sh) == 1 and len(py) == 1, "the gRPC quickstart needs one sh and one python block"
    return sh[0], py[0]


def test_readme_grpc_quickstart_runs(fresh_server, tmp_path):
    sh, py = grpc_quickstart()
    root = README.parent
    (tmp_path / "stubs.sh").write_text(sh)
    (tmp_path / "session.py").write_text(py)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "AKIDB_GRPC": f"127.0.0.1:{fresh_server.grpc_port}",
           "AKIDB_ADMIN_PASSWORD": fresh_server.admin_password}
    # The stubs are generated from the repository's proto/ into the scratch directory.
    (tmp_path / "proto").symlink_to(root / "proto")
    p = subprocess.run(["bash", "-euo", "pipefail", "stubs.sh"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"stub generation failed:\n{p.stdout}\n{p.stderr}"
    p = subprocess.run(["/usr/bin/python3", "session.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"the gRPC quickstart failed:\n{p.stdout}\n{p.stderr}"
    lines = p.stdout.strip().splitlines()
    assert lines[:3] == [f"batch {b}: 100 points written" for b in range(3)], p.stdout
    assert lines[3] == 'p1-2 0.0 {"batch":1}', p.stdout
    assert len(lines) == 6, p.stdout
