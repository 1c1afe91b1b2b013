// tests/integration/parquet_node.mjs — the independent Parquet readers and
// writer of test_parquet_interop.py: DuckDB (@duckdb/node-api) and
// hyparquet (+ hyparquet-compressors for ZSTD, GZIP, ...). Run with
// NODE_PATH pointing at the node_modules that tests/integration/node-tools.sh
// installs.
//
//   node parquet_node.mjs duckdb 'SQL' ['SQL' ...]
//       runs the statements in one in-memory database and prints the rows
//       of the last one as JSON lines
//   node parquet_node.mjs hyparquet FILE
//       prints every row of FILE as a JSON line
//
// Values are printed so Python can compare them exactly: -0 as "-0",
// NaN/Infinity as strings, BigInts as numbers when safe (else strings),
// dates as "YYYY-MM-DD", byte arrays as {"hex": ...}.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.NODE_PATH || process.cwd(), 'x.js'));

function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return '-0';
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return v;
  }
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return { hex: Buffer.from(v).toString('hex') };
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v, plain);
  if (typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

async function duckdb(statements) {
  const { DuckDBInstance } = require('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  let rows = [];
  for (const sql of statements) {
    const reader = await con.runAndReadAll(sql);
    rows = reader.getRowObjectsJS();
  }
  for (const r of rows) process.stdout.write(JSON.stringify(plain(r)) + '\n');
}

async function hyparquet(file) {
  const { parquetReadObjects } = await import(require.resolve('hyparquet'));
  const { compressors } = await import(require.resolve('hyparquet-compressors'));
  const buf = readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const rows = await parquetReadObjects({ file: ab, compressors });
  for (const r of rows) process.stdout.write(JSON.stringify(plain(r)) + '\n');
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'duckdb') await duckdb(args);
else if (cmd === 'hyparquet') await hyparquet(args[0]);
else {
  console.error('usage: parquet_node.mjs duckdb SQL... | hyparquet FILE');
  process.exit(2);
}
