// tests/integration/grpc_node_smoke.mjs — a second, independent gRPC client
// (@grpc/grpc-js with @grpc/proto-loader, reading proto/ at run time) for
// test_grpc_node.py: logs in, upserts points (unary and streaming), reads
// them back and searches, then prints one JSON line of what it saw.
//   node grpc_node_smoke.mjs PROTO_ROOT ADDR TENANT DB COLL USER PASSWORD
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || ".", "x.js"));
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const [protoRoot, addr, tenant, database, collection, username, password] =
  process.argv.slice(2);
const files = ["akidb/v1/auth.proto", "akidb/v1/points.proto"];
const def = loader.loadSync(files, {
  includeDirs: [protoRoot], keepCase: true, longs: Number, defaults: true,
});
const v1 = grpc.loadPackageDefinition(def).akidb.v1;
const creds = grpc.credentials.createInsecure();
const auth = new v1.AuthService(addr, creds);
const points = new v1.PointService(addr, creds);
const deadline = () => new Date(Date.now() + 30000);

function unary(client, method, req, md) {
  return new Promise((resolve, reject) =>
    client[method](req, md || new grpc.Metadata(), { deadline: deadline() }, (err, res) =>
      err ? reject(err) : resolve(res)));
}

function streamUpsert(md, batches) {
  return new Promise((resolve, reject) => {
    const acks = [];
    const call = points.UpsertStream(md, { deadline: deadline() });
    call.on("data", (a) => acks.push(a));
    call.on("error", reject);
    call.on("end", () => resolve(acks));
    batches.forEach((b) => call.write(b));
    call.end();
  });
}

const path3 = { tenant, database, collection };
const login = await unary(auth, "Login", { tenant, username, password });
const md = new grpc.Metadata();
md.set("authorization", `Bearer ${login.token}`);
const pts = [0, 1, 2].map((i) => ({
  id: `node-${i}`, vector: [i + 1, 0.5, 0.25, 0.125], payload_json: JSON.stringify({ i }),
}));
const up = await unary(points, "Upsert", { ...path3, points: pts }, md);
const acks = await streamUpsert(md, [
  { ...path3, batch_id: 7, points: [{ id: "node-s0", vector: [10, 1, 1, 1] }] },
  { batch_id: 8, points: [{ id: "node-s1", vector: [11, 1, 1, 1] }] },
]);
const got = await unary(points, "Get", { ...path3, point_id: "node-1", with_vector: true }, md);
const hits = await unary(points, "Search", { ...path3, vector: [1, 0.5, 0.25, 0.125], k: 2 }, md);
let refused = null;
try {
  await unary(points, "Upsert", { ...path3, points: [{ id: "bad", vector: [1, 2] }] }, md);
} catch (e) {
  refused = { code: e.code, details: e.details };
}
console.log(JSON.stringify({
  upserted: up.upserted, ids: up.ids,
  acks: acks.map((a) => ({ batch_id: a.batch_id, ids: a.ids })),
  get: { id: got.id, vector: got.vector, payload_json: got.payload_json },
  hits: hits.results.map((h) => ({ id: h.id, distance: h.distance })),
  refused,
}));
auth.close();
points.close();
