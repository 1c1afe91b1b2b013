"""
tests/integration/test_parquet_interop.py — AkiDB's Parquet module against
independent implementations, value by value.

Writer → readers: `pq_tool write` (tests/tools/pq_tool.c) writes files with
deterministic rows and a JSON-lines copy of what it wrote; DuckDB and
hyparquet read every column and each id, float (bit for bit), payload and
text is compared; parquet_metadata / parquet_schema show codec, statistics,
row groups and the LIST<FLOAT> vector.

DuckDB → reader: DuckDB writes files (default snappy, zstd, gzip,
uncompressed, dictionary strings, PARQUET_VERSION v2, DOUBLE[] and FLOAT[n]
vectors, integer ids, extra columns of several types with nulls, nested
columns that the import skips) and
`pq_tool import` must produce exactly what DuckDB reads back; broken files
must be refused with the error the user needs.

Needs: pq_tool (ctest passes AKIDB_PQ_TOOL; by hand it is looked up next to
$AKIDB_BIN or in build/release) and Node with the tools of node-tools.sh.
"""
import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE_SCRIPT = HERE / "parquet_node.mjs"
TIMEOUT = 120


def _pq_tool():
    path = os.environ.get("AKIDB_PQ_TOOL")
    if not path and os.environ.get("AKIDB_BIN"):
        path = str(Path(os.environ["AKIDB_BIN"]).resolve().parent / "tests/tools/pq_tool")
    if not path:
        path = str(ROOT / "build/release/tests/tools/pq_tool")
    if not os.access(path, os.X_OK):
        pytest.fail(f"pq_tool not found at {path}: build it (target pq_tool) or set AKIDB_PQ_TOOL",
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def tool():
    return _pq_tool()


@pytest.fixture(scope="module")
def node_env():
    out = subprocess.run([str(HERE / "node-tools.sh"), "--dir"], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        pytest.fail(f"node-tools.sh failed: {out.stderr}", pytrace=False)
    env = dict(os.environ)
    env["NODE_PATH"] = str(Path(out.stdout.strip()) / "node_modules")
    return env


def node(env, *args):
    out = subprocess.run(["node", str(NODE_SCRIPT), *args], capture_output=True, text=True,
                         env=env, timeout=TIMEOUT)
    assert out.returncode == 0, f"node {args[0]} failed:\n{out.stderr}"
    return [json.loads(line) for line in out.stdout.splitlines() if line]


def duck(env, *sql):
    return node(env, "duckdb", *sql)


def run_tool(tool, *args, ok=True):
    out = subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT)
    if ok:
        assert out.returncode == 0, f"pq_tool {args[0]} failed: {out.stderr}"
    return out


def imported(tool, path, *opts):
    out = run_tool(tool, "import", path, *opts)
    return [json.loads(line) for line in out.stdout.splitlines() if line]


def f32_bits(x):
    """Bits of a value as float32 (doubles rounded to nearest, like a C cast)."""
    if x == "-0":
        return 0x80000000
    if x in ("NaN", "Infinity", "-Infinity"):
        x = float(x.replace("Infinity", "inf"))
    return struct.unpack("<I", struct.pack("<f", float(x)))[0]


# --------------------------------------------------------- writer → readers

WRITE_CASES = {
    # name: pq_tool write options
    "zstd_groups_text": ["--rows", 1000, "--dim", 8, "--group", 300, "--text"],
    "zero_rows": ["--rows", 0, "--dim", 4, "--text"],
    "one_row_dim1": ["--rows", 1, "--dim", 1],
    "dim4096_snappy": ["--rows", 40, "--dim", 4096, "--codec", "snappy", "--text"],
    "gzip_small_pages": ["--rows", 700, "--dim", 16, "--codec", "gzip", "--page", 2000],
    "uncompressed": ["--rows", 64, "--dim", 3, "--codec", "none", "--text"],
}


@pytest.fixture(scope="module")
def written(tool, tmp_path_factory):
    d = tmp_path_factory.mktemp("pqw")
    files = {}
    for name, opts in WRITE_CASES.items():
        f, e = d / f"{name}.parquet", d / f"{name}.jsonl"
        run_tool(tool, "write", f, *opts, "--expected", e, "--kv", "akidb.collection=c1",
                 "--kv", "akidb.dimension=x")
        files[name] = (f, [json.loads(line) for line in e.read_text().splitlines()])
    return files


def assert_rows_match(got, expected, name, reader):
    assert len(got) == len(expected), f"{name} via {reader}: {len(got)} rows, wrote {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g["id"] == e["id"], f"{name} via {reader} row {i}: id"
        bits = [f32_bits(x) for x in g["vector"]]
        assert bits == e["vec"], f"{name} via {reader} row {i}: vector bits differ"
        want_payload = None if e["payload"] is None else json.loads(e["payload"])
        got_payload = g["payload"]
        if isinstance(got_payload, str):
            got_payload = json.loads(got_payload)
        assert got_payload == want_payload, f"{name} via {reader} row {i}: payload"
        assert g.get("text") == e["text"], f"{name} via {reader} row {i}: text"


@pytest.mark.parametrize("name", list(WRITE_CASES))
def test_duckdb_reads_every_value_the_writer_wrote(written, node_env, name):
    f, expected = written[name]
    has_text = "--text" in WRITE_CASES[name]
    cols = "id, vector, payload" + (", text" if has_text else "")
    rows = duck(node_env, f"SELECT {cols} FROM read_parquet('{f}', file_row_number=true) "
                          "ORDER BY file_row_number")
    assert_rows_match(rows, expected, name, "duckdb")


@pytest.mark.parametrize("name", list(WRITE_CASES))
def test_hyparquet_reads_every_value_the_writer_wrote(written, node_env, name):
    f, expected = written[name]
    rows = node(node_env, "hyparquet", str(f))
    assert_rows_match(rows, expected, name, "hyparquet")


def test_our_reader_reads_back_what_the_writer_wrote(written, tool):
    for name, (f, expected) in written.items():
        rows = imported(tool, f)
        assert len(rows) == len(expected), name
        for g, e in zip(rows, expected):
            assert g["id"] == e["id"] and g["vec"] == e["vec"] and g["text"] == e["text"], name
            # a payload column's object comes back as it is, "{}" included
            # (parquet.h: only an object built from other columns alone is
            # dropped when empty)
            want = None if e["payload"] is None else json.loads(e["payload"])
            assert (None if g["payload"] is None else json.loads(g["payload"])) == want, name


def test_duckdb_metadata_shows_zstd_statistics_and_row_groups(written, node_env):
    f, expected = written["zstd_groups_text"]
    meta = duck(node_env, "SELECT row_group_id, path_in_schema, compression, stats_min_value, "
                          "stats_max_value, stats_null_count, num_values, row_group_num_rows "
                          f"FROM parquet_metadata('{f}') ORDER BY row_group_id, column_id")
    groups = sorted({m["row_group_id"] for m in meta})
    assert groups == [0, 1, 2, 3]
    assert [m["row_group_num_rows"] for m in meta if m["path_in_schema"] == "id"] == [300, 300, 300, 100]
    assert {m["compression"] for m in meta} == {"ZSTD"}
    for g in groups:
        rows = expected[g * 300:(g + 1) * 300]
        by = {m["path_in_schema"]: m for m in meta if m["row_group_id"] == g}
        ids = sorted(r["id"].encode() for r in rows)
        assert by["id"]["stats_min_value"] == ids[0].decode()
        assert by["id"]["stats_max_value"] == ids[-1].decode()
        assert by["id"]["stats_null_count"] == 0
        floats = [struct.unpack("<f", struct.pack("<I", b))[0] for r in rows for b in r["vec"]]
        el = by["vector, list, element"]
        assert el["num_values"] == len(floats)
        assert float(el["stats_min_value"]) == pytest.approx(min(floats), rel=1e-6)
        assert float(el["stats_max_value"]) == pytest.approx(max(floats), rel=1e-6)
        assert by["payload"]["stats_null_count"] == sum(r["payload"] is None for r in rows)
        assert by["text"]["stats_null_count"] == sum(r["text"] is None for r in rows)
        texts = sorted(r["text"].encode() for r in rows if r["text"] is not None)
        assert by["text"]["stats_min_value"] == texts[0].decode()
        assert by["text"]["stats_max_value"] == texts[-1].decode()


def test_duckdb_schema_sees_a_float_list_json_payload_and_key_values(written, node_env):
    f, _ = written["zstd_groups_text"]
    schema = {r["name"]: r for r in duck(node_env, f"SELECT * FROM parquet_schema('{f}')")}
    assert schema["vector"]["converted_type"] == "LIST"
    assert schema["list"]["repetition_type"] == "REPEATED"
    assert schema["element"]["type"] == "FLOAT"
    assert schema["id"]["repetition_type"] == "REQUIRED"
    assert schema["payload"]["converted_type"] == "JSON"
    types = duck(node_env, f"SELECT typeof(id) AS i, typeof(vector) AS v, typeof(payload) AS p, "
                           f"typeof(text) AS t FROM read_parquet('{f}') LIMIT 1")[0]
    assert types == {"i": "VARCHAR", "v": "FLOAT[]", "p": "JSON", "t": "VARCHAR"}
    kv = duck(node_env, f"SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('{f}')")
    assert {r["k"]: r["v"] for r in kv} == {"akidb.collection": "c1", "akidb.dimension": "x"}
    created = duck(node_env, f"SELECT created_by FROM parquet_file_metadata('{f}')")[0]
    assert created["created_by"].startswith("AkiDB")


def test_no_text_column_when_the_writer_has_none(written, node_env):
    f, _ = written["one_row_dim1"]
    names = [r["name"] for r in duck(node_env, f"SELECT name FROM parquet_schema('{f}')")]
    assert "text" not in names and "payload" in names


# --------------------------------------------------------- DuckDB → reader

TABLE = """
CREATE TABLE t AS
SELECT
  'doc-' || i::VARCHAR || CASE WHEN i % 7 = 0 THEN '-ü✓' ELSE '' END AS id,
  i AS n,
  [ (i * 0.25 + k)::FLOAT / 7 FOR k IN range(8) ] AS emb,
  CASE WHEN i % 5 = 0 THEN NULL ELSE 'title ' || (i % 4)::VARCHAR END AS title,
  (1990 + i % 30)::INTEGER AS year,
  CASE WHEN i % 3 = 0 THEN NULL ELSE i / 8.0 END::DOUBLE AS score,
  i % 2 = 0 AS flag,
  DATE '2020-01-01' + (i % 400)::INTEGER AS day,
  (i * 1000000007)::BIGINT AS big,
  CASE WHEN i % 6 = 0 THEN NULL ELSE 'body of ' || i::VARCHAR END AS text,
  {'a': i, 'b': 'x'} AS meta,
  [i, i + 1] AS tags
FROM range(0, 3000) r(i)
"""

EXPECT_SQL = """
SELECT id, n, emb, title, year, score, flag, strftime(day, '%Y-%m-%d') AS day, big, text
FROM read_parquet('{f}', file_row_number=true) ORDER BY file_row_number
"""


def expected_payload(r, skip=("id", "emb", "text", "n")):
    p = {}
    for k, v in r.items():
        if k in skip or v is None:
            continue
        p[k] = v
    return p or None


def compare_import(tool, env, f, id_col="id", vec_col="emb", id_of=str, extra=()):
    want = duck(env, EXPECT_SQL.format(f=f))
    got = imported(tool, f, "--id-col", id_col, "--vector-col", vec_col, *extra)
    assert len(got) == len(want) == 3000
    for g, w in zip(got, want):
        assert g["id"] == id_of(w[id_col]), (g["id"], w[id_col])
        assert g["vec"] == [f32_bits(x) for x in w["emb"]], f"row {g['row']}: vector"
        assert g["text"] == w["text"], f"row {g['row']}: text"
        payload = json.loads(g["payload"]) if g["payload"] else None
        skip = ("emb", "text", id_col)
        want_p = expected_payload(w, skip=skip)
        assert payload == want_p, f"row {g['row']}: payload {payload} != {want_p}"


DUCK_WRITES = {
    "snappy_default": "(FORMAT parquet)",
    "zstd": "(FORMAT parquet, COMPRESSION zstd)",
    "gzip": "(FORMAT parquet, COMPRESSION gzip)",
    "uncompressed": "(FORMAT parquet, COMPRESSION uncompressed)",
    "v2_pages": "(FORMAT parquet, PARQUET_VERSION v2)",
    "small_row_groups": "(FORMAT parquet, ROW_GROUP_SIZE 500)",
}


@pytest.mark.parametrize("name", list(DUCK_WRITES))
def test_import_reads_what_duckdb_wrote(tool, node_env, tmp_path, name):
    f = tmp_path / f"{name}.parquet"
    duck(node_env, TABLE, f"COPY t TO '{f}' {DUCK_WRITES[name]}")
    compare_import(tool, node_env, f)


def test_duckdb_v2_files_use_delta_and_dictionary_encodings(tool, node_env, tmp_path):
    f = tmp_path / "v2.parquet"
    duck(node_env, TABLE, f"COPY t TO '{f}' (FORMAT parquet, PARQUET_VERSION v2)")
    enc = duck(node_env, f"SELECT path_in_schema AS p, encodings AS e FROM parquet_metadata('{f}')")
    seen = ",".join(r["e"] for r in enc)
    assert "DELTA" in seen or "BYTE_STREAM_SPLIT" in seen, seen
    assert "DICTIONARY" in seen, seen
    compare_import(tool, node_env, f)


def test_import_double_vectors_fixed_arrays_and_integer_ids(tool, node_env, tmp_path):
    f = tmp_path / "dbl.parquet"
    duck(node_env, TABLE, "CREATE TABLE u AS SELECT n AS key, emb::DOUBLE[] AS emb, title, "
                          "year, score, flag, day, big, text FROM t",
         f"COPY u TO '{f}' (FORMAT parquet)")
    want = duck(node_env, f"SELECT key, emb FROM read_parquet('{f}', file_row_number=true) "
                          "ORDER BY file_row_number")
    got = imported(tool, f, "--id-col", "key", "--vector-col", "emb")
    assert [g["id"] for g in got] == [str(w["key"]) for w in want]
    assert [g["vec"] for g in got] == [[f32_bits(x) for x in w["emb"]] for w in want]
    # a fixed-size FLOAT[8] array column
    g = tmp_path / "arr.parquet"
    duck(node_env, TABLE, f"COPY (SELECT id, emb::FLOAT[8] AS vector FROM t) TO '{g}' (FORMAT parquet)")
    got = imported(tool, g)
    want = duck(node_env, f"SELECT id, vector FROM read_parquet('{g}', file_row_number=true) "
                          "ORDER BY file_row_number")
    assert [r["vec"] for r in got] == [[f32_bits(x) for x in w["vector"]] for w in want]
    assert all(r["payload"] is None for r in got)


def test_import_refuses_a_vector_of_the_wrong_dimension_naming_the_row(tool, node_env, tmp_path):
    f = tmp_path / "dim.parquet"
    duck(node_env, "COPY (SELECT i::VARCHAR AS id, CASE WHEN i = 1207 THEN "
                   "[1.0::FLOAT, 2.0] ELSE [1.0::FLOAT, 2.0, 3.0] END AS vector "
                   f"FROM range(2000) r(i)) TO '{f}' (FORMAT parquet)")
    out = run_tool(tool, "import", f, "--dim", 3, ok=False)
    assert out.returncode == 2
    assert "row 1207: vector has 2 values, the collection's dimension is 3" in out.stderr
    out = run_tool(tool, "import", f, "--dim", 4, ok=False)
    assert "row 0: vector has 3 values, the collection's dimension is 4" in out.stderr


def test_import_refuses_lz4_null_vectors_and_foreign_files(tool, node_env, tmp_path):
    f = tmp_path / "lz4.parquet"
    duck(node_env, TABLE, f"COPY t TO '{f}' (FORMAT parquet, COMPRESSION lz4)")
    out = run_tool(tool, "import", f, "--vector-col", "emb", ok=False)
    assert "uses codec LZ4_RAW, which AkiDB cannot read; rewrite with zstd or snappy" in out.stderr
    g = tmp_path / "null.parquet"
    duck(node_env, f"COPY (SELECT i::VARCHAR AS id, CASE WHEN i = 3 THEN NULL ELSE [1.0::FLOAT] "
                   f"END AS vector FROM range(10) r(i)) TO '{g}' (FORMAT parquet)")
    out = run_tool(tool, "import", g, ok=False)
    assert "row 3: vector is null" in out.stderr
    g2 = tmp_path / "nullel.parquet"
    duck(node_env, f"COPY (SELECT i::VARCHAR AS id, CASE WHEN i = 5 THEN [1.0::FLOAT, NULL] "
                   f"ELSE [1.0::FLOAT, 2.0] END AS vector FROM range(10) r(i)) TO '{g2}' "
                   "(FORMAT parquet)")
    out = run_tool(tool, "import", g2, ok=False)
    assert "row 5: vector element 1 is null" in out.stderr
    h = tmp_path / "x.csv"
    h.write_text("id,vector\n1,2\n" * 10)
    out = run_tool(tool, "import", h, ok=False)
    assert "not a Parquet file: leading magic is 'id,v', expected 'PAR1'" in out.stderr
