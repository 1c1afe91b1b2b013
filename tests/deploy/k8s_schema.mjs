// tests/deploy/k8s_schema.mjs — schema check of rendered Kubernetes manifests,
// offline. Every object is validated twice:
//   1. against the Kubernetes OpenAPI schema of its kind, compiled into
//      JSON-schema validators by kubernetes-models (types, required fields,
//      enums, formats; the prometheus-operator CRDs for ServiceMonitor);
//   2. for fields the API does not know (a typo such as `readinesProbe`, which
//      the schema alone lets through): the object goes through the official
//      client's serializer (@kubernetes/client-node), which keeps only the
//      fields of the API types, and every field lost on the way is reported.
//      ServiceMonitor has no model there: only check 1 applies to it.
// usage: node k8s_schema.mjs NPM_DIR MANIFESTS.json
//   MANIFESTS.json holds an array of objects. Prints one line per object and
//   one per problem; exit status 0 when there is none, 1 otherwise, 2 on a
//   usage error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [npmDir, manifestsPath] = process.argv.slice(2);
if (!npmDir || !manifestsPath) {
  console.error("usage: node k8s_schema.mjs NPM_DIR MANIFESTS.json");
  process.exit(2);
}
const requireFrom = createRequire(join(npmDir, "package.json"));
const { ObjectSerializer } = await import(
  pathToFileURL(
    join(npmDir, "node_modules/@kubernetes/client-node/dist/gen/models/ObjectSerializer.js"),
  ).href
);

// apiVersion/kind -> [kubernetes-models module, client-node type or null].
const KINDS = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "V1ConfigMap"],
  "v1/Secret": ["kubernetes-models/v1/Secret", "V1Secret"],
  "v1/Service": ["kubernetes-models/v1/Service", "V1Service"],
  "v1/ServiceAccount": ["kubernetes-models/v1/ServiceAccount", "V1ServiceAccount"],
  "apps/v1/StatefulSet": ["kubernetes-models/apps/v1/StatefulSet", "V1StatefulSet"],
  "policy/v1/PodDisruptionBudget": [
    "kubernetes-models/policy/v1/PodDisruptionBudget",
    "V1PodDisruptionBudget",
  ],
  "monitoring.coreos.com/v1/ServiceMonitor": [
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor",
    null,
  ],
};

// Paths present in `orig` and absent from `kept` (fields the type lacks).
function lostFields(orig, kept, path, out) {
  if (Array.isArray(orig)) {
    orig.forEach((v, i) => lostFields(v, Array.isArray(kept) ? kept[i] : undefined,
                                      `${path}[${i}]`, out));
  } else if (orig !== null && typeof orig === "object") {
    for (const [k, v] of Object.entries(orig)) {
      const has = kept !== null && typeof kept === "object" && k in kept && kept[k] !== undefined;
      if (!has) out.push(`${path}.${k}`);
      else lostFields(v, kept[k], `${path}.${k}`, out);
    }
  }
  return out;
}

function check(obj) {
  const problems = [];
  const id = `${obj?.kind}/${obj?.metadata?.name}`;
  const entry = KINDS[`${obj?.apiVersion}/${obj?.kind}`];
  if (!entry) return [id, [`no schema for apiVersion ${obj?.apiVersion} kind ${obj?.kind}`]];
  const [modulePath, clientType] = entry;
  const mod = requireFrom(modulePath);
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`schema: ${e.message}`);
  }
  if (clientType) {
    const kept = ObjectSerializer.serialize(ObjectSerializer.deserialize(obj, clientType),
                                            clientType);
    for (const p of lostFields(obj, kept, "", [])) problems.push(`unknown field ${p}`);
  }
  return [id, problems];
}

const objects = JSON.parse(readFileSync(manifestsPath, "utf8"));
let bad = 0;
for (const obj of objects) {
  const [id, problems] = check(obj);
  console.log(`${problems.length ? "FAIL" : "ok  "} ${id}`);
  for (const p of problems) console.log(`     ${p}`);
  if (problems.length) bad++;
}
console.log(`${objects.length - bad} valid, ${bad} invalid`);
process.exit(bad ? 1 : 0);
