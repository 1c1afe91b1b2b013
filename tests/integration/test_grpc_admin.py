"""
tests/integration/test_grpc_admin.py — the resource services over gRPC
(src/grpc/codec_admin.c, codec_data.c) against the real server: tenants,
databases, collections, users, API keys, audit, snapshots, uploads and
import, system. Each lifecycle (create → get → list → update → delete) is
read back over gRPC and over REST, which must show the same values; bad
input (missing fields, unknown enum numbers, invalid names, bad pages)
gets the status and message REST gives for the same input (or one naming
the field, where only gRPC can send it) and changes nothing. Then the role
matrix and the tenant-isolation matrix of the REST tests, from the same
tables (access_tables.py), each REST route mapped to its rpc.
Needs python3-grpcio and the stubs of grpc_stubs.py.
"""
import collections
import json

import grpc
import pytest

import client as cl
from conftest import free_port
from access_tables import (CASES, GHOST, GHOST_SLUG, ROLE_NAMES, ROUTES, RoleEnv, allowed, fill,
                           make_pair, normalise, principals, tenant_state)
from client import make_tenant, unique

SC = grpc.StatusCode
# REST error code -> gRPC status (service.h AKIDB_STATUS_MAP)
GRPC_OF_REST = {"invalid_argument": SC.INVALID_ARGUMENT, "not_found": SC.NOT_FOUND,
                "already_exists": SC.ALREADY_EXISTS, "conflict": SC.FAILED_PRECONDITION,
                "permission_denied": SC.PERMISSION_DENIED, "unauthenticated": SC.UNAUTHENTICATED,
                "quota_exceeded": SC.RESOURCE_EXHAUSTED}
LOCAL_HEADER = 8192  # the local object store's header before an object's bytes

Refusal = collections.namedtuple("Refusal", "code details")


# ------------------------------------------------------------ fixtures --

@pytest.fixture(scope="module")
def pb(stubs):
    return stubs



class Rpc:
    """Every service's stub on one channel, and the generated modules."""

    def __init__(self, pb, channel):
        self.pb = pb
        self.tenants = pb.tenants_pb2_grpc.TenantServiceStub(channel)
        self.databases = pb.databases_pb2_grpc.DatabaseServiceStub(channel)
        self.collections = pb.collections_pb2_grpc.CollectionServiceStub(channel)
        self.users = pb.users_pb2_grpc.UserServiceStub(channel)
        self.keys = pb.keys_pb2_grpc.ApiKeyServiceStub(channel)
        self.audit = pb.audit_pb2_grpc.AuditServiceStub(channel)
        self.snapshots = pb.snapshots_pb2_grpc.SnapshotServiceStub(channel)
        self.uploads = pb.uploads_pb2_grpc.UploadServiceStub(channel)
        self.points = pb.points_pb2_grpc.PointServiceStub(channel)
        self.system = pb.system_pb2_grpc.SystemServiceStub(channel)
        self.auth = pb.auth_pb2_grpc.AuthServiceStub(channel)
        self.embeddings = pb.embeddings_pb2_grpc.EmbeddingServiceStub(channel)


@pytest.fixture(scope="module")
def R(pb, channel):
    return Rpc(pb, channel)


@pytest.fixture(scope="module")
def t(server, sysadmin):
    return make_tenant(server, sysadmin)


def md(token):
    return (("authorization", f"Bearer {token}"),) if token else ()


def ok(method, req, token):
    """The answer of a call that must succeed."""
    return method(req, metadata=md(token), timeout=60)


def refused(method, req, token, code=None):
    """A call that must fail: its (code, details), checked against `code`."""
    with pytest.raises(grpc.RpcError) as e:
        method(req, metadata=md(token), timeout=60)
    r = Refusal(e.value.code(), e.value.details())
    if code is not None:
        assert r.code == code, r
    assert r.details, r
    return r


def same_as_rest(r, rest_resp):
    """gRPC refused as REST did: the status of REST's code, the same message."""
    err = cl.error_of(rest_resp)
    assert r.code == GRPC_OF_REST[err["code"]], (r, err)
    assert r.details == err["message"], (r, err)


def page(pb, limit=0, after=""):
    return pb.common_pb2.PageRequest(limit=limit, after=after)


def list_all(method, make, token, pb, limit=1000):
    """Every item of a gRPC list, following `next`."""
    items, after = [], ""
    for _ in range(10000):
        r = ok(method, make(page=page(pb, limit, after)), token)
        items.extend(r.items)
        if not r.next:
            return items
        after = r.next
    raise AssertionError("the list never ended")


def enum_text(pb, enum_name, value, prefix):
    """A contract enum value as REST names it: TENANT_STATUS_ACTIVE -> "active"."""
    enum = getattr(pb.common_pb2, enum_name, None) or getattr(pb.system_pb2, enum_name)
    return enum.Name(value)[len(prefix):].lower()


def null(s):
    return s if s else None


# ---------------------------------------------- gRPC message -> REST JSON --

def tenant_json(pb, m):
    q = m.quotas
    return {"id": m.id, "slug": m.slug, "name": m.name,
            "status": enum_text(pb, "TenantStatus", m.status, "TENANT_STATUS_"),
            "quotas": {"max_memory_bytes": q.max_memory_bytes,
                       "max_storage_bytes": q.max_storage_bytes, "max_qps": q.max_qps,
                       "max_collections": q.max_collections},
            "created_at": m.created_at, "updated_at": m.updated_at}


def database_json(pb, m):
    return {"id": m.id, "tenant": m.tenant, "name": m.name,
            "state": enum_text(pb, "DatabaseState", m.state, "DATABASE_STATE_"),
            "created_at": m.created_at, "updated_at": m.updated_at}


VOLATILE = {"memory_bytes", "disk_bytes", "pending", "last_access"}


def collection_json(pb, m, volatile=False):
    o = {"id": m.id, "tenant": m.tenant, "database": m.database, "name": m.name,
         "dimension": m.dimension, "metric": enum_text(pb, "Metric", m.metric, "METRIC_"),
         "index": {"m": m.index.m, "ef_construction": m.index.ef_construction,
                   "ef_search": m.index.ef_search},
         "text": {"k1": m.text.k1, "b": m.text.b},
         "embedding": None if not m.HasField("embedding") else embedding_json(m.embedding),
         "tier": enum_text(pb, "Tier", m.tier, "TIER_"), "tier_pinned": m.tier_pinned,
         "resident": m.resident, "points": m.points, "pending": m.pending,
         "memory_bytes": m.memory_bytes, "disk_bytes": m.disk_bytes,
         "last_access": null(m.last_access), "created_at": m.created_at,
         "updated_at": m.updated_at}
    if m.load_error:
        o["load_error"] = m.load_error
    return o if volatile else stable(o)


def embedding_json(e):
    if e.provider == "builtin":
        return {"provider": e.provider, "model": e.model, "dimension": e.dimension}
    o = {f.name: getattr(e, f.name) for f in e.DESCRIPTOR.fields}
    return {k: v for k, v in o.items() if v != "" or k in ("provider", "model", "base_url")}


def stable(o):
    return {k: v for k, v in o.items() if k not in VOLATILE}


def user_json(pb, m):
    return {"id": m.id, "tenant": null(m.tenant), "username": m.username,
            "role": enum_text(pb, "Role", m.role, "ROLE_").replace("_", "-"),
            "status": enum_text(pb, "UserStatus", m.status, "USER_STATUS_"),
            "has_password": m.has_password, "created_at": m.created_at,
            "updated_at": m.updated_at}


def key_json(m):
    return {"id": m.id, "name": m.name, "prefix": m.prefix, "user": m.user,
            "created_at": m.created_at, "expires_at": null(m.expires_at),
            "last_used_at": null(m.last_used_at), "revoked_at": null(m.revoked_at)}


def audit_json(pb, m):
    return {"seq": m.seq, "time": m.time, "actor": m.actor, "actor_id": null(m.actor_id),
            "tenant": null(m.tenant), "action": m.action, "target": m.target,
            "outcome": enum_text(pb, "AuditOutcome", m.outcome, "AUDIT_OUTCOME_"),
            "request_id": m.request_id, "details": json.loads(m.details_json)}


def snapshot_json(pb, m):
    o = {"id": m.id, "tenant": m.tenant, "database": m.database, "collection": m.collection,
         "collection_id": m.collection_id,
         "state": enum_text(pb, "SnapshotState", m.state, "SNAPSHOT_STATE_"), "points": m.points,
         "log_seq": m.log_seq, "bytes": m.bytes, "created_at": m.created_at,
         "updated_at": m.updated_at}
    if m.error:
        o["error"] = m.error
    return o


# ------------------------------------------------------------- tenants --

def test_tenant_lifecycle_read_back_over_grpc_and_rest(pb, R, sysadmin):
    tp, token = pb.tenants_pb2, sysadmin.token
    slug = unique("gt")
    made = ok(R.tenants.CreateTenant, tp.CreateTenantRequest(
        slug=slug, name="Grpc Tenant", status=pb.common_pb2.TENANT_STATUS_PROVISIONING,
        quotas=pb.common_pb2.QuotasInput(max_qps=50, max_collections=0)), token)
    assert (made.slug, made.name, made.status) == (slug, "Grpc Tenant",
                                                     pb.common_pb2.TENANT_STATUS_PROVISIONING)
    assert (made.quotas.max_qps, made.quotas.max_collections, made.quotas.max_memory_bytes) == \
        (50, 0, 0)
    got = ok(R.tenants.GetTenant, tp.GetTenantRequest(tenant=slug), token)
    assert got == made
    rest = sysadmin.call("GET", f"/v1/tenants/{slug}")
    assert tenant_json(pb, got) == rest
    listed = list_all(R.tenants.ListTenants, tp.ListTenantsRequest, token, pb)
    assert [tenant_json(pb, x) for x in listed] == sysadmin.list_all("/v1/tenants")
    assert [x for x in listed if x.slug == slug] == [made]

    # update: name, status, one quota (the others keep their value)
    upd = ok(R.tenants.UpdateTenant, tp.UpdateTenantRequest(
        tenant=slug, name="Renamed", status=pb.common_pb2.TENANT_STATUS_ACTIVE,
        quotas=pb.common_pb2.QuotasInput(max_memory_bytes=1 << 30)), token)
    assert (upd.name, upd.status) == ("Renamed", pb.common_pb2.TENANT_STATUS_ACTIVE)
    assert (upd.quotas.max_memory_bytes, upd.quotas.max_qps) == (1 << 30, 50)
    assert tenant_json(pb, upd) == sysadmin.call("GET", f"/v1/tenants/{slug}")
    # a quota set to 0 over gRPC (present in its oneof) is set, not ignored
    upd = ok(R.tenants.UpdateTenant, tp.UpdateTenantRequest(
        tenant=slug, quotas=pb.common_pb2.QuotasInput(max_qps=0)), token)
    assert (upd.name, upd.quotas.max_qps, upd.quotas.max_memory_bytes) == ("Renamed", 0, 1 << 30)
    # REST's change is what gRPC reads
    sysadmin.call("PATCH", f"/v1/tenants/{slug}", {"name": "From REST"})
    assert ok(R.tenants.GetTenant, tp.GetTenantRequest(tenant=slug), token).name == "From REST"

    assert ok(R.tenants.DeleteTenant, tp.DeleteTenantRequest(tenant=slug), token) == \
        tp.DeleteTenantResponse()
    r = refused(R.tenants.GetTenant, tp.GetTenantRequest(tenant=slug), token, SC.NOT_FOUND)
    same_as_rest(r, sysadmin.get(f"/v1/tenants/{slug}"))
    r = refused(R.tenants.DeleteTenant, tp.DeleteTenantRequest(tenant=slug), token,
                SC.NOT_FOUND)


def test_tenant_bad_input_refused_as_rest_and_nothing_changes(pb, R, sysadmin, t):
    tp, token, C = pb.tenants_pb2, sysadmin.token, pb.common_pb2
    before = sysadmin.list_all("/v1/tenants")
    slug = unique("gb")
    cases = [  # (gRPC request, the same input over REST)
        (tp.CreateTenantRequest(name="x"), {"name": "x"}),
        (tp.CreateTenantRequest(slug="Bad Slug", name="x"), {"slug": "Bad Slug", "name": "x"}),
        (tp.CreateTenantRequest(slug=slug, name="x\x01"), {"slug": slug, "name": "x\x01"}),
        (tp.CreateTenantRequest(slug=slug, name="x", status=C.TENANT_STATUS_SUSPENDED),
         {"slug": slug, "name": "x", "status": "suspended"}),
        (tp.CreateTenantRequest(slug=slug, name="x", quotas=C.QuotasInput(max_qps=10000001)),
         {"slug": slug, "name": "x", "quotas": {"max_qps": 10000001}}),
        (tp.CreateTenantRequest(slug=slug, name="x",
                                quotas=C.QuotasInput(max_storage_bytes=1 << 63)),
         # REST cannot parse 2^63: its message for -1 is the same range
         {"slug": slug, "name": "x", "quotas": {"max_storage_bytes": -1}}),
        (tp.CreateTenantRequest(slug=slug, name="x",
                                quotas=C.QuotasInput(max_collections=1000001)),
         {"slug": slug, "name": "x", "quotas": {"max_collections": 1000001}}),
        (tp.CreateTenantRequest(slug=t.slug, name="dup"), {"slug": t.slug, "name": "dup"}),
    ]
    for req, body in cases:
        r = refused(R.tenants.CreateTenant, req, token)
        same_as_rest(r, sysadmin.post("/v1/tenants", body))
    assert refused(R.tenants.CreateTenant, cases[-1][0], token).code == SC.ALREADY_EXISTS
    # an unknown enum number: named field and values
    r = refused(R.tenants.CreateTenant, tp.CreateTenantRequest(slug=slug, name="x", status=9),
                token, SC.INVALID_ARGUMENT)
    assert "'status'" in r.details and "TENANT_STATUS_ACTIVE" in r.details and "9" in r.details
    # no credential, a tenant's admin
    req = tp.CreateTenantRequest(slug=slug, name="x")
    refused(R.tenants.CreateTenant, req, None, SC.UNAUTHENTICATED)
    refused(R.tenants.CreateTenant, req, "as_nope_nope", SC.UNAUTHENTICATED)
    same_as_rest(refused(R.tenants.CreateTenant, req, t.admin.token),
                 t.admin.post("/v1/tenants", {"slug": slug, "name": "x"}))
    refused(R.tenants.ListTenants, tp.ListTenantsRequest(), t.viewer.token, SC.PERMISSION_DENIED)
    assert sysadmin.list_all("/v1/tenants") == before

    # updates of tenant t
    mine = sysadmin.call("GET", t.path)
    updates = [
        (tp.UpdateTenantRequest(tenant=t.slug), {}),
        (tp.UpdateTenantRequest(tenant=t.slug, name=""), {"name": ""}),
        (tp.UpdateTenantRequest(tenant=t.slug, status=C.TENANT_STATUS_PROVISIONING),
         {"status": "provisioning"}),
        (tp.UpdateTenantRequest(tenant=t.slug, quotas=C.QuotasInput(max_qps=10 ** 8)),
         {"quotas": {"max_qps": 10 ** 8}}),
        (tp.UpdateTenantRequest(tenant="Bad Slug", name="n"), None),
        (tp.UpdateTenantRequest(tenant=GHOST_SLUG, name="n"), None),
    ]
    for req, body in updates:
        r = refused(R.tenants.UpdateTenant, req, token)
        path = f"/v1/tenants/{req.tenant}"
        same_as_rest(r, sysadmin.patch(path, body if body is not None else {"name": "n"}))
    assert refused(R.tenants.UpdateTenant, updates[2][0], token).code == SC.FAILED_PRECONDITION
    r = refused(R.tenants.UpdateTenant, tp.UpdateTenantRequest(tenant=t.slug, status=-3), token,
                SC.INVALID_ARGUMENT)
    assert "'status'" in r.details and "TENANT_STATUS_SUSPENDED" in r.details
    same_as_rest(refused(R.tenants.UpdateTenant,
                         tp.UpdateTenantRequest(tenant=t.slug, name="hijack"), t.admin.token),
                 t.admin.patch(t.path, {"name": "hijack"}))
    assert sysadmin.call("GET", t.path) == mine


# ----------------------------------------------------------- databases --

def test_database_lifecycle_read_back_over_grpc_and_rest(pb, R, t):
    dp, token = pb.databases_pb2, t.developer.token
    name = unique("gdb")
    made = ok(R.databases.CreateDatabase, dp.CreateDatabaseRequest(tenant=t.slug, name=name),
              token)
    assert (made.tenant, made.name, made.state) == (t.slug, name,
                                                     pb.common_pb2.DATABASE_STATE_READY)
    got = ok(R.databases.GetDatabase, dp.GetDatabaseRequest(tenant=t.slug, database=name),
             t.viewer.token)
    assert got == made
    assert database_json(pb, got) == t.viewer.call("GET", t.db_path(name))
    rest_db = t.create_db()
    listed = list_all(R.databases.ListDatabases,
                      lambda page: dp.ListDatabasesRequest(tenant=t.slug, page=page), token, pb)
    assert [database_json(pb, x) for x in listed] == t.admin.list_all(f"{t.path}/databases")
    assert {name, rest_db} <= {x.name for x in listed}
    # paging: one at a time gives the same list
    one = list_all(R.databases.ListDatabases,
                   lambda page: dp.ListDatabasesRequest(tenant=t.slug, page=page), token, pb,
                   limit=1)
    assert one == listed
    assert ok(R.databases.DeleteDatabase, dp.DeleteDatabaseRequest(tenant=t.slug, database=name),
              token) == dp.DeleteDatabaseResponse()
    r = refused(R.databases.GetDatabase, dp.GetDatabaseRequest(tenant=t.slug, database=name),
                token, SC.NOT_FOUND)
    same_as_rest(r, t.admin.get(t.db_path(name)))
    assert name not in {x["name"] for x in t.admin.list_all(f"{t.path}/databases")}


def test_database_bad_input_refused_as_rest_and_nothing_changes(pb, R, t):
    dp, token = pb.databases_pb2, t.admin.token
    existing = t.create_db()
    before = t.admin.list_all(f"{t.path}/databases")
    for name, body in (("", {}), ("-bad", {"name": "-bad"}), ("x" * 64, {"name": "x" * 64}),
                       (existing, {"name": existing})):
        r = refused(R.databases.CreateDatabase, dp.CreateDatabaseRequest(tenant=t.slug, name=name),
                    token)
        same_as_rest(r, t.admin.post(f"{t.path}/databases", body))
    assert refused(R.databases.CreateDatabase,
                   dp.CreateDatabaseRequest(tenant=t.slug, name=existing), token).code == \
        SC.ALREADY_EXISTS
    # no tenant at all: the slug check's message
    r = refused(R.databases.CreateDatabase, dp.CreateDatabaseRequest(name="x"), token,
                SC.INVALID_ARGUMENT)
    assert "tenant" in r.details
    refused(R.databases.CreateDatabase, dp.CreateDatabaseRequest(tenant=t.slug, name="okname"),
            t.viewer.token, SC.PERMISSION_DENIED)
    for bad in (page(pb, limit=1001), page(pb, after="not-a-cursor")):
        r = refused(R.databases.ListDatabases, dp.ListDatabasesRequest(tenant=t.slug, page=bad),
                    token, SC.INVALID_ARGUMENT)
        assert "page." in r.details
    assert t.admin.list_all(f"{t.path}/databases") == before


# --------------------------------------------------------- collections --

def test_collection_lifecycle_read_back_over_grpc_and_rest(pb, R, t):
    cp, C, token = pb.collections_pb2, pb.common_pb2, t.developer.token
    db = t.create_db()
    name = unique("gc")
    made = ok(R.collections.CreateCollection, cp.CreateCollectionRequest(
        tenant=t.slug, database=db, name=name, dimension=3, metric=C.METRIC_L2,
        index=cp.IndexParamsInput(m=8, ef_construction=64, ef_search=32)), token)
    assert (made.name, made.dimension, made.metric) == (name, 3, C.METRIC_L2)
    assert (made.index.m, made.index.ef_construction, made.index.ef_search) == (8, 64, 32)
    path = t.coll_path(db, name)
    assert collection_json(pb, made) == stable(t.viewer.call("GET", path))
    # defaults: cosine, the default index
    dflt = ok(R.collections.CreateCollection, cp.CreateCollectionRequest(
        tenant=t.slug, database=db, name=unique("gc"), dimension=5), token)
    rest_dflt = t.create_collection(db, dimension=5, metric="cosine")
    assert dflt.metric == C.METRIC_COSINE
    assert collection_json(pb, dflt)["index"] == rest_dflt["index"]

    t.upsert(db, name, [{"id": "a", "vector": [1, 2, 3]}, {"id": "b", "vector": [3, 2, 1]}])
    got = ok(R.collections.GetCollection, cp.GetCollectionRequest(
        tenant=t.slug, database=db, collection=name), t.viewer.token)
    assert got.points == 2 and got.resident and got.tier == C.TIER_HOT
    assert collection_json(pb, got) == stable(t.viewer.call("GET", path))
    listed = list_all(R.collections.ListCollections, lambda page: cp.ListCollectionsRequest(
        tenant=t.slug, database=db, page=page), token, pb, limit=2)
    assert [collection_json(pb, x) for x in listed] == \
        [stable(x) for x in t.admin.list_all(f"{t.db_path(db)}/collections")]
    assert len(listed) == 3

    # update: ef_search; then pin it warm; then unpin (tier absent: unchanged)
    upd = ok(R.collections.UpdateCollection, cp.UpdateCollectionRequest(
        tenant=t.slug, database=db, collection=name, index=cp.IndexParamsPatch(ef_search=77)),
        token)
    assert (upd.index.ef_search, upd.tier_pinned) == (77, False)
    upd = ok(R.collections.UpdateCollection, cp.UpdateCollectionRequest(
        tenant=t.slug, database=db, collection=name, tier=C.TIER_WARM, tier_pinned=True), token)
    assert (upd.tier, upd.tier_pinned, upd.resident) == (C.TIER_WARM, True, False)
    rest = t.viewer.call("GET", path)
    assert (rest["tier"], rest["tier_pinned"], rest["index"]["ef_search"]) == ("warm", True, 77)
    upd = ok(R.collections.UpdateCollection, cp.UpdateCollectionRequest(
        tenant=t.slug, database=db, collection=name, tier_pinned=False), token)
    assert upd.tier_pinned is False
    assert t.viewer.call("GET", path)["tier_pinned"] is False
    assert t.count(db, name) == 2  # the data survived the move

    assert ok(R.collections.DeleteCollection, cp.DeleteCollectionRequest(
        tenant=t.slug, database=db, collection=name), token) == cp.DeleteCollectionResponse()
    r = refused(R.collections.GetCollection, cp.GetCollectionRequest(
        tenant=t.slug, database=db, collection=name), token, SC.NOT_FOUND)
    same_as_rest(r, t.admin.get(path))


def test_collection_bad_input_refused_as_rest_and_nothing_changes(pb, R, t):
    cp, token = pb.collections_pb2, t.admin.token
    db = t.create_db()
    existing = t.create_collection(db, dimension=4)["name"]
    lst = f"{t.db_path(db)}/collections"
    before = [stable(x) for x in t.admin.list_all(lst)]

    def create(**kw):
        return cp.CreateCollectionRequest(tenant=t.slug, database=db, **kw)

    n = unique("gc")
    cases = [
        (create(name=n), {"name": n}),
        (create(dimension=4), {"dimension": 4}),
        (create(name=n, dimension=70000), {"name": n, "dimension": 70000}),
        (create(name="bad name", dimension=4), {"name": "bad name", "dimension": 4}),
        (create(name=n, dimension=4, index=cp.IndexParamsInput(m=1)),
         {"name": n, "dimension": 4, "index": {"m": 1}}),
        (create(name=n, dimension=4, index=cp.IndexParamsInput(ef_construction=5000)),
         {"name": n, "dimension": 4, "index": {"ef_construction": 5000}}),
        (create(name=n, dimension=4, index=cp.IndexParamsInput(ef_search=10 ** 6)),
         {"name": n, "dimension": 4, "index": {"ef_search": 10 ** 6}}),
        (create(name=n, dimension=4, index=cp.IndexParamsInput(m=50, ef_construction=20)),
         {"name": n, "dimension": 4, "index": {"m": 50, "ef_construction": 20}}),
        (create(name=existing, dimension=4), {"name": existing, "dimension": 4}),
    ]
    for req, body in cases:
        same_as_rest(refused(R.collections.CreateCollection, req, token), t.admin.post(lst, body))
    r = refused(R.collections.CreateCollection, create(name=n, dimension=4, metric=4), token,
                SC.INVALID_ARGUMENT)
    assert "'metric'" in r.details and "METRIC_COSINE" in r.details and "METRIC_DOT" in r.details
    same_as_rest(refused(R.collections.CreateCollection,
                         cp.CreateCollectionRequest(tenant=t.slug, database="nodb", name=n,
                                                    dimension=4), token),
                 t.admin.post(f"{t.db_path('nodb')}/collections", {"name": n, "dimension": 4}))

    def update(**kw):
        return cp.UpdateCollectionRequest(tenant=t.slug, database=db, collection=existing, **kw)

    path = t.coll_path(db, existing)
    updates = [
        (update(), {}),
        (update(index=cp.IndexParamsPatch()), {"index": {"ef_search": 0}}),
        (update(index=cp.IndexParamsPatch(ef_search=10 ** 6)), {"index": {"ef_search": 10 ** 6}}),
    ]
    for req, body in updates:
        same_as_rest(refused(R.collections.UpdateCollection, req, token), t.admin.patch(path, body))
    r = refused(R.collections.UpdateCollection, update(tier=9), token, SC.INVALID_ARGUMENT)
    assert "'tier'" in r.details and "TIER_COLD" in r.details
    same_as_rest(refused(R.collections.UpdateCollection,
                         update(index=cp.IndexParamsPatch(ef_search=40)), t.viewer.token),
                 t.viewer.patch(path, {"index": {"ef_search": 40}}))
    same_as_rest(refused(R.collections.DeleteCollection, cp.DeleteCollectionRequest(
        tenant=t.slug, database=db, collection="ghost"), token),
        t.admin.delete(t.coll_path(db, "ghost")))
    assert [stable(x) for x in t.admin.list_all(lst)] == before


# --------------------------------------------------------------- users --

def test_user_lifecycle_read_back_over_grpc_and_rest(pb, R, t):
    up, C, token = pb.users_pb2, pb.common_pb2, t.admin.token
    name, pw = unique("gu"), cl.new_password()
    made = ok(R.users.CreateUser, up.CreateUserRequest(tenant=t.slug, username=name,
                                                       role=C.ROLE_DEVELOPER, password=pw), token)
    assert (made.username, made.tenant, made.role, made.status, made.has_password) == \
        (name, t.slug, C.ROLE_DEVELOPER, C.USER_STATUS_ACTIVE, True)
    nopw = ok(R.users.CreateUser, up.CreateUserRequest(tenant=t.slug, username=unique("gk"),
                                                       role=C.ROLE_VIEWER), token)
    assert nopw.has_password is False  # an empty password is none (API keys only)
    got = ok(R.users.GetUser, up.GetUserRequest(tenant=t.slug, username=name), token)
    assert got == made
    assert user_json(pb, got) == t.admin.call("GET", f"{t.path}/users/{name}")
    listed = list_all(R.users.ListUsers, lambda page: up.ListUsersRequest(tenant=t.slug, page=page),
                      token, pb, limit=3)
    assert [user_json(pb, x) for x in listed] == t.admin.list_all(f"{t.path}/users")
    assert {name, nopw.username} <= {x.username for x in listed}

    # the new user logs in (REST) and reads itself over gRPC
    me = t.login(name, pw)
    assert ok(R.users.GetUser, up.GetUserRequest(tenant=t.slug, username=name), me.token) == made
    # update role, then password (only the password given), then status
    upd = ok(R.users.UpdateUser, up.UpdateUserRequest(tenant=t.slug, username=name,
                                                      role=C.ROLE_VIEWER), token)
    assert (upd.role, upd.status) == (C.ROLE_VIEWER, C.USER_STATUS_ACTIVE)
    pw2 = cl.new_password()
    ok(R.users.UpdateUser, up.UpdateUserRequest(tenant=t.slug, username=name, password=pw2), token)
    me = t.login(name, pw2)  # the new password works
    upd = ok(R.users.UpdateUser, up.UpdateUserRequest(tenant=t.slug, username=name,
                                                      status=C.USER_STATUS_DISABLED), token)
    assert (upd.role, upd.status) == (C.ROLE_VIEWER, C.USER_STATUS_DISABLED)
    rest = t.admin.call("GET", f"{t.path}/users/{name}")
    assert (rest["role"], rest["status"]) == ("viewer", "disabled")
    assert user_json(pb, upd) == rest
    # a disabled user's session no longer works, on either transport
    refused(R.auth.WhoAmI, pb.auth_pb2.WhoAmIRequest(), me.token, SC.UNAUTHENTICATED)
    cl.expect(me.get("/v1/auth/whoami"), 401, "unauthenticated")

    assert ok(R.users.DeleteUser, up.DeleteUserRequest(tenant=t.slug, username=name), token) == \
        up.DeleteUserResponse()
    r = refused(R.users.GetUser, up.GetUserRequest(tenant=t.slug, username=name), token,
                SC.NOT_FOUND)
    same_as_rest(r, t.admin.get(f"{t.path}/users/{name}"))


def test_user_bad_input_refused_as_rest_and_nothing_changes(pb, R, t):
    up, C, token = pb.users_pb2, pb.common_pb2, t.admin.token
    victim = t.users["viewer"]["username"]
    before = t.admin.list_all(f"{t.path}/users")
    n, pw = unique("gu"), cl.new_password()
    cases = [
        (up.CreateUserRequest(tenant=t.slug, username=n, password=pw),
         {"username": n, "password": pw}),
        (up.CreateUserRequest(tenant=t.slug, role=C.ROLE_VIEWER), {"role": "viewer"}),
        (up.CreateUserRequest(tenant=t.slug, username=n, role=C.ROLE_SYSTEM_ADMIN, password=pw),
         {"username": n, "role": "system-admin", "password": pw}),
        (up.CreateUserRequest(tenant=t.slug, username="Bad Name", role=C.ROLE_VIEWER),
         {"username": "Bad Name", "role": "viewer"}),
        (up.CreateUserRequest(tenant=t.slug, username=n, role=C.ROLE_VIEWER, password="short"),
         {"username": n, "role": "viewer", "password": "short"}),
        (up.CreateUserRequest(tenant=t.slug, username=victim, role=C.ROLE_VIEWER),
         {"username": victim, "role": "viewer"}),
    ]
    for req, body in cases:
        same_as_rest(refused(R.users.CreateUser, req, token), t.admin.post(f"{t.path}/users", body))
    assert refused(R.users.CreateUser, cases[-1][0], token).code == SC.ALREADY_EXISTS
    r = refused(R.users.CreateUser, up.CreateUserRequest(tenant=t.slug, username=n, role=42),
                token, SC.INVALID_ARGUMENT)
    assert "'role'" in r.details and "ROLE_AUDITOR" in r.details and "42" in r.details
    same_as_rest(refused(R.users.CreateUser, up.CreateUserRequest(
        tenant=t.slug, username=n, role=C.ROLE_VIEWER, password=pw), t.developer.token),
        t.developer.post(f"{t.path}/users", {"username": n, "role": "viewer", "password": pw}))

    path = f"{t.path}/users/{victim}"
    updates = [
        (up.UpdateUserRequest(tenant=t.slug, username=victim), {}),
        (up.UpdateUserRequest(tenant=t.slug, username=victim, password=""), {"password": ""}),
        (up.UpdateUserRequest(tenant=t.slug, username=victim, role=C.ROLE_SYSTEM_ADMIN),
         {"role": "system-admin"}),
        (up.UpdateUserRequest(tenant=t.slug, username="ghost", role=C.ROLE_ADMIN), None),
    ]
    for req, body in updates:
        rest = t.admin.patch(f"{t.path}/users/{req.username}", body if body is not None
                             else {"role": "admin"})
        same_as_rest(refused(R.users.UpdateUser, req, token), rest)
    r = refused(R.users.UpdateUser, up.UpdateUserRequest(tenant=t.slug, username=victim,
                                                         status=3), token, SC.INVALID_ARGUMENT)
    assert "'status'" in r.details and "USER_STATUS_DISABLED" in r.details
    same_as_rest(refused(R.users.UpdateUser, up.UpdateUserRequest(
        tenant=t.slug, username=victim, role=C.ROLE_ADMIN), t.developer.token),
        t.developer.patch(path, {"role": "admin"}))
    assert t.admin.list_all(f"{t.path}/users") == before


# ------------------------------------------------------------ API keys --

def test_api_key_lifecycle_read_back_over_grpc_and_rest(pb, R, t):
    kp, token = pb.keys_pb2, t.developer.token
    me = t.users["developer"]["username"]
    made = ok(R.keys.CreateApiKey, kp.CreateApiKeyRequest(
        tenant=t.slug, username=me, name="grpc-key", expires_at="2099-01-02T03:04:05Z"), token)
    assert made.secret.startswith(f"ak_{made.key.prefix}_")
    assert (made.key.name, made.key.user, made.key.expires_at, made.key.revoked_at) == \
        ("grpc-key", me, "2099-01-02T03:04:05.000Z", "")
    rest_keys = {k["id"]: k for k in t.developer.list_all(f"{t.path}/users/{me}/keys")}
    assert key_json(made.key) == rest_keys[made.key.id]
    # the secret is a credential on both transports
    who = ok(R.auth.WhoAmI, pb.auth_pb2.WhoAmIRequest(), made.secret)
    assert who.user.username == me and who.credential == pb.auth_pb2.CREDENTIAL_API_KEY
    assert t.developer.with_token(made.secret).whoami()["credential"] == "api_key"
    listed = list_all(R.keys.ListApiKeys, lambda page: kp.ListApiKeysRequest(
        tenant=t.slug, username=me, page=page), token, pb, limit=1)
    assert [key_json(k) for k in listed] == t.developer.list_all(f"{t.path}/users/{me}/keys")
    assert made.key.id in {k.id for k in listed}

    assert ok(R.keys.RevokeApiKey, kp.RevokeApiKeyRequest(
        tenant=t.slug, username=me, key_id=made.key.id), token) == kp.RevokeApiKeyResponse()
    refused(R.auth.WhoAmI, pb.auth_pb2.WhoAmIRequest(), made.secret, SC.UNAUTHENTICATED)
    after = {k.id: k for k in list_all(R.keys.ListApiKeys, lambda page: kp.ListApiKeysRequest(
        tenant=t.slug, username=me, page=page), token, pb)}
    assert after[made.key.id].revoked_at  # the record stays, revoked
    assert key_json(after[made.key.id]) == \
        {k["id"]: k for k in t.developer.list_all(f"{t.path}/users/{me}/keys")}[made.key.id]


def test_api_key_bad_input_refused_as_rest_and_nothing_changes(pb, R, t):
    kp, token = pb.keys_pb2, t.admin.token
    me = t.users["admin"]["username"]
    keys = f"{t.path}/users/{me}/keys"
    before = t.admin.list_all(keys)
    for req, body in (
            (kp.CreateApiKeyRequest(tenant=t.slug, username=me), {}),
            (kp.CreateApiKeyRequest(tenant=t.slug, username=me, name="k", expires_at="tomorrow"),
             {"name": "k", "expires_at": "tomorrow"}),
            (kp.CreateApiKeyRequest(tenant=t.slug, username=me, name="k",
                                    expires_at="2001-01-01T00:00:00Z"),
             {"name": "k", "expires_at": "2001-01-01T00:00:00Z"}),
            (kp.CreateApiKeyRequest(tenant=t.slug, username=me, name="\x07"), {"name": "\x07"}),
    ):
        same_as_rest(refused(R.keys.CreateApiKey, req, token), t.admin.post(keys, body))
    for key_id in ("not-a-uuid", GHOST["key"]):
        same_as_rest(refused(R.keys.RevokeApiKey, kp.RevokeApiKeyRequest(
            tenant=t.slug, username=me, key_id=key_id), token), t.admin.delete(f"{keys}/{key_id}"))
    # another user's key is not found under this user
    other = t.users["viewer"]["username"]
    theirs = t.viewer.call("POST", f"{t.path}/users/{other}/keys", {"name": "v"}, status=201)
    same_as_rest(refused(R.keys.RevokeApiKey, kp.RevokeApiKeyRequest(
        tenant=t.slug, username=me, key_id=theirs["key"]["id"]), token, SC.NOT_FOUND),
        t.admin.delete(f"{keys}/{theirs['key']['id']}"))
    # a viewer may not revoke the admin's key
    same_as_rest(refused(R.keys.ListApiKeys, kp.ListApiKeysRequest(tenant=t.slug, username=me),
                         t.viewer.token, SC.PERMISSION_DENIED), t.viewer.get(keys))
    assert t.admin.list_all(keys) == before
    assert t.viewer.with_token(theirs["secret"]).whoami()["user"]["username"] == other


# --------------------------------------------------------------- audit --

def test_audit_filters_pages_and_orders_as_rest(pb, R, t, sysadmin):
    ap, A = pb.audit_pb2, pb.audit_pb2
    for _ in range(3):
        t.create_db()
    flt = ap.AuditFilter(action="database.create")
    entries = list_all(R.audit.ListTenantAudit, lambda page: ap.ListTenantAuditRequest(
        tenant=t.slug, filter=flt, page=page), t.auditor.token, pb, limit=2)
    rest = t.auditor.list_all(f"{t.path}/audit", limit=2, params={"action": "database.create"})
    assert [audit_json(pb, x) for x in entries] == rest
    assert len(entries) >= 3 and {x.action for x in entries} == {"database.create"}
    assert all(x.tenant == t.slug and x.outcome == pb.common_pb2.AUDIT_OUTCOME_SUCCESS
               for x in entries)
    # newest first, a time window, an actor
    newest = ok(R.audit.ListTenantAudit, ap.ListTenantAuditRequest(
        tenant=t.slug, filter=ap.AuditFilter(action="database.create",
                                             order=A.AUDIT_ORDER_NEWEST)), t.admin.token)
    assert [x.seq for x in newest.items] == sorted((x.seq for x in entries), reverse=True)
    win = ok(R.audit.ListTenantAudit, ap.ListTenantAuditRequest(
        tenant=t.slug, filter=audit_filter(ap, actor=t.users["admin"]["username"],
                                           since=entries[1].time, to="2999-01-01T00:00:00Z",
                                           action="database.create")), t.admin.token)
    assert [x.seq for x in win.items] == [x.seq for x in entries[1:]]
    # the whole log (system admin): tenants by id, the same as REST's first page
    all_ = ok(R.audit.ListAudit, ap.ListAuditRequest(filter=flt, page=page(pb, 5)),
              sysadmin.token)
    rest_all = sysadmin.call("GET", "/v1/audit", params={"action": "database.create",
                                                          "limit": 5})
    assert [audit_json(pb, x) for x in all_.items] == rest_all["items"]
    assert all_.next == (rest_all["next"] or "")


def audit_filter(ap, since="", **kw):
    """An AuditFilter with `from` (a Python keyword) set to `since`."""
    f = ap.AuditFilter(**kw)
    setattr(f, "from", since)
    return f


def test_audit_bad_input_refused(pb, R, t, sysadmin):
    ap = pb.audit_pb2
    bad = [
        (audit_filter(ap, action="nope"), "filter.action"),
        (audit_filter(ap, since="yesterday"), "filter.from"),
        (audit_filter(ap, to="2020-13-45T00:00:00Z"), "filter.to"),
        (audit_filter(ap, order=7), "filter.order"),
    ]
    for f, field in bad:
        r = refused(R.audit.ListTenantAudit, ap.ListTenantAuditRequest(tenant=t.slug, filter=f),
                    t.admin.token, SC.INVALID_ARGUMENT)
        assert f"'{field}'" in r.details, r
    assert "AUDIT_ORDER_NEWEST" in r.details
    for p in (page(pb, after="abc"), page(pb, after="0"), page(pb, limit=1001)):
        r = refused(R.audit.ListAudit, ap.ListAuditRequest(page=p), sysadmin.token,
                    SC.INVALID_ARGUMENT)
        assert "'page." in r.details
    # to before from: the service's check, as REST
    r = refused(R.audit.ListTenantAudit, ap.ListTenantAuditRequest(
        tenant=t.slug, filter=audit_filter(ap, since="2030-01-01T00:00:00Z",
                                           to="2020-01-01T00:00:00Z")), t.admin.token)
    same_as_rest(r, t.admin.get(f"{t.path}/audit", params={"from": "2030-01-01T00:00:00Z",
                                                            "to": "2020-01-01T00:00:00Z"}))
    same_as_rest(refused(R.audit.ListAudit, ap.ListAuditRequest(), t.admin.token,
                         SC.PERMISSION_DENIED), t.admin.get("/v1/audit"))


# ----------------------------------------------------------- snapshots --

def seeded_collection(t, n=40, dim=4):
    db = t.create_db()
    coll = t.create_collection(db, dimension=dim, metric="l2")["name"]
    t.upsert(db, coll, [{"id": f"p{i}", "vector": [float(i), 1.0, 2.0, 3.0][:dim],
                         "payload": {"n": i}, **({"text": f"t{i}"} if i % 2 else {})}
                        for i in range(n)])
    return db, coll


def test_snapshot_lifecycle_read_back_over_grpc_and_rest(pb, R, t):
    sp, token = pb.snapshots_pb2, t.developer.token
    db, coll = seeded_collection(t)
    made = ok(R.snapshots.CreateSnapshot, sp.CreateSnapshotRequest(
        tenant=t.slug, database=db, collection=coll), token)
    assert (made.state, made.points, made.database, made.collection, made.tenant) == \
        (pb.common_pb2.SNAPSHOT_STATE_READY, 40, db, coll, t.slug)
    got = ok(R.snapshots.GetSnapshot, sp.GetSnapshotRequest(tenant=t.slug, snapshot=made.id),
             t.viewer.token)
    assert got == made
    assert snapshot_json(pb, got) == t.viewer.call("GET", f"{t.path}/snapshots/{made.id}")
    rest_made = t.admin.call("POST", f"{t.coll_path(db, coll)}/snapshots", status=201)
    per_coll = list_all(R.snapshots.ListCollectionSnapshots,
                        lambda page: sp.ListCollectionSnapshotsRequest(
                            tenant=t.slug, database=db, collection=coll, page=page), token, pb,
                        limit=1)
    assert [x.id for x in per_coll] == [made.id, rest_made["id"]]
    assert [snapshot_json(pb, x) for x in per_coll] == \
        t.viewer.list_all(f"{t.coll_path(db, coll)}/snapshots")
    every = list_all(R.snapshots.ListSnapshots, lambda page: sp.ListSnapshotsRequest(
        tenant=t.slug, page=page), token, pb)
    assert [snapshot_json(pb, x) for x in every] == t.viewer.list_all(f"{t.path}/snapshots")

    # restore into a new collection (database and collection given) ...
    target = unique("rc")
    r = ok(R.snapshots.RestoreSnapshot, sp.RestoreSnapshotRequest(
        tenant=t.slug, snapshot=made.id, database=db, collection=target), token)
    assert (r.snapshot, r.database, r.collection, r.points, r.replaced) == \
        (made.id, db, target, 40, False)
    assert t.count(db, target) == 40
    # ... and over the source (its own names: the defaults), after a change
    t.admin.call("POST", f"{t.coll_path(db, coll)}/points/delete", {"ids": ["p0", "p1"]})
    r = ok(R.snapshots.RestoreSnapshot, sp.RestoreSnapshotRequest(
        tenant=t.slug, snapshot=made.id, replace=True), token)
    assert (r.database, r.collection, r.points, r.replaced) == (db, coll, 40, True)
    got = t.admin.call("POST", f"{t.coll_path(db, coll)}/points/get", {"ids": ["p0", "p1"]})
    assert [p["payload"] for p in got["points"]] == [{"n": 0}, {"n": 1}]

    assert ok(R.snapshots.DeleteSnapshot, sp.DeleteSnapshotRequest(
        tenant=t.slug, snapshot=made.id), token) == sp.DeleteSnapshotResponse()
    gone = refused(R.snapshots.GetSnapshot, sp.GetSnapshotRequest(
        tenant=t.slug, snapshot=made.id), token, SC.NOT_FOUND)
    same_as_rest(gone, t.admin.get(f"{t.path}/snapshots/{made.id}"))
    assert [x["id"] for x in t.viewer.list_all(f"{t.path}/snapshots")] == \
        [x.id for x in every if x.id != made.id]


def test_snapshot_bad_input_refused_as_rest_and_nothing_changes(pb, R, server, sysadmin, t):
    sp, token = pb.snapshots_pb2, t.admin.token
    db, coll = seeded_collection(t, n=10)
    sid = t.admin.call("POST", f"{t.coll_path(db, coll)}/snapshots", status=201)["id"]
    before = t.admin.list_all(f"{t.path}/snapshots")
    restore = f"{t.path}/snapshots/{{}}/restore"
    cases = [  # (request, REST snapshot id, REST body)
        (sp.RestoreSnapshotRequest(tenant=t.slug, snapshot=sid), sid, {}),
        (sp.RestoreSnapshotRequest(tenant=t.slug, snapshot=sid, collection="nothere",
                                   replace=True), sid, {"collection": "nothere", "replace": True}),
        (sp.RestoreSnapshotRequest(tenant=t.slug, snapshot=sid, database="nodb"), sid,
         {"database": "nodb"}),
        (sp.RestoreSnapshotRequest(tenant=t.slug, snapshot="not-a-uuid"), "not-a-uuid", {}),
        (sp.RestoreSnapshotRequest(tenant=t.slug, snapshot=GHOST["key"]), GHOST["key"], {}),
    ]
    for req, rest_id, body in cases:
        same_as_rest(refused(R.snapshots.RestoreSnapshot, req, token),
                     t.admin.post(restore.format(rest_id), body))
    assert refused(R.snapshots.RestoreSnapshot, cases[0][0], token).code == SC.ALREADY_EXISTS
    # no id at all (REST cannot send an empty path segment): the service's message
    assert refused(R.snapshots.GetSnapshot, sp.GetSnapshotRequest(tenant=t.slug), token,
                   SC.INVALID_ARGUMENT).details == "snapshot id '' is not a UUID"
    same_as_rest(refused(R.snapshots.CreateSnapshot, sp.CreateSnapshotRequest(
        tenant=t.slug, database=db, collection=coll), t.viewer.token, SC.PERMISSION_DENIED),
        t.viewer.post(f"{t.coll_path(db, coll)}/snapshots"))
    same_as_rest(refused(R.snapshots.DeleteSnapshot, sp.DeleteSnapshotRequest(
        tenant=t.slug, snapshot=sid), t.viewer.token, SC.PERMISSION_DENIED),
        t.viewer.delete(f"{t.path}/snapshots/{sid}"))
    # another tenant: the same NOT_FOUND as for a snapshot that does not exist
    other = make_tenant(server, sysadmin, roles=("admin",))
    theirs = refused(R.snapshots.GetSnapshot, sp.GetSnapshotRequest(
        tenant=other.slug, snapshot=sid), other.admin.token, SC.NOT_FOUND)
    ghost = refused(R.snapshots.GetSnapshot, sp.GetSnapshotRequest(
        tenant=other.slug, snapshot=GHOST["key"]), other.admin.token, SC.NOT_FOUND)
    assert theirs.details.replace(sid, "<id>") == ghost.details.replace(GHOST["key"], "<id>")
    refused(R.snapshots.RestoreSnapshot, sp.RestoreSnapshotRequest(
        tenant=other.slug, snapshot=sid), other.admin.token, SC.NOT_FOUND)
    refused(R.snapshots.GetSnapshot, sp.GetSnapshotRequest(tenant=t.slug, snapshot=sid),
            other.admin.token, SC.NOT_FOUND)
    assert t.admin.list_all(f"{t.path}/snapshots") == before
    assert [c["name"] for c in t.admin.list_all(f"{t.db_path(db)}/collections")] == [coll]


# ---------------------------------------------------- uploads, import --

def put_upload(t, name, data):
    """PUT over REST (PutUpload, the streaming rpc, is another codec's)."""
    r = t.admin.request("PUT", f"{t.path}/uploads/{name}", data=data,
                        headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, cl.describe(r)
    return r.json()


def snapshot_parquet(server, t, db, coll):
    """A Parquet file with id, vector, payload and text columns: a snapshot's."""
    s = t.admin.call("POST", f"{t.coll_path(db, coll)}/snapshots", status=201)
    stored = (server.data_dir / "objects" / "snapshots" / t.record["id"] / s["id"]
              / "data.parquet")
    return stored.read_bytes()[LOCAL_HEADER:]


def test_uploads_listed_imported_and_deleted_over_grpc(pb, R, server, t):
    upp, pp, token = pb.uploads_pb2, pb.points_pb2, t.developer.token
    db, coll = seeded_collection(t, n=30)
    data = snapshot_parquet(server, t, db, coll)
    name = unique("up") + ".parquet"
    put_upload(t, name, data)
    listed = ok(R.uploads.ListUploads, upp.ListUploadsRequest(tenant=t.slug), token)
    rest = t.developer.call("GET", f"{t.path}/uploads")["items"]
    assert [{"name": u.name, "bytes": u.bytes, "modified_at": u.modified_at}
            for u in listed.items] == rest
    assert {u.name: u.bytes for u in listed.items}[name] == len(data)

    target = t.create_collection(db, dimension=4, metric="l2")["name"]
    r = ok(R.points.Import, pp.ImportRequest(tenant=t.slug, database=db, collection=target,
                                             upload=name), token)
    assert (r.upload, r.imported) == (name, 30)
    got = t.admin.call("POST", f"{t.coll_path(db, target)}/points/get",
                       {"ids": ["p3", "p4"], "with_vector": True})["points"]
    assert got == t.admin.call("POST", f"{t.coll_path(db, coll)}/points/get",
                               {"ids": ["p3", "p4"], "with_vector": True})["points"]
    # extra_columns false and named columns: still the payload column
    other = t.create_collection(db, dimension=4, metric="l2")["name"]
    r = ok(R.points.Import, pp.ImportRequest(
        tenant=t.slug, database=db, collection=other, upload=name, id_column="id",
        vector_column="vector", payload_column="payload", extra_columns=False), token)
    assert r.imported == 30 and t.count(db, other) == 30

    assert ok(R.uploads.DeleteUpload, upp.DeleteUploadRequest(tenant=t.slug, upload=name),
              token) == upp.DeleteUploadResponse()
    assert name not in {u.name for u in ok(R.uploads.ListUploads,
                                           upp.ListUploadsRequest(tenant=t.slug), token).items}
    assert name not in {u["name"] for u in t.admin.call("GET", f"{t.path}/uploads")["items"]}
    same_as_rest(refused(R.uploads.DeleteUpload, upp.DeleteUploadRequest(
        tenant=t.slug, upload=name), token, SC.NOT_FOUND),
        t.admin.delete(f"{t.path}/uploads/{name}"))


def test_upload_and_import_bad_input_refused_as_rest_and_nothing_changes(pb, R, t):
    upp, pp, token = pb.uploads_pb2, pb.points_pb2, t.admin.token
    db = t.create_db()
    coll = t.create_collection(db, dimension=4, metric="l2")["name"]
    put_upload(t, "notparquet.bin", b"this is not a parquet file" * 10)
    imp = f"{t.coll_path(db, coll)}/import"
    for req, body in (
            (pp.ImportRequest(tenant=t.slug, database=db, collection=coll), {}),
            (pp.ImportRequest(tenant=t.slug, database=db, collection=coll, upload=".hidden"),
             {"upload": ".hidden"}),
            (pp.ImportRequest(tenant=t.slug, database=db, collection=coll, upload="absent.pq"),
             {"upload": "absent.pq"}),
            (pp.ImportRequest(tenant=t.slug, database=db, collection=coll,
                              upload="notparquet.bin"), {"upload": "notparquet.bin"}),
    ):
        same_as_rest(refused(R.points.Import, req, token), t.admin.post(imp, body))
    same_as_rest(refused(R.points.Import, pp.ImportRequest(
        tenant=t.slug, database=db, collection=coll, upload="notparquet.bin"), t.viewer.token,
        SC.PERMISSION_DENIED), t.viewer.post(imp, {"upload": "notparquet.bin"}))
    same_as_rest(refused(R.uploads.DeleteUpload, upp.DeleteUploadRequest(
        tenant=t.slug, upload="bad/name"), token, SC.INVALID_ARGUMENT),
        t.admin.delete(f"{t.path}/uploads/bad%2Fname"))
    refused(R.uploads.DeleteUpload, upp.DeleteUploadRequest(tenant=t.slug, upload="notparquet.bin"),
            t.viewer.token, SC.PERMISSION_DENIED)
    refused(R.uploads.ListUploads, upp.ListUploadsRequest(tenant=t.slug), t.auditor.token,
            SC.PERMISSION_DENIED)
    assert t.count(db, coll) == 0
    assert "notparquet.bin" in {u["name"] for u in t.admin.call("GET", f"{t.path}/uploads")["items"]}


# -------------------------------------------------------------- system --

def test_system_object_store_and_dead_letters_as_rest(pb, R, sysadmin, t):
    sy = pb.system_pb2
    st = ok(R.system.GetObjectStoreStatus, sy.GetObjectStoreStatusRequest(), sysadmin.token)
    rest = sysadmin.call("GET", "/v1/system/object-store")
    assert {"kind": enum_text(pb, "ObjectStoreKind", st.kind, "OBJECT_STORE_KIND_"),
            "endpoint": st.endpoint,
            "breaker": {"state": enum_text(pb, "BreakerState", st.breaker.state,
                                           "BREAKER_STATE_"),
                        "consecutive_failures": st.breaker.consecutive_failures,
                        "opens": st.breaker.opens, "probes": st.breaker.probes},
            "dead_letters": st.dead_letters} == rest
    assert st.kind == sy.OBJECT_STORE_KIND_LOCAL and st.breaker.state == sy.BREAKER_STATE_CLOSED
    dl = ok(R.system.ListDeadLetters, sy.ListDeadLettersRequest(limit=10), sysadmin.token)
    rest = sysadmin.call("GET", "/v1/system/dead-letters", params={"limit": 10})
    assert len(dl.items) == len(rest["items"]) == st.dead_letters == 0
    assert dl.next == 0 and rest["next"] is None
    r = refused(R.system.ListDeadLetters, sy.ListDeadLettersRequest(limit=1001), sysadmin.token,
                SC.INVALID_ARGUMENT)
    assert "'limit'" in r.details
    r = refused(R.system.ListDeadLetters, sy.ListDeadLettersRequest(after=1 << 63),
                sysadmin.token, SC.INVALID_ARGUMENT)
    assert "'after'" in r.details
    same_as_rest(refused(R.system.GetObjectStoreStatus, sy.GetObjectStoreStatusRequest(),
                         t.admin.token, SC.PERMISSION_DENIED),
                 t.admin.get("/v1/system/object-store"))
    refused(R.system.ListDeadLetters, sy.ListDeadLettersRequest(), None, SC.UNAUTHENTICATED)


def test_dead_letters_listed_and_paged_as_rest(pb, R, server_factory):
    """A cold move to an object store that is down lands in the dead-letter
    queue: both transports list the same entries, page by page."""
    s = server_factory(config="[object_store]\nconnect_timeout_ms = 200\n"
                              "request_timeout_ms = 500\nmax_retries = 0\n"
                              "breaker_failures = 100\ndead_letter_retry_ms = 600000\n",
                       env={"AKIDB_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                            "AKIDB_S3_BUCKET": "nobucket", "AKIDB_S3_ACCESS_KEY": "k",
                            "AKIDB_S3_SECRET_KEY": "k"})
    admin = s.login_admin()
    tt = make_tenant(s, admin, roles=("admin",))
    db = tt.create_db()
    names = [tt.create_collection(db, dimension=2)["name"] for _ in range(3)]
    for n in names:
        tt.upsert(db, n, [{"id": "a", "vector": [1.0, 2.0]}])
        tt.admin.call("PATCH", tt.coll_path(db, n), {"tier": "cold"}, status=503,
                      code="unavailable")
    rest = admin.call("GET", "/v1/system/dead-letters")
    assert len(rest["items"]) == 3, rest
    ch = grpc.insecure_channel(f"127.0.0.1:{s.grpc_port}")
    try:
        sys_stub = pb.system_pb2_grpc.SystemServiceStub(ch)
        items, after = [], 0
        while True:
            r = ok(sys_stub.ListDeadLetters, pb.system_pb2.ListDeadLettersRequest(
                limit=1, after=after), admin.token)
            items.extend(r.items)
            if not r.next:
                break
            after = r.next
        assert [{"seq": d.seq, "kind": enum_text(pb, "DeadLetterKind", d.kind,
                                                 "DEAD_LETTER_KIND_"),
                 "collection_id": null(d.collection_id), "object_key": d.object_key,
                 "attempts": d.attempts, "last_error": d.last_error,
                 "created_at": d.created_at, "next_attempt_at": d.next_attempt_at}
                for d in items] == \
            admin.call("GET", "/v1/system/dead-letters")["items"]
        st = ok(sys_stub.GetObjectStoreStatus, pb.system_pb2.GetObjectStoreStatusRequest(),
                admin.token)
        assert st.kind == pb.system_pb2.OBJECT_STORE_KIND_S3 and st.dead_letters == len(items)
    finally:
        ch.close()


# ------------------------------------------------------- enums, pages --

def test_every_unknown_enum_number_is_refused_naming_the_field(pb, R, sysadmin, t):
    C, token = pb.common_pb2, sysadmin.token
    db = t.create_db()
    coll = t.create_collection(db, dimension=2)["name"]
    me = t.users["admin"]["username"]
    cases = [
        (R.tenants.CreateTenant, pb.tenants_pb2.CreateTenantRequest(
            slug=unique("ge"), name="x", status=5), token, "status", "TenantStatus"),
        (R.tenants.UpdateTenant, pb.tenants_pb2.UpdateTenantRequest(
            tenant=t.slug, status=99), token, "status", "TenantStatus"),
        (R.collections.CreateCollection, pb.collections_pb2.CreateCollectionRequest(
            tenant=t.slug, database=db, name=unique("ge"), dimension=2, metric=-1), t.admin.token,
         "metric", "Metric"),
        (R.collections.UpdateCollection, pb.collections_pb2.UpdateCollectionRequest(
            tenant=t.slug, database=db, collection=coll, tier=4), t.admin.token, "tier", "Tier"),
        (R.users.CreateUser, pb.users_pb2.CreateUserRequest(
            tenant=t.slug, username=unique("ge"), role=6), t.admin.token, "role", "Role"),
        (R.users.UpdateUser, pb.users_pb2.UpdateUserRequest(
            tenant=t.slug, username=me, role=100), t.admin.token, "role", "Role"),
        (R.users.UpdateUser, pb.users_pb2.UpdateUserRequest(
            tenant=t.slug, username=me, status=3), t.admin.token, "status", "UserStatus"),
        (R.audit.ListAudit, pb.audit_pb2.ListAuditRequest(
            filter=pb.audit_pb2.AuditFilter(order=3)), token, "filter.order", "AuditOrder"),
    ]
    before_tenants = sysadmin.list_all("/v1/tenants")
    before_coll = stable(t.admin.call("GET", t.coll_path(db, coll)))
    before_users = t.admin.list_all(f"{t.path}/users")
    for method, req, tok, field, enum in cases:
        r = refused(method, req, tok, SC.INVALID_ARGUMENT)
        module = pb.audit_pb2 if enum == "AuditOrder" else C
        values = [v.name for v in module.DESCRIPTOR.enum_types_by_name[enum].values
                  if v.number != 0]
        assert r.details.startswith(f"field '{field}' must be one of "), r
        assert all(v in r.details for v in values), (r, values)
    assert sysadmin.list_all("/v1/tenants") == before_tenants
    assert stable(t.admin.call("GET", t.coll_path(db, coll))) == before_coll
    assert t.admin.list_all(f"{t.path}/users") == before_users


def test_pages_are_checked_on_every_list(pb, R, sysadmin, t):
    lists = [
        (R.tenants.ListTenants, lambda p: pb.tenants_pb2.ListTenantsRequest(page=p), sysadmin),
        (R.databases.ListDatabases,
         lambda p: pb.databases_pb2.ListDatabasesRequest(tenant=t.slug, page=p), t.admin),
        (R.collections.ListCollections, lambda p: pb.collections_pb2.ListCollectionsRequest(
            tenant=t.slug, database=t.create_db(), page=p), t.admin),
        (R.users.ListUsers, lambda p: pb.users_pb2.ListUsersRequest(tenant=t.slug, page=p),
         t.admin),
        (R.keys.ListApiKeys, lambda p: pb.keys_pb2.ListApiKeysRequest(
            tenant=t.slug, username=t.users["admin"]["username"], page=p), t.admin),
        (R.snapshots.ListSnapshots,
         lambda p: pb.snapshots_pb2.ListSnapshotsRequest(tenant=t.slug, page=p), t.admin),
    ]
    for method, make, who in lists:
        r = refused(method, make(page(pb, limit=1001)), who.token, SC.INVALID_ARGUMENT)
        assert r.details == "field 'page.limit' must be an integer in 1..1000 (0: the default, 100)"
        r = refused(method, make(page(pb, after="zzz")), who.token, SC.INVALID_ARGUMENT)
        assert r.details == "field 'page.after' must be the 'next' cursor of a previous page"
        assert len(ok(method, make(page(pb, limit=1)), who.token).items) <= 1


# --------------------------------------------------------- role matrix --

def _grpc_cases():
    """Each case of access_tables.CASES (by name) as its rpc: build(env, role,
    R) -> (token, method, request), or None where the REST case does not apply."""
    def tok(e, r):
        return e.client(r).token

    def T(R):
        return R.pb.tenants_pb2

    def coll(e, R, msg, **kw):
        return getattr(R.pb.collections_pb2, msg)(tenant=e.t.slug, database=e.db, **kw)

    def pts(e, R, msg, **kw):
        return getattr(R.pb.points_pb2, msg)(tenant=e.t.slug, database=e.db, collection=e.coll,
                                             **kw)

    def users(e, R, msg, **kw):
        return getattr(R.pb.users_pb2, msg)(tenant=e.t.slug, **kw)

    def keys(e, R, msg, **kw):
        return getattr(R.pb.keys_pb2, msg)(tenant=e.t.slug, **kw)

    def own(r):
        return None if r == "system-admin" else r

    def as_fresh(e, r, R, msg, **kw):
        """A call by a fresh user of role r on itself (it may be changed or
        deleted): UpdateUser with kw, or DeleteUser."""
        c, name = e.fresh_principal(r)
        method = R.users.UpdateUser if msg == "UpdateUserRequest" else R.users.DeleteUser
        return c.token, method, users(e, R, msg, username=name, **kw)

    C = lambda R: R.pb.common_pb2  # noqa: E731
    return {
        "list tenants": lambda e, r, R: (tok(e, r), R.tenants.ListTenants,
                                         T(R).ListTenantsRequest()),
        "create tenant": lambda e, r, R: (tok(e, r), R.tenants.CreateTenant,
                                          T(R).CreateTenantRequest(slug=unique("nt"), name="n")),
        "read tenant": lambda e, r, R: (tok(e, r), R.tenants.GetTenant,
                                        T(R).GetTenantRequest(tenant=e.t.slug)),
        "rename tenant": lambda e, r, R: (tok(e, r), R.tenants.UpdateTenant,
                                          T(R).UpdateTenantRequest(tenant=e.t.slug,
                                                                   name="Renamed")),
        "suspend tenant": lambda e, r, R: (tok(e, r), R.tenants.UpdateTenant,
                                           T(R).UpdateTenantRequest(
                                               tenant=e.fresh_tenant() if r == "system-admin"
                                               else e.t.slug,
                                               status=C(R).TENANT_STATUS_SUSPENDED)),
        "tenant quotas": lambda e, r, R: (tok(e, r), R.tenants.UpdateTenant,
                                          T(R).UpdateTenantRequest(
                                              tenant=e.fresh_tenant() if r == "system-admin"
                                              else e.t.slug,
                                              quotas=C(R).QuotasInput(max_qps=0,
                                                                      max_collections=100))),
        "delete tenant": lambda e, r, R: (tok(e, r), R.tenants.DeleteTenant,
                                          T(R).DeleteTenantRequest(
                                              tenant=e.fresh_tenant() if r == "system-admin"
                                              else e.t.slug)),
        "list databases": lambda e, r, R: (tok(e, r), R.databases.ListDatabases,
                                           R.pb.databases_pb2.ListDatabasesRequest(
                                               tenant=e.t.slug)),
        "get database": lambda e, r, R: (tok(e, r), R.databases.GetDatabase,
                                         R.pb.databases_pb2.GetDatabaseRequest(
                                             tenant=e.t.slug, database=e.db)),
        "create database": lambda e, r, R: (tok(e, r), R.databases.CreateDatabase,
                                            R.pb.databases_pb2.CreateDatabaseRequest(
                                                tenant=e.t.slug, name=unique("db"))),
        "delete database": lambda e, r, R: (tok(e, r), R.databases.DeleteDatabase,
                                            R.pb.databases_pb2.DeleteDatabaseRequest(
                                                tenant=e.t.slug, database=e.fresh_db())),
        "list collections": lambda e, r, R: (tok(e, r), R.collections.ListCollections,
                                             coll(e, R, "ListCollectionsRequest")),
        "get collection": lambda e, r, R: (tok(e, r), R.collections.GetCollection,
                                           coll(e, R, "GetCollectionRequest", collection=e.coll)),
        "create collection": lambda e, r, R: (tok(e, r), R.collections.CreateCollection,
                                              coll(e, R, "CreateCollectionRequest",
                                                   name=unique("c"), dimension=3)),
        "patch collection": lambda e, r, R: (tok(e, r), R.collections.UpdateCollection,
                                             coll(e, R, "UpdateCollectionRequest",
                                                  collection=e.coll,
                                                  index=R.pb.collections_pb2.IndexParamsPatch(
                                                      ef_search=64))),
        "delete collection": lambda e, r, R: (tok(e, r), R.collections.DeleteCollection,
                                              coll(e, R, "DeleteCollectionRequest",
                                                   collection=e.fresh_coll())),
        "count": lambda e, r, R: (tok(e, r), R.points.Count, pts(e, R, "CountPointsRequest")),
        "get point": lambda e, r, R: (tok(e, r), R.points.Get,
                                      pts(e, R, "GetPointRequest", point_id="p1")),
        "get points": lambda e, r, R: (tok(e, r), R.points.GetMany,
                                       pts(e, R, "GetPointsRequest", ids=["p1"])),
        "scan points": lambda e, r, R: (tok(e, r), streamed(R.points.Scan),
                                        pts(e, R, "ScanRequest", batch_size=2)),
        "upsert": lambda e, r, R: (tok(e, r), R.points.Upsert, pts(
            e, R, "UpsertRequest", points=[C(R).PointInput(id="g-" + r, vector=[1, 1, 1])])),
        "delete points": lambda e, r, R: (tok(e, r), R.points.Delete,
                                          pts(e, R, "DeletePointsRequest", ids=["nope"])),
        "search": lambda e, r, R: (tok(e, r), R.points.Search,
                                   pts(e, R, "SearchRequest", vector=[1, 2, 3], k=2)),
        "text search": lambda e, r, R: (tok(e, r), R.points.Search, pts(
            e, R, "SearchRequest", mode=R.pb.points_pb2.SEARCH_MODE_TEXT, text="x")),
        "hybrid search": lambda e, r, R: (tok(e, r), R.points.Search, pts(
            e, R, "SearchRequest", mode=R.pb.points_pb2.SEARCH_MODE_HYBRID, vector=[1, 2, 3],
            text="x", k=2)),
        "embeddings": lambda e, r, R: (tok(e, r), R.embeddings.Embed,
                                       R.pb.embeddings_pb2.EmbedRequest(
                                           model="akidb-builtin-v1", input=["wind tunnel"])),
        "list users": lambda e, r, R: (tok(e, r), R.users.ListUsers,
                                       users(e, R, "ListUsersRequest")),
        "create user": lambda e, r, R: (tok(e, r), R.users.CreateUser, users(
            e, R, "CreateUserRequest", username=unique("nu"), role=C(R).ROLE_VIEWER,
            password=cl.new_password())),
        "get own user": lambda e, r, R: own(r) and (tok(e, r), R.users.GetUser, users(
            e, R, "GetUserRequest", username=e.username(r))),
        "get other user": lambda e, r, R: (tok(e, r), R.users.GetUser,
                                           users(e, R, "GetUserRequest", username=e.victim)),
        "change own password": lambda e, r, R: own(r) and as_fresh(
            e, r, R, "UpdateUserRequest", password=cl.new_password()),
        "change other's password": lambda e, r, R: (tok(e, r), R.users.UpdateUser, users(
            e, R, "UpdateUserRequest", username=e.victim, password=cl.new_password())),
        "change own role": lambda e, r, R: own(r) and as_fresh(
            e, r, R, "UpdateUserRequest",
            role=C(R).ROLE_VIEWER if r != "viewer" else C(R).ROLE_AUDITOR),
        "change other's role": lambda e, r, R: (tok(e, r), R.users.UpdateUser, users(
            e, R, "UpdateUserRequest", username=e.victim, role=C(R).ROLE_VIEWER)),
        "delete own user": lambda e, r, R: own(r) and as_fresh(e, r, R, "DeleteUserRequest"),
        "delete other user": lambda e, r, R: (tok(e, r), R.users.DeleteUser, users(
            e, R, "DeleteUserRequest", username=e.fresh_user()[0])),
        "list own keys": lambda e, r, R: own(r) and (tok(e, r), R.keys.ListApiKeys, keys(
            e, R, "ListApiKeysRequest", username=e.username(r))),
        "list other's keys": lambda e, r, R: (tok(e, r), R.keys.ListApiKeys, keys(
            e, R, "ListApiKeysRequest", username=e.victim)),
        "create own key": lambda e, r, R: own(r) and (tok(e, r), R.keys.CreateApiKey, keys(
            e, R, "CreateApiKeyRequest", username=e.username(r), name="mine")),
        "create other's key": lambda e, r, R: (tok(e, r), R.keys.CreateApiKey, keys(
            e, R, "CreateApiKeyRequest", username=e.victim, name="x")),
        "revoke own key": lambda e, r, R: own(r) and (tok(e, r), R.keys.RevokeApiKey, keys(
            e, R, "RevokeApiKeyRequest", username=e.username(r),
            key_id=e.fresh_key(e.username(r)))),
        "revoke other's key": lambda e, r, R: (tok(e, r), R.keys.RevokeApiKey, keys(
            e, R, "RevokeApiKeyRequest", username=e.victim, key_id=e.fresh_key(e.victim))),
        "tenant audit": lambda e, r, R: (tok(e, r), R.audit.ListTenantAudit,
                                         R.pb.audit_pb2.ListTenantAuditRequest(tenant=e.t.slug)),
        "global audit": lambda e, r, R: (tok(e, r), R.audit.ListAudit,
                                         R.pb.audit_pb2.ListAuditRequest()),
        "whoami": lambda e, r, R: (tok(e, r), R.auth.WhoAmI, R.pb.auth_pb2.WhoAmIRequest()),
        "logout": lambda e, r, R: (e.fresh_principal(r)[0].token, R.auth.Logout,
                                   R.pb.auth_pb2.LogoutRequest()),
    }


def streamed(method):
    """A server-streaming method called like a unary one: every message, as a list."""
    return lambda req, **kw: list(method(req, **kw))


GRPC_CASES = _grpc_cases()


def test_every_rest_case_of_the_role_matrix_has_its_rpc():
    assert sorted(GRPC_CASES) == sorted(name for name, _, _, _ in CASES)


@pytest.fixture(scope="module")
def role_env(server, sysadmin):
    return RoleEnv(server, sysadmin)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_grpc_role_matrix(role_env, R, role):
    failures, ran = [], 0
    for name, action, scope, _ in CASES:
        spec = GRPC_CASES[name](role_env, role, R)
        if not spec:
            continue
        ran += 1
        token, method, req = spec
        want_ok = allowed(action, role, scope)
        try:
            method(req, metadata=md(token), timeout=60)
            got = "OK"
        except grpc.RpcError as e:
            got = f"{e.code().name}: {e.details()}"
        if want_ok and got != "OK":
            failures.append(f"{name} ({action}, {scope or 'all'}): should be allowed, got {got}")
        if not want_ok and not got.startswith("PERMISSION_DENIED"):
            failures.append(f"{name} ({action}, {scope or 'all'}): should be PERMISSION_DENIED, "
                            f"got {got}")
    assert ran >= 35
    assert not failures, f"role {role}: {len(failures)} wrong decisions:\n" + "\n".join(failures)


# ---------------------------------------------------- isolation matrix --

def _patch(R, msg, b, **kw):
    """A REST PATCH body as the update request's fields."""
    C = R.pb.common_pb2
    fields = dict(kw)
    if "name" in b:
        fields["name"] = b["name"]
    if "quotas" in b:
        fields["quotas"] = C.QuotasInput(**b["quotas"])
    if "password" in b:
        fields["password"] = b["password"]
    if "status" in b:
        fields["status"] = (C.TenantStatus if msg == "UpdateTenantRequest" else C.UserStatus) \
            .Value(("TENANT_STATUS_" if msg == "UpdateTenantRequest" else "USER_STATUS_")
                   + b["status"].upper())
    if "role" in b:
        fields["role"] = C.Role.Value("ROLE_" + b["role"].upper())
    if "index" in b:
        fields["index"] = R.pb.collections_pb2.IndexParamsPatch(**b["index"])
    module = R.pb.tenants_pb2 if msg == "UpdateTenantRequest" else \
        R.pb.users_pb2 if msg == "UpdateUserRequest" else R.pb.collections_pb2
    return getattr(module, msg)(**fields)


def iso_call(R, method, template, body, nm):
    """(rpc, request) of a REST route of access_tables.ROUTES with names nm."""
    pb, b = R.pb, fill(body, nm) if body else {}
    T, D, U = {"tenant": nm["t"]}, {"tenant": nm["t"], "database": nm["db"]}, \
        {"tenant": nm["t"], "username": nm["user"]}
    Co = dict(D, collection=nm["coll"])
    C = pb.common_pb2
    base = "/v1/tenants/{t}"
    table = {
        ("GET", base): lambda: (R.tenants.GetTenant, pb.tenants_pb2.GetTenantRequest(**T)),
        ("PATCH", base): lambda: (R.tenants.UpdateTenant,
                                  _patch(R, "UpdateTenantRequest", b, **T)),
        ("DELETE", base): lambda: (R.tenants.DeleteTenant,
                                   pb.tenants_pb2.DeleteTenantRequest(**T)),
        ("GET", base + "/databases"): lambda: (R.databases.ListDatabases,
                                               pb.databases_pb2.ListDatabasesRequest(**T)),
        ("POST", base + "/databases"): lambda: (R.databases.CreateDatabase,
                                                pb.databases_pb2.CreateDatabaseRequest(
                                                    name=b["name"], **T)),
        ("GET", base + "/databases/{db}"): lambda: (R.databases.GetDatabase,
                                                    pb.databases_pb2.GetDatabaseRequest(**D)),
        ("DELETE", base + "/databases/{db}"): lambda: (
            R.databases.DeleteDatabase, pb.databases_pb2.DeleteDatabaseRequest(**D)),
        ("GET", base + "/databases/{db}/collections"): lambda: (
            R.collections.ListCollections, pb.collections_pb2.ListCollectionsRequest(**D)),
        ("POST", base + "/databases/{db}/collections"): lambda: (
            R.collections.CreateCollection,
            pb.collections_pb2.CreateCollectionRequest(name=b["name"], dimension=b["dimension"],
                                                       **D)),
        ("GET", base + "/databases/{db}/collections/{coll}"): lambda: (
            R.collections.GetCollection, pb.collections_pb2.GetCollectionRequest(**Co)),
        ("PATCH", base + "/databases/{db}/collections/{coll}"): lambda: (
            R.collections.UpdateCollection, _patch(R, "UpdateCollectionRequest", b, **Co)),
        ("DELETE", base + "/databases/{db}/collections/{coll}"): lambda: (
            R.collections.DeleteCollection, pb.collections_pb2.DeleteCollectionRequest(**Co)),
        ("GET", base + "/databases/{db}/collections/{coll}/count"): lambda: (
            R.points.Count, pb.points_pb2.CountPointsRequest(**Co)),
        ("POST", base + "/databases/{db}/collections/{coll}/points"): lambda: (
            R.points.Upsert, pb.points_pb2.UpsertRequest(points=[
                C.PointInput(id=p["id"], vector=p["vector"], payload_json=json.dumps(p["payload"]))
                for p in b["points"]], **Co)),
        ("POST", base + "/databases/{db}/collections/{coll}/points/get"): lambda: (
            R.points.GetMany, pb.points_pb2.GetPointsRequest(ids=b["ids"], **Co)),
        ("GET", base + "/databases/{db}/collections/{coll}/points"): lambda: (
            streamed(R.points.Scan), pb.points_pb2.ScanRequest(**Co)),
        ("POST", base + "/databases/{db}/collections/{coll}/points/delete"): lambda: (
            R.points.Delete, pb.points_pb2.DeletePointsRequest(ids=b["ids"], **Co)),
        ("GET", base + "/databases/{db}/collections/{coll}/points/{point}"): lambda: (
            R.points.Get, pb.points_pb2.GetPointRequest(point_id=nm["point"], **Co)),
        ("POST", base + "/databases/{db}/collections/{coll}/search"): lambda: (
            R.points.Search, pb.points_pb2.SearchRequest(
                vector=b.get("vector", []), k=b["k"], text=b.get("text", ""),
                mode=pb.points_pb2.SearchMode.Value("SEARCH_MODE_" + b.get("mode", "vector").upper()),
                **Co)),
        ("GET", base + "/users"): lambda: (R.users.ListUsers, pb.users_pb2.ListUsersRequest(**T)),
        ("POST", base + "/users"): lambda: (R.users.CreateUser, pb.users_pb2.CreateUserRequest(
            username=b["username"], role=C.Role.Value("ROLE_" + b["role"].upper()),
            password=b["password"], **T)),
        ("GET", base + "/users/{user}"): lambda: (R.users.GetUser,
                                                  pb.users_pb2.GetUserRequest(**U)),
        ("PATCH", base + "/users/{user}"): lambda: (R.users.UpdateUser,
                                                    _patch(R, "UpdateUserRequest", b, **U)),
        ("DELETE", base + "/users/{user}"): lambda: (R.users.DeleteUser,
                                                     pb.users_pb2.DeleteUserRequest(**U)),
        ("GET", base + "/users/{user}/keys"): lambda: (R.keys.ListApiKeys,
                                                       pb.keys_pb2.ListApiKeysRequest(**U)),
        ("POST", base + "/users/{user}/keys"): lambda: (R.keys.CreateApiKey,
                                                        pb.keys_pb2.CreateApiKeyRequest(
                                                            name=b["name"], **U)),
        ("DELETE", base + "/users/{user}/keys/{key}"): lambda: (
            R.keys.RevokeApiKey, pb.keys_pb2.RevokeApiKeyRequest(key_id=nm["key"], **U)),
        ("GET", base + "/audit"): lambda: (R.audit.ListTenantAudit,
                                           pb.audit_pb2.ListTenantAuditRequest(**T)),
    }
    return table[(method, template)]()


@pytest.fixture(scope="module")
def pair(server, sysadmin):
    return make_pair(server, sysadmin)


def test_every_isolation_route_has_its_rpc(R, pair):
    a, b, names = pair
    for method, template, body in ROUTES:
        rpc, req = iso_call(R, method, template, body, names)
        assert callable(rpc) and req.tenant == b.slug, (method, template)


def test_grpc_foreign_tenant_is_indistinguishable_from_a_missing_one(R, pair):
    a, b, names = pair
    before = tenant_state(b, names)
    variants = [("B, existing names", names), ("B, missing names", dict(GHOST, t=b.slug)),
                ("missing tenant, B's names", dict(names, t=GHOST_SLUG)),
                ("missing tenant, missing names", dict(GHOST, t=GHOST_SLUG))]
    failures = []
    for role, c in principals(a):
        for method, template, body in ROUTES:
            answers = set()
            for label, nm in variants:
                rpc, req = iso_call(R, method, template, body, nm)
                try:
                    rpc(req, metadata=md(c.token), timeout=60)
                    failures.append(f"[{role}] {method} {template} ({label}): answered OK")
                    continue
                except grpc.RpcError as e:
                    code, details = e.code(), e.details()
                if code != SC.NOT_FOUND:
                    failures.append(f"[{role}] {method} {template} ({label}): {code.name} "
                                    f"{details}")
                answers.add((code, normalise(details, nm)))
            if len(answers) > 1:
                failures.append(f"[{role}] {method} {template}: answers differ: {answers}")
    assert not failures, f"{len(failures)} isolation failures:\n" + "\n".join(failures[:60])
    # the same message as REST gives (one principal; the service words both)
    rest = a.admin.request("GET", f"/v1/tenants/{b.slug}/databases/{names['db']}")
    rpc, req = iso_call(R, "GET", "/v1/tenants/{t}/databases/{db}", None, names)
    same_as_rest(refused(rpc, req, a.admin.token), rest)
    assert tenant_state(b, names) == before
