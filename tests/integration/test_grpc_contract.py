"""
tests/integration/test_grpc_contract.py — keeps the gRPC contract
(proto/akidb/v1/*.proto, proto/grpc/health/v1/health.proto) whole and in
step with the service:

  * every .proto compiles to Python stubs (protoc + grpc_python_plugin,
    without a warning) that import;
  * parity: every operation of AKIDB_OP_MAP (src/service/service.h) except
    the probes `health` and `ready` (grpc.health.v1.Health) has exactly one
    rpc tagged `// op: <name>`, and every rpc carries exactly one tag naming
    an operation of the map — or one of PENDING_OPS below, which the service
    has yet to add. `// op: <name> (per message)` marks a streaming rpc that
    performs the operation once per message (UpsertStream); it names an
    existing operation and does not count as that operation's rpc;
  * every rpc's comment names its REST route (the route of its operation in
    src/http/routes.c) or says it has none, and the permission it needs (an
    action of src/auth/authz.c);
  * every rpc's request and response messages exist (in akidb.v1), each rpc
    has a request message of its own, vectors are packed `repeated float`
    (checked on the wire too), payloads are JSON text and no well-known
    type is imported.

Needs protoc, grpc_python_plugin and python3-grpcio (tests/integration/
grpc_stubs.py); no server.
Run: /usr/bin/python3 -m pytest tests/integration/test_grpc_contract.py
"""
import re
import struct

import pytest

import grpc_stubs

ROOT = grpc_stubs.ROOT
AKIDB_PROTO_DIR = grpc_stubs.PROTO_ROOT / "akidb" / "v1"
PROBES = {"health", "ready"}  # served by grpc.health.v1.Health
# Operations the gRPC contract performs that AKIDB_OP_MAP does not list yet:
# name -> the rpc that performs it. When the service adds one, delete it here.
PENDING_OPS = {}
PER_MESSAGE = "(per message)"
NO_CREDENTIAL = ("No credential needed", "Any session", "Any credential")



# ------------------------------------------------------------- sources --


def op_map():
    """The operation names of AKIDB_OP_MAP, in order."""
    text = (ROOT / "src" / "service" / "service.h").read_text(encoding="utf-8")
    m = re.search(r"#define AKIDB_OP_MAP\(X\)((?:.*\\\n)*.*)", text)
    assert m, "could not find AKIDB_OP_MAP in src/service/service.h"
    names = re.findall(r'X\(\s*\w+\s*,\s*"([\w.]+)"\s*\)', m.group(1))
    assert len(names) > 40, f"could not read AKIDB_OP_MAP from src/service/service.h: {names}"
    assert len(set(names)) == len(names), f"AKIDB_OP_MAP lists a name twice: {names}"
    return names


def routes_by_op():
    """{"points.upsert": ("POST", "/v1/tenants/{tenant}/.../points"), ...} from
    src/http/routes.c (its T and C prefixes expanded), keyed by operation name."""
    text = (ROOT / "src" / "http" / "routes.c").read_text(encoding="utf-8")
    macros = {}
    for name, body in re.findall(r'#define (\w+) ((?:\w+ )?"[^"]*")', text):
        parts = body.split(" ", 1) if not body.startswith('"') else [body]
        macros[name] = "".join(macros[p] if p in macros else p.strip('"') for p in parts)
    enum_to_name = dict(re.findall(r'X\((\w+),\s*"([\w.]+)"\)', (
        ROOT / "src" / "service" / "service.h").read_text(encoding="utf-8")))
    out = {}
    for method, prefix, path, op in re.findall(
            r'\{"([A-Z]+)",\s*(?:(\w+)\s*)?(?:"([^"]*)")?,\s*AKIDB_OP_(\w+)', text):
        if op == "COUNT":
            continue  # /metrics: served by the transport
        out[enum_to_name[op]] = (method, macros.get(prefix, "") + path)
    assert len(out) > 40, f"could not read the route table of src/http/routes.c: {out}"
    return out


def authz_actions():
    text = (ROOT / "src" / "auth" / "authz.c").read_text(encoding="utf-8")
    names = set(re.findall(r'=\s*\{"([\w.]+)",\s*\{', text))
    assert len(names) > 20, "could not read the permission table of src/auth/authz.c"
    return names


RPC_RE = re.compile(r"^\s*rpc\s+(\w+)\s*\(\s*(stream\s+)?([\w.]+)\s*\)\s*returns\s*"
                    r"\(\s*(stream\s+)?([\w.]+)\s*\)")
TAG_RE = re.compile(r"^\s*//\s*op:\s*(.*?)\s*$")


def parse_rpcs():
    """Every rpc of proto/akidb/v1 as written: {"akidb.v1.PointService.Upsert":
    {"file", "line", "comment" (the // lines just above, as one line of
    prose), "tags"}}."""
    rpcs = {}
    for path in sorted(AKIDB_PROTO_DIR.glob("*.proto")):
        service, comment = None, []
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            s = line.strip()
            m = re.match(r"service\s+(\w+)\s*\{", s)
            if m:
                service, comment = m.group(1), []
                continue
            if s.startswith("//"):
                comment.append(s)
                continue
            m = RPC_RE.match(line)
            if m:
                assert service, f"{path.name}:{no}: rpc outside a service"
                tags = [TAG_RE.match(c).group(1) for c in comment if TAG_RE.match(c)]
                prose = " ".join(c.lstrip("/").strip() for c in comment)
                rpcs[f"akidb.v1.{service}.{m.group(1)}"] = {
                    "file": path.name, "line": no, "comment": prose, "tags": tags}
            elif "rpc " in s:
                pytest.fail(f"{path.name}:{no}: an rpc this test cannot read (one line, "
                            f"`rpc Name(Request) returns (Response);`): {s}")
            comment = []
    return rpcs


def akidb_services(stubs):
    """The service descriptors of every akidb/v1 file."""
    out = []
    for name, mod in stubs.modules.items():
        if name.startswith("akidb.v1.") and name.endswith("_pb2"):
            out.extend(mod.DESCRIPTOR.services_by_name.values())
    return out


def all_messages(stubs):
    """Every message descriptor (nested ones too) of akidb.v1."""
    def walk(d):
        yield d
        for n in d.nested_types:
            yield from walk(n)
    for name, mod in stubs.modules.items():
        if name.startswith("akidb.v1.") and name.endswith("_pb2"):
            for d in mod.DESCRIPTOR.message_types_by_name.values():
                yield from walk(d)


# -------------------------------------------------------- (a) generation --


def test_every_proto_compiles_to_python_stubs_without_warnings(tmp_path):
    files = grpc_stubs.proto_files()
    assert "grpc/health/v1/health.proto" in files
    assert "akidb/v1/common.proto" in files and "akidb/v1/points.proto" in files
    try:
        warnings = grpc_stubs.generate(tmp_path)
    except grpc_stubs.StubError as e:
        pytest.fail(str(e), pytrace=False)
    assert warnings.strip() == "", f"protoc warned:\n{warnings}"
    for rel in files:
        for suffix in ("_pb2.py", "_pb2_grpc.py"):
            out = tmp_path / (rel[: -len(".proto")] + suffix)
            assert out.is_file(), f"protoc wrote no {out.relative_to(tmp_path)} for {rel}"


def test_stubs_import_with_a_client_stub_and_servicer_per_service(stubs):
    services = akidb_services(stubs)
    assert len(services) >= 11, [s.full_name for s in services]
    for s in services:
        mod = stubs.modules[s.file.name[: -len(".proto")].replace("/", ".") + "_pb2_grpc"]
        for attr in (f"{s.name}Stub", f"{s.name}Servicer", f"add_{s.name}Servicer_to_server"):
            assert hasattr(mod, attr), f"{mod.__name__} has no {attr}"
    assert hasattr(stubs.health_pb2_grpc, "HealthStub")


def test_health_is_the_standard_grpc_health_v1_service(stubs):
    fd = stubs.health_pb2.DESCRIPTOR
    assert fd.package == "grpc.health.v1"
    health = fd.services_by_name["Health"]
    methods = {m.name: m for m in health.methods}
    assert set(methods) == {"Check", "Watch"}
    for m in methods.values():
        assert m.input_type.full_name == "grpc.health.v1.HealthCheckRequest"
        assert m.output_type.full_name == "grpc.health.v1.HealthCheckResponse"
    assert not methods["Check"].server_streaming and methods["Watch"].server_streaming
    req = fd.message_types_by_name["HealthCheckRequest"]
    assert [(f.name, f.number, f.type) for f in req.fields] == [
        ("service", 1, req.fields[0].TYPE_STRING)]
    resp = fd.message_types_by_name["HealthCheckResponse"]
    status = resp.enum_types_by_name["ServingStatus"]
    assert {v.name: v.number for v in status.values} == {
        "UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2, "SERVICE_UNKNOWN": 3}
    assert [(f.name, f.number) for f in resp.fields] == [("status", 1)]


# ------------------------------------------------------------ (b) parity --


def test_the_parser_sees_every_rpc_the_compiler_sees(stubs):
    parsed = set(parse_rpcs())
    compiled = {m.full_name for s in akidb_services(stubs) for m in s.methods}
    assert parsed == compiled, (f"only in the .proto text: {sorted(parsed - compiled)}\n"
                                f"only in protoc's descriptors: {sorted(compiled - parsed)}")


def test_every_operation_has_exactly_one_rpc_and_every_rpc_one_operation(stubs):
    ops = op_map()
    assert PROBES <= set(ops), "health and ready are no longer in AKIDB_OP_MAP: update PROBES"
    for name in PENDING_OPS:
        assert name not in ops, (f"{name} is in AKIDB_OP_MAP now: remove it from PENDING_OPS "
                                 "in tests/integration/test_grpc_contract.py")
    known = set(ops) | set(PENDING_OPS)
    streaming = {m.full_name: m.client_streaming or m.server_streaming
                 for s in akidb_services(stubs) for m in s.methods}
    performed_by = {}
    problems = []
    for rpc, info in sorted(parse_rpcs().items()):
        where = f"{info['file']}:{info['line']} {rpc}"
        if len(info["tags"]) != 1:
            problems.append(f"{where}: {len(info['tags'])} `// op:` tags, want exactly one")
            continue
        tag = info["tags"][0]
        name, _, rest = tag.partition(" ")
        if rest and rest != PER_MESSAGE:
            problems.append(f"{where}: tag `op: {tag}`: only `{PER_MESSAGE}` may follow the name")
        if name not in known:
            problems.append(f"{where}: `op: {name}` is no operation of AKIDB_OP_MAP "
                            "(nor of PENDING_OPS)")
        if name in PROBES:
            problems.append(f"{where}: `op: {name}` is a probe, served by grpc.health.v1.Health")
        if rest == PER_MESSAGE:
            if not streaming[rpc]:
                problems.append(f"{where}: `{PER_MESSAGE}` on an rpc that does not stream")
            if name in PENDING_OPS:
                problems.append(f"{where}: `{PER_MESSAGE}` must name an existing operation")
            continue
        performed_by.setdefault(name, []).append(rpc)
    for name in ops:
        if name in PROBES:
            continue
        n = len(performed_by.get(name, []))
        if n != 1:
            problems.append(f"operation {name}: {n} rpcs tagged with it {performed_by.get(name, [])},"
                            " want exactly one")
    for name, rpc in PENDING_OPS.items():
        if performed_by.get(name) != [rpc]:
            problems.append(f"pending operation {name}: performed by {performed_by.get(name)}, "
                            f"PENDING_OPS says {rpc}")
    assert not problems, "\n".join(problems)


def test_every_rpc_names_its_rest_route_and_permission():
    routes = routes_by_op()
    actions = authz_actions()
    problems = []
    for rpc, info in sorted(parse_rpcs().items()):
        where = f"{info['file']}:{info['line']} {rpc}"
        comment = info["comment"]
        name, _, rest = info["tags"][0].partition(" ") if info["tags"] else ("", "", "")
        said = re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) ((?:/|\.\.\.)\S*?)[.,;]?(?:\s|$)", comment)
        if name in routes and rest != PER_MESSAGE:
            method, path = routes[name]
            ok = any(m == method and (path == p or (p.startswith("...") and path.endswith(p[3:])))
                     for m, p in said)
            if not ok:
                problems.append(f"{where}: the comment names {said or 'no route'}; the route of "
                                f"{name} is {method} {path}")
        elif "no REST route" not in comment:
            problems.append(f"{where}: no REST route for {name}: say `no REST route` in the comment")
        if not any(phrase in comment for phrase in NO_CREDENTIAL):
            m = re.search(r"\bActions? ([a-z_]+(?:\.[a-z_]+)?)", comment)
            if not m or m.group(1) not in actions:
                problems.append(f"{where}: the comment names no permission (`Action <name>` of "
                                f"src/auth/authz.c; found {m.group(1) if m else 'none'})")
    assert not problems, "\n".join(problems)


# ------------------------------------------------ (c) messages and vectors --


def test_every_rpc_has_its_own_request_and_existing_messages(stubs):
    inputs = {}
    for s in akidb_services(stubs):
        for m in s.methods:
            for kind, t in (("request", m.input_type), ("response", m.output_type)):
                assert t is not None, f"{m.full_name}: no {kind} message"
                assert t.full_name.startswith("akidb.v1."), (
                    f"{m.full_name}: {kind} {t.full_name} is not an akidb.v1 message")
                pool_t = t.file.pool.FindMessageTypeByName(t.full_name)
                assert pool_t is not None
            inputs.setdefault(m.input_type.full_name, []).append(m.full_name)
    shared = {t: rpcs for t, rpcs in inputs.items() if len(rpcs) > 1}
    assert not shared, f"request messages shared by several rpcs (give each its own): {shared}"


def test_vectors_are_packed_repeated_float(stubs):
    F = stubs.common_pb2.DESCRIPTOR.message_types_by_name["Vector"].fields[0]
    seen = []
    for d in all_messages(stubs):
        assert d.file.syntax == "proto3", f"{d.file.name} is not proto3"
        for f in d.fields:
            is_vector = f.name == "vector" or (d.full_name == "akidb.v1.Vector" and f.name == "values")
            if is_vector:
                seen.append(f"{d.full_name}.{f.name}")
                assert f.type == F.TYPE_FLOAT and f.label == F.LABEL_REPEATED, (
                    f"{d.full_name}.{f.name} must be `repeated float`")
                opts = f.GetOptions()
                assert not (opts.HasField("packed") and not opts.packed), (
                    f"{d.full_name}.{f.name} must not say packed = false")
            elif f.name == "vectors":
                seen.append(f"{d.full_name}.{f.name}")
                assert f.label == F.LABEL_REPEATED and f.message_type is not None and \
                    f.message_type.full_name == "akidb.v1.Vector", (
                        f"{d.full_name}.vectors must be `repeated Vector`")
            elif "vector" in f.name and not f.name.endswith("_column"):
                # a flag (with_vector) or a scalar about the vector side of a
                # hybrid search (vector_rank, vector_weight); never vector data
                assert f.label != F.LABEL_REPEATED and f.type != F.TYPE_MESSAGE and (
                    f.type == F.TYPE_BOOL or f.name.startswith("vector_")), (
                    f"{d.full_name}.{f.name}: a vector field is named `vector` (or `vectors`)")
    for want in ("akidb.v1.PointInput.vector", "akidb.v1.Point.vector", "akidb.v1.Hit.vector",
                 "akidb.v1.SearchRequest.vector", "akidb.v1.SearchRequest.vectors",
                 "akidb.v1.Vector.values"):
        assert want in seen, f"{want} is gone"


def _packed_floats(field_number, values):
    body = struct.pack(f"<{len(values)}f", *values)
    return bytes([field_number << 3 | 2, len(body)]) + body


def test_vectors_travel_packed_on_the_wire(stubs):
    v = [1.5, -2.25, 3.0e-7]
    cases = [
        (stubs.common_pb2.Vector(values=v), "values"),
        (stubs.common_pb2.PointInput(vector=v), "vector"),
        (stubs.common_pb2.Point(vector=v), "vector"),
        (stubs.common_pb2.Hit(vector=v), "vector"),
        (stubs.points_pb2.SearchRequest(vector=v), "vector"),
    ]
    for msg, field in cases:
        number = msg.DESCRIPTOR.fields_by_name[field].number
        assert msg.SerializeToString() == _packed_floats(number, v), (
            f"{msg.DESCRIPTOR.full_name}.{field} is not sent packed")
    # 768 floats: 3,072 bytes of values and a 3-byte header.
    assert stubs.common_pb2.Vector(values=[0.5] * 768).ByteSize() == 3072 + 3


def test_payloads_are_json_text_and_no_well_known_type_is_used(stubs):
    for name, mod in stubs.modules.items():
        if name.endswith("_pb2") and name.startswith("akidb.v1."):
            deps = [d.name for d in mod.DESCRIPTOR.dependencies]
            assert all(d.startswith("akidb/v1/") for d in deps), f"{name} imports {deps}"
    payload_fields = [(d.full_name, f) for d in all_messages(stubs) for f in d.fields
                      if "payload" in f.name and f.name not in ("include_payload", "payload_column")]
    assert payload_fields, "no payload field found"
    for where, f in payload_fields:
        assert f.name == "payload_json" and f.type == f.TYPE_STRING, (
            f"{where}.{f.name}: payloads are JSON text (`string payload_json`), see points.proto")
    # The decision is written down where the points are.
    text = (AKIDB_PROTO_DIR / "points.proto").read_text(encoding="utf-8")
    assert "google.protobuf.Struct" in text and "payload_json" in text


def test_a_point_with_a_large_integer_payload_round_trips_exactly(stubs):
    p = stubs.common_pb2.PointInput(id="doc-1", vector=[0.25] * 768,
                                    payload_json='{"id":9007199254740993,"year":2024}', text="")
    q = stubs.common_pb2.PointInput.FromString(p.SerializeToString())
    assert q.payload_json == '{"id":9007199254740993,"year":2024}'
    assert list(q.vector) == [0.25] * 768
    assert q.HasField("text") and q.text == ""  # presence: an empty text is a text
    assert not stubs.common_pb2.PointInput(id="x").HasField("text")
    s = stubs.points_pb2.SearchRequest(k=5)
    assert not s.HasField("include_payload")  # absent: the default, true
    s.include_payload = False
    assert stubs.points_pb2.SearchRequest.FromString(s.SerializeToString()).HasField("include_payload")
