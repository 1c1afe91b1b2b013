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
