"""
tests/integration/test_openapi.py — keeps docs/openapi.yaml true and usable:

  * the router's routes (`$AKIDB_BIN serve --print-routes`), the route table
    of docs/rest-api.md and the document's operations are the same set;
  * `redocly lint` (pinned @redocly/cli, installed under build/npm by
    tests/integration/node-tools.sh, rules in redocly.yaml) passes;
  * every example in the document validates against its schema, and every
    schema is itself a valid JSON Schema (2020-12);
  * error responses agree with the service's status table
    (src/service/service.h AKIDB_STATUS_MAP) and every operation documents
    the errors the transport and authentication can give;
  * openapi_check.validate_response accepts hand-written answers shaped as
    docs/rest-api.md says and refuses wrong ones.

Run: /usr/bin/python3 -m pytest tests/integration/test_openapi.py
(AKIDB_BIN defaults to build/release/akidb.)
"""
import copy
import os
import re
import subprocess

import jsonschema
import pytest

import openapi_check as oc

ROOT = oc.ROOT
DOC = oc.document()
PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("POST", "/v1/auth/login")}
TS = "2026-11-21T10:00:00.123Z"
U1 = "0190f5a2-7c1e-7b3a-9f00-2c4d5e6f7a8b"
U2 = "0190f5a2-8000-7b3a-9f00-2c4d5e6f7a8b"
C = "/v1/tenants/acme/databases/main/collections/docs"


def operations():
    """(METHOD, template, operation) for every operation."""
    for template, item in DOC["paths"].items():
        for method, op in item.items():
            if method in oc.METHODS:
                yield method.upper(), template, op


def differences(name_a, a, name_b, b):
    lines = [f"only in {name_a}: {sorted(a - b)}", f"only in {name_b}: {sorted(b - a)}"]
    return "\n".join(lines)


# ----------------------------------------------------------------- routes --


def akidb_bin():
    path = os.environ.get("AKIDB_BIN") or str(ROOT / "build" / "release" / "akidb")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not an executable: build akidb (make build) or point AKIDB_BIN "
                    "at the built program", pytrace=False)
    return path


def test_router_routes_equal_the_document():
    p = subprocess.run([akidb_bin(), "serve", "--print-routes"], capture_output=True, text=True,
                       timeout=60, cwd=str(ROOT))
    assert p.returncode == 0, (f"{akidb_bin()} serve --print-routes exited {p.returncode} (an old build? "
                               f"rebuild it or set AKIDB_BIN)\n{p.stdout}\n{p.stderr}")
    router = set()
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"([A-Z]+) (/\S*)", line.strip())
        assert m, f"--print-routes printed a line that is not 'METHOD /path': {line!r}"
        router.add((m.group(1), m.group(2)))
    doc = oc.routes()
    assert router == doc, "router and docs/openapi.yaml differ\n" + differences(
        "the router", router, "docs/openapi.yaml", doc)


def rest_api_md_routes():
    text = (ROOT / "docs" / "rest-api.md").read_text(encoding="utf-8")
    section = text.split("## Routes", 1)[1].split("\n## ", 1)[0]
    out = set()
    for line in section.splitlines():
        m = re.match(r"\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|", line)
        if m:
            path = m.group(2).replace("...", "/v1/tenants/{tenant}/databases/{database}")
            out.add((m.group(1), path))
    return out


def test_rest_api_md_route_table_equals_the_document():
    md = rest_api_md_routes()
    assert len(md) > 30, f"could not read the route table of docs/rest-api.md (found {len(md)} routes)"
    doc = oc.routes()
    assert md == doc, "docs/rest-api.md and docs/openapi.yaml differ\n" + differences(
        "docs/rest-api.md", md, "docs/openapi.yaml", doc)


# ------------------------------------------------------------------- lint --


def test_redocly_lint_passes():
    script = ROOT / "tests" / "integration" / "node-tools.sh"
    try:
        p = subprocess.run([str(script), "redocly", "lint", "--format", "stylish", "docs/openapi.yaml"],
                           capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    except FileNotFoundError as e:
        pytest.fail(f"cannot run {script}: {e}", pytrace=False)
    out = p.stdout + p.stderr
    if p.returncode == 127:
        pytest.fail("npm is not installed, so @redocly/cli cannot be installed: install Node.js "
                    f">= 20.19 with npm (scripts/install-deps.sh)\n{out}", pytrace=False)
    if p.returncode == 3:
        pytest.fail("npm could not install @redocly/cli into build/npm (is the npm registry "
                    f"reachable?)\n{out}", pytrace=False)
    assert p.returncode == 0, f"redocly lint docs/openapi.yaml failed (exit {p.returncode}):\n{out}"


# ---------------------------------------------------------------- schemas --


def walk(node, where="#"):
    """Every (JSON pointer, dict) of the document."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, f"{where}/{str(k).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{where}/{i}")


def schemas_in_document():
    """(pointer, schema) of every schema object outside components/schemas
    (those are checked one by one) that the document holds as a value of a
    `schema` key (media types, parameters, headers)."""
    for where, node in walk(DOC):
        if "schema" in node and isinstance(node["schema"], dict) and "/components/schemas/" not in where:
            yield f"{where}/schema", node["schema"]


def test_every_component_schema_is_a_valid_json_schema():
    bad = []
    for name, schema in DOC["components"]["schemas"].items():
        try:
            oc.Validator.check_schema(schema)
            oc.Validator.check_schema(oc.wrap(schema))
        except jsonschema.exceptions.SchemaError as e:
            bad.append(f"{name}: {e.message}")
    assert not bad, "invalid schemas in components/schemas:\n" + "\n".join(bad)


def test_every_response_and_parameter_schema_is_valid_and_resolves():
    bad = []
    for where, schema in schemas_in_document():
        try:
            oc.Validator.check_schema(oc.wrap(schema))
            # Resolving every $ref happens on validation: run it once.
            list(oc.validator(schema).iter_errors(None))
        except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.RefResolutionError) as e:
            bad.append(f"{where}: {e}")
    assert not bad, "\n".join(bad)


def test_every_reference_resolves():
    refs = [(where, node["$ref"]) for where, node in walk(DOC) if isinstance(node.get("$ref"), str)]
    assert len(refs) > 100, f"only {len(refs)} references found; the walk is broken"
    bad = []
    for where, ref in refs:
        try:
            oc.pointer(ref)
        except AssertionError as e:
            bad.append(f"{where}: {e}")
    assert not bad, "\n".join(bad)


def test_no_openapi_3_0_keywords():
    """OpenAPI 3.1 schemas are JSON Schema 2020-12: `nullable` would be
    silently ignored and a boolean exclusiveMinimum is invalid."""
    bad = [where for where, node in walk(DOC)
           if "nullable" in node or isinstance(node.get("exclusiveMinimum"), bool)
           or isinstance(node.get("exclusiveMaximum"), bool)]
    assert not bad, f"OpenAPI 3.0 keywords in a 3.1 document at: {bad}"


def test_every_example_validates_against_its_schema():
    checked, bad = 0, []
    for where, node in walk(DOC):
        if isinstance(node.get("examples"), list):  # a schema's examples
            for i, ex in enumerate(node["examples"]):
                checked += 1
                bad += [f"{where}/examples/{i} {p}" for p in oc.schema_errors(node, ex)]
        if not isinstance(node.get("schema"), dict):
            continue
        if "example" in node:  # a media type's or parameter's example
            checked += 1
            bad += [f"{where}/example {p}" for p in oc.schema_errors(node["schema"], node["example"])]
        if isinstance(node.get("examples"), dict):  # Example objects
            for name, ex in node["examples"].items():
                ex = oc.resolve(ex)
                if "value" in ex:
                    checked += 1
                    bad += [f"{where}/examples/{name} {p}" for p in oc.schema_errors(node["schema"], ex["value"])]
    assert checked >= 15, f"only {checked} examples found; the walk is broken"
    assert not bad, "examples that do not match their schema:\n" + "\n".join(bad)


STRICT_REQUEST_BODIES = ["LoginRequest", "TenantCreate", "TenantPatch", "QuotasInput", "DatabaseCreate",
                         "CollectionCreate", "CollectionPatch", "IndexParamsInput", "UserCreate", "UserPatch",
                         "ApiKeyCreate", "UpsertRequest", "PointInput", "GetPointsRequest",
                         "DeletePointsRequest", "SearchRequest", "SnapshotCreate", "SnapshotRestore"]


@pytest.mark.parametrize("name", STRICT_REQUEST_BODIES)
def test_request_bodies_refuse_unknown_fields(name):
    schema = oc.component(name)
    assert schema.get("additionalProperties") is False, (
        f"components/schemas/{name} must say additionalProperties: false (the service refuses unknown fields)")


# ----------------------------------------------------------------- errors --


def service_status_map():
    text = (ROOT / "src" / "service" / "service.h").read_text(encoding="utf-8")
    rows = re.findall(r'X\((\w+),\s*"(\w+)",\s*(\d+),\s*\d+\)', text)
    assert len(rows) > 10, "could not read AKIDB_STATUS_MAP from src/service/service.h"
    # the error kinds: the successes (HTTP < 300) are no error codes
    return {code: int(http) for _, code, http in rows if int(http) >= 400}


def error_codes_of(response):
    """The codes a documented error response allows (its allOf overlay)."""
    schema = response["content"]["application/json"]["schema"]
    codes = None
    for part in schema.get("allOf", []):
        code = part.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
        if "enum" in code:
            codes = set(code["enum"])
        elif "const" in code:
            codes = {code["const"]}
    return codes


def test_error_code_enum_equals_the_service_table():
    table = service_status_map()
    enum = set(oc.component("ErrorCode")["enum"])
    assert enum == set(table), differences("ErrorCode", enum, "AKIDB_STATUS_MAP", set(table))
    text = oc.component("ErrorCode")["description"]
    for code, http in table.items():
        assert f"`{code}` {http}" in text, f"ErrorCode's description must say `{code}` {http}"


def test_error_responses_allow_only_codes_of_their_status():
    table = service_status_map()
    bad = []
    for method, template, op in operations():
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            response = oc.resolve(response)
            codes = error_codes_of(response)
            if codes is None:
                bad.append(f"{method} {template} {status}: the schema does not restrict error.code")
                continue
            wrong = sorted(c for c in codes if table.get(c) != int(status))
            if wrong:
                bad.append(f"{method} {template} {status}: codes {wrong} belong to other statuses")
    assert not bad, "\n".join(bad)


def test_every_operation_documents_its_errors():
    """What the transport gives on any route (400, 413, 415, 500), what
    authentication gives (401, 429, 503), 404 where the path names a
    resource, and at least one 4xx everywhere (redocly's
    operation-4xx-response too)."""
    bad = []
    for method, template, op in operations():
        have = set(op["responses"])
        want = {"413", "415", "500"}
        if template != "/metrics":  # served before query and body parsing
            want.add("400")
        if (method, template) not in PUBLIC:
            want |= {"401", "429", "503"}
            if "security" in op:
                bad.append(f"{method} {template}: must use the global bearer security")
        elif op.get("security") != []:
            bad.append(f"{method} {template}: needs no credential, so it must say security: []")
        if "{" in template:
            want.add("404")
        missing = sorted(want - have)
        if missing:
            bad.append(f"{method} {template}: responses {missing} are not documented")
        for status, response in op["responses"].items():
            if "X-Request-Id" not in (oc.resolve(response).get("headers") or {}):
                bad.append(f"{method} {template} {status}: no X-Request-Id header")
            if status == "429" and "Retry-After" not in oc.resolve(response).get("headers", {}):
                bad.append(f"{method} {template} 429: no Retry-After header")
        if not op.get("description") or not op.get("summary"):
            bad.append(f"{method} {template}: needs a summary and a description")
    assert DOC["security"] == [{"bearerAuth": []}]
    assert DOC["components"]["securitySchemes"]["bearerAuth"] == {
        **DOC["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert not bad, "\n".join(bad)


def test_every_path_declares_its_parameters_and_request_id():
    bad = []
    for template, item in DOC["paths"].items():
        params = [oc.resolve(p) for p in item.get("parameters", [])]
        names = {(p["in"], p["name"]) for p in params}
        for name in re.findall(r"\{([^}]+)\}", template):
            if ("path", name) not in names:
                bad.append(f"{template}: path parameter {name} is not declared")
        if ("header", "X-Request-Id") not in names:
            bad.append(f"{template}: the X-Request-Id request header is not declared")
    assert not bad, "\n".join(bad)


# ---------------------------------------------- openapi_check on samples --


def tenant(**kw):
    t = {"id": U1, "slug": "acme", "name": "Acme", "status": "active",
         "quotas": {"max_memory_bytes": 0, "max_storage_bytes": 0, "max_qps": 0, "max_collections": 5},
         "created_at": TS, "updated_at": TS}
    t.update(kw)
    return t


def database(**kw):
    d = {"id": U1, "tenant": "acme", "name": "main", "state": "ready", "created_at": TS, "updated_at": TS}
    d.update(kw)
    return d


def collection(**kw):
    c = {"id": U1, "tenant": "acme", "database": "main", "name": "docs", "dimension": 4,
         "metric": "cosine", "index": {"m": 16, "ef_construction": 200, "ef_search": 160},
         "text": {"k1": 1.2, "b": 0.75}, "embedding": None, "tier": "hot", "tier_pinned": False, "resident": True, "points": 3, "pending": 1,
         "memory_bytes": 4096, "disk_bytes": 8192, "last_access": TS, "created_at": TS,
         "updated_at": TS}
    c.update(kw)
    return c


def user(**kw):
    u = {"id": U1, "tenant": "acme", "username": "alice", "role": "developer", "status": "active",
         "has_password": True, "created_at": TS, "updated_at": TS}
    u.update(kw)
    return u


def api_key(**kw):
    k = {"id": U2, "name": "ci key", "prefix": "0123456789abcdef", "user": "alice", "created_at": TS,
         "expires_at": None, "last_used_at": TS, "revoked_at": None}
    k.update(kw)
    return k


def audit(**kw):
    a = {"seq": 7, "time": TS, "actor": "alice", "actor_id": U1, "tenant": "acme",
         "action": "database.create", "target": "database/acme/main", "outcome": "success",
         "request_id": "req-1", "details": {}}
    a.update(kw)
    return a


def err(code, message="say what to fix"):
    return {"error": {"code": code, "message": message}}


SESSION_USER = {"id": U1, "username": "alice", "role": "developer", "tenant": "acme"}
TOKEN = "as_0123456789abcdef_" + "ab" * 32
SECRET = "ak_0123456789abcdef_" + "cd" * 32

GOOD = [
    ("GET", "/health", 200, {"status": "ok"}),
    ("GET", "/ready", 200, {"status": "ready"}),
    ("GET", "/ready", 503, err("unavailable")),
    ("GET", "/metrics", 200, "# TYPE akidb_requests_total counter\n"),
    ("POST", "/v1/auth/login", 200, {"token": TOKEN, "expires_at": TS, "user": SESSION_USER}),
    ("POST", "/v1/auth/login", 200, {"token": TOKEN, "expires_at": TS,
                                     "user": dict(SESSION_USER, role="system-admin", tenant=None)}),
    ("POST", "/v1/auth/login", 401, err("unauthenticated")),
    ("POST", "/v1/auth/login", 429, err("rate_limited")),
    ("POST", "/v1/auth/logout", 204, None),
    ("POST", "/v1/auth/logout", 204, b""),
    ("POST", "/v1/auth/logout", 400, err("invalid_argument")),
    ("GET", "/v1/auth/whoami", 200, {"user": SESSION_USER, "credential": "session", "expires_at": TS}),
    ("GET", "/v1/auth/whoami", 200, {"user": SESSION_USER, "credential": "api_key", "expires_at": None}),
    ("GET", "/v1/tenants", 200, {"items": [tenant(), tenant(slug="beta", status="suspended")], "next": U1}),
    ("GET", "/v1/tenants?limit=1", 200, {"items": [], "next": None}),
    ("POST", "/v1/tenants", 201, tenant(status="provisioning")),
    ("POST", "/v1/tenants", 409, err("already_exists")),
    ("GET", "/v1/tenants/acme", 200, tenant()),
    ("PATCH", "/v1/tenants/acme", 200, tenant(status="decommissioned")),
    ("PATCH", "/v1/tenants/acme", 409, err("conflict")),
    ("DELETE", "/v1/tenants/acme", 204, None),
    ("GET", "/v1/tenants/nope", 404, err("not_found")),
    ("GET", "/v1/tenants/acme/databases", 200, {"items": [database()], "next": None}),
    ("POST", "/v1/tenants/acme/databases", 201, database(state="provisioning")),
    ("GET", "/v1/tenants/acme/databases/main", 200, database()),
    ("DELETE", "/v1/tenants/acme/databases/main", 204, None),
    ("GET", "/v1/tenants/acme/databases/main/collections", 200, {"items": [collection()], "next": None}),
    ("POST", "/v1/tenants/acme/databases/main/collections", 201, collection(metric="l2", points=0)),
    ("POST", "/v1/tenants/acme/databases/main/collections", 403, err("quota_exceeded")),
    ("GET", C, 200, collection(tier="warm")),
    ("PATCH", C, 200, collection()),
    ("DELETE", C, 204, None),
    ("GET", C + "/count", 200, {"count": 0}),
    ("POST", C + "/points", 200, {"upserted": 2, "ids": ["a", U1]}),
    ("POST", C + "/points", 400, err("invalid_json")),
    ("POST", C + "/points", 413, err("payload_too_large")),
    ("POST", C + "/points", 415, err("unsupported_media_type")),
    ("POST", C + "/points/get", 200, {"points": [{"id": "a/b", "payload": None},
                                                 {"id": "x", "payload": {"k": [1, {"z": None}]},
                                                  "text": "hello", "vector": [0.5, 1, -2.0, 0]}],
                                      "missing": ["gone"]}),
    ("POST", C + "/points/delete", 200, {"deleted": 1}),
    ("GET", C + "/points/doc-1", 200, {"id": "doc-1", "payload": {"lang": "en"}}),
    ("GET", C + "/points/a%2Fb?with_vector=true", 200, {"id": "a/b", "payload": None, "vector": [1.0]}),
    ("GET", C + "/points/missing", 404, err("not_found")),
    ("POST", C + "/search", 200, {"results": [{"id": "a", "distance": 0.0, "payload": {"x": 1}},
                                              {"id": "b", "distance": 1.5, "payload": None}]}),
    ("POST", C + "/search", 200, {"results": [{"id": "a", "distance": -3.25, "vector": [1, 2]}]}),
    ("POST", C + "/search", 200, {"batches": [{"results": []}, {"results": [{"id": "a", "distance": 2}]}]}),
    ("POST", C + "/search", 200, {"results": [{"id": "a", "score": 3.5, "text": "flow"}]}),
    ("GET", "/v1/tenants/acme/users", 200, {"items": [user(), user(role="admin", has_password=False)],
                                            "next": None}),
    ("POST", "/v1/tenants/acme/users", 201, user(role="auditor")),
    ("GET", "/v1/tenants/acme/users/alice", 200, user()),
    ("PATCH", "/v1/tenants/acme/users/alice", 200, user(status="disabled")),
    ("DELETE", "/v1/tenants/acme/users/alice", 204, None),
    ("GET", "/v1/tenants/acme/users/alice/keys", 200, {"items": [api_key(), api_key(revoked_at=TS)],
                                                       "next": None}),
    ("POST", "/v1/tenants/acme/users/alice/keys", 201, {"key": api_key(last_used_at=None, expires_at=TS),
                                                        "secret": SECRET}),
    ("DELETE", f"/v1/tenants/acme/users/alice/keys/{U2}", 204, None),
    ("DELETE", f"/v1/tenants/acme/users/alice/keys/{U2}", 409, err("conflict")),
    ("GET", "/v1/tenants/acme/audit?action=login.failure&order=newest", 200,
     {"items": [audit(), audit(seq=8, actor="mallory", actor_id=None, action="login.failure",
                               outcome="failure", details={"reason": "x"})], "next": "8"}),
    ("GET", "/v1/audit", 200, {"items": [audit(tenant=None, action="tenant.create", request_id="")],
                               "next": None}),
    ("GET", "/v1/audit", 403, err("permission_denied")),
    ("GET", "/v1/tenants/acme", 429, err("rate_limited")),
    ("GET", "/v1/tenants/acme", 503, err("unavailable")),
    ("GET", "/v1/tenants/acme", 500, err("internal")),
    # Requests that match no operation.
    ("GET", "/v2/nothing", 404, err("not_found")),
    ("GET", "/v1/tenants/", 404, err("not_found")),
    ("PUT", "/v1/tenants", 405, err("method_not_allowed")),
    ("DELETE", "/health", 405, err("method_not_allowed")),
    # A literal segment beats a parameter; GET .../points/get is the point "get".
    ("GET", C + "/points/get", 404, err("not_found")),
    ("GET", C + "/points/get", 405, err("method_not_allowed")),
    ("PUT", C + "/points/get", 405, err("method_not_allowed")),
    ("GET", "/v1/tenants/%zz", 400, err("invalid_argument")),
    ("GET", "http://127.0.0.1:8080/v1/tenants/acme?x=1", 200, tenant()),
]


@pytest.mark.parametrize("method,path,status,body", GOOD,
                         ids=[f"{m} {p[:60]} {s}" for m, p, s, _ in GOOD])
def test_validate_response_accepts_documented_answers(method, path, status, body):
    oc.validate_response(method, path, status, copy.deepcopy(body))


BAD = [
    # (method, path, status, body, headers, words the message must hold)
    ("GET", "/v1/tenants/acme", 201, tenant(), None, ["GET /v1/tenants/{tenant}", "201", "not documented"]),
    ("GET", "/v1/tenants/acme", 200, dict(tenant(), extra=1), None, ["'extra' was unexpected"]),
    ("GET", "/v1/tenants/acme", 200, tenant(created_at="2026-11-21T10:00:00Z"), None, ["created_at"]),
    ("GET", "/v1/tenants/acme", 200, tenant(status="paused"), None, ["status", "paused"]),
    ("GET", "/v1/tenants/acme", 200, tenant(id="not-a-uuid"), None, ["id", "uuid"]),
    ("GET", "/v1/tenants/acme", 200, {k: v for k, v in tenant().items() if k != "quotas"}, None,
     ["'quotas' is a required property"]),
    ("GET", "/v1/tenants", 200, {"items": [tenant()]}, None, ["'next' is a required property"]),
    ("GET", "/v1/tenants/acme", 404, err("permission_denied"), None, ["permission_denied"]),
    ("GET", "/v1/tenants/acme", 404, {"error": "not_found"}, None, ["error"]),
    ("GET", "/v1/tenants/acme", 404, {"error": {"code": "not_found", "message": ""}}, None, ["message"]),
    ("DELETE", "/v1/tenants/acme", 204, {"deleted": True}, None, ["no body"]),
    ("GET", "/v1/tenants/acme", 200, "{not json", None, ["not JSON"]),
    ("GET", "/v1/tenants/acme", 200, None, None, ["got none"]),
    ("GET", "/nothing", 200, {"status": "ok"}, None, ["matches no path", "404"]),
    ("PUT", "/v1/tenants", 404, err("not_found"), None, ["405", "GET, POST"]),
    ("PUT", "/v1/tenants", 405, err("method_not_allowed"), {"Allow": "GET"}, ["Allow", "POST"]),
    ("POST", C + "/search", 200, {"results": [{"id": "a"}]}, None, ["'distance' is a required", "'score' is a required"]),
    ("POST", C + "/search", 200, {"results": [{"id": "a", "distance": 1, "score": 2}]}, None,
     ["valid under each", "is valid under"]),
    ("POST", C + "/search", 200, {"results": [], "batches": []}, None, ["body does not match"]),
    ("POST", C + "/points/get", 200, {"points": [{"id": "a"}], "missing": []}, None, ["payload"]),
    ("GET", "/v1/auth/whoami", 200, {"user": SESSION_USER, "credential": "password", "expires_at": None},
     None, ["credential"]),
    ("POST", "/v1/tenants/acme/users/alice/keys", 201, {"key": api_key(), "secret": "ak_short"}, None,
     ["secret"]),
    ("GET", "/v1/tenants/acme/users/alice/keys", 200, {"items": [{k: v for k, v in api_key().items()
                                                                  if k != "revoked_at"}], "next": None},
     None, ["revoked_at"]),
    ("GET", "/v1/audit", 200, {"items": [audit(outcome="ok")], "next": None}, None, ["outcome"]),
    ("POST", "/v1/tenants", 429, err("rate_limited"), {"X-Request-Id": "r"}, ["Retry-After"]),
    ("POST", "/v1/tenants", 201, tenant(), {"Retry-After": "1"}, ["X-Request-Id"]),
    ("POST", "/v1/tenants", 201, tenant(), {"X-Request-Id": "", "Content-Type": "application/json"},
     ["X-Request-Id"]),
    ("POST", "/v1/tenants", 201, tenant(), {"X-Request-Id": "r", "Content-Type": "text/html"},
     ["Content-Type"]),
    ("GET", "/v1/tenants/%zz", 404, err("not_found"), None, ["400"]),
]


@pytest.mark.parametrize("method,path,status,body,headers,words", BAD,
                         ids=[f"{b[0]} {b[1][:50]} {b[2]} #{i}" for i, b in enumerate(BAD)])
def test_validate_response_refuses_wrong_answers(method, path, status, body, headers, words):
    with pytest.raises(AssertionError) as e:
        oc.validate_response(method, path, status, copy.deepcopy(body), headers=headers)
    text = str(e.value)
    for w in words:
        assert w in text, f"the message should mention {w!r}:\n{text}"


def test_validate_response_checks_headers_when_given():
    h = {"x-request-id": U1, "Content-Type": "application/json; charset=utf-8"}
    assert oc.validate_response("GET", "/v1/tenants/acme", 200, tenant(), headers=h) == "/v1/tenants/{tenant}"
    oc.validate_response("POST", "/v1/tenants", 429, err("rate_limited"),
                         headers={"X-Request-Id": "r", "Retry-After": "3"})
    oc.validate_response("PUT", "/v1/tenants", 405, err("method_not_allowed"),
                         headers={"X-Request-Id": "r", "Allow": "GET, POST"})
    oc.validate_response("GET", "/metrics", 200, "akidb_up 1\n",
                         headers=[("X-Request-Id", "r"), ("Content-Type", "text/plain; version=0.0.4")])


def test_match_path_prefers_literal_segments():
    assert oc.match_path(C + "/points/get") == [
        "/v1/tenants/{tenant}/databases/{database}/collections/{collection}/points/get",
        "/v1/tenants/{tenant}/databases/{database}/collections/{collection}/points/{point_id}"]
    assert oc.match_path(C + "/points/%67et")[0].endswith("/points/get")  # decoded, as the router does
    assert oc.match_path(C + "/points/a%2Fb") == [
        "/v1/tenants/{tenant}/databases/{database}/collections/{collection}/points/{point_id}"]
    assert oc.match_path("/v1/audit") == ["/v1/audit"]
    assert oc.match_path("/v1/tenants/acme/audit") == ["/v1/tenants/{tenant}/audit"]
    assert oc.match_path("/v1/tenants//databases") == []


def test_routes_lists_every_operation():
    r = oc.routes()
    assert len(r) == 50, sorted(r)
    assert ("POST", "/v1/embeddings") in r
    assert ("GET", "/v1/tenants/{tenant}/databases/{database}/collections/{collection}/points/{point_id}") in r
    assert ("POST", "/v1/auth/login") in r


REQUESTS_OK = [
    ("POST", "/v1/auth/login", {"username": "admin", "password": "x"}),
    ("POST", "/v1/auth/login", {"tenant": "", "username": "admin", "password": "x"}),
    ("POST", "/v1/tenants", {"slug": "acme", "name": "Acme", "status": "provisioning",
                             "quotas": {"max_qps": 10}}),
    ("PATCH", "/v1/tenants/acme", {"quotas": {"max_collections": 0}}),
    ("POST", "/v1/tenants/acme/databases/main/collections", {"name": "docs", "dimension": 4}),
    ("PATCH", C, {"index": {"ef_search": 64}}),
    ("POST", C + "/points", {"points": [{"vector": [1, 2]}, {"id": "x", "vector": [0.5], "payload": None,
                                                            "text": "t"}]}),
    ("POST", C + "/points/get", {"ids": ["a"], "with_vector": True}),
    ("POST", C + "/points/delete", {"ids": ["a", "b"]}),
    ("POST", C + "/search", {"vector": [1, 0], "k": 3, "ef": 50, "exact": True, "include_vector": True,
                             "filter": {"or": [{"field": "a.b", "in": [1, "x", None]},
                                               {"not": {"field": "c", "lt": "m"}},
                                               {"and": [{"field": "d", "ne": False}]}]}}),
    ("POST", C + "/search", {"vectors": [[1, 0], [0, 1]], "include_payload": False}),
    ("POST", "/v1/tenants/acme/users", {"username": "bob", "role": "viewer", "password": "twelve chars"}),
    ("PATCH", "/v1/tenants/acme/users/bob", {"status": "disabled"}),
    ("POST", "/v1/tenants/acme/users/bob/keys", {"name": "k", "expires_at": "2027-01-01T00:00:00Z"}),
]

REQUESTS_BAD = [
    ("POST", "/v1/auth/login", {"username": "admin", "password": "x", "remember": True}),
    ("POST", "/v1/tenants", {"slug": "AC", "name": "x"}),
    ("POST", "/v1/tenants", {"slug": "acme", "name": "x", "status": "suspended"}),
    ("PATCH", "/v1/tenants/acme", {"quotas": {"max_cpu": 1}}),
    ("POST", "/v1/tenants/acme/databases/main/collections", {"name": "docs", "dimension": 0}),
    ("POST", "/v1/tenants/acme/databases/main/collections", {"name": "docs", "dimension": 4, "metric": "hamming"}),
    ("PATCH", C, {"index": {"m": 8}}),
    ("POST", C + "/points", {"points": []}),
    ("POST", C + "/points", {"points": [{"id": "", "vector": [1]}]}),
    ("POST", C + "/points", {"points": [{"vector": [1], "colour": "red"}]}),
    ("POST", C + "/points/get", {"ids": []}),
    ("POST", C + "/search", {"vector": [1], "vectors": [[1]]}),
    ("POST", C + "/search", {"k": 3}),
    ("POST", C + "/search", {"vector": [1], "k": 0}),
    ("POST", C + "/search", {"vector": [1], "filter": {"field": "a", "regex": "x"}}),
    ("POST", C + "/search", {"vector": [1], "filter": {"field": "a", "eq": 1, "ne": 2}}),
    ("POST", C + "/search", {"vector": [1], "filter": {"and": []}}),
    ("POST", C + "/search", {"vector": [1], "filter": {"not": {"field": "a", "in": [[1]]}}}),
    ("POST", "/v1/tenants/acme/users", {"username": "bob", "role": "system-admin"}),
    ("POST", "/v1/tenants/acme/users", {"username": "bob", "role": "viewer", "password": "short"}),
    ("POST", "/v1/tenants/acme/users/bob/keys", {"name": "k", "expires_at": "tomorrow"}),
]


@pytest.mark.parametrize("method,path,body", REQUESTS_OK, ids=[f"{m} {p[-30:]} #{i}" for i, (m, p, _) in enumerate(REQUESTS_OK)])
def test_request_schemas_accept_valid_bodies(method, path, body):
    assert oc.request_errors(method, path, body) == []


@pytest.mark.parametrize("method,path,body", REQUESTS_BAD, ids=[f"{m} {p[-30:]} #{i}" for i, (m, p, _) in enumerate(REQUESTS_BAD)])
def test_request_schemas_refuse_invalid_bodies(method, path, body):
    assert oc.request_errors(method, path, body), f"{method} {path} should refuse {body}"
