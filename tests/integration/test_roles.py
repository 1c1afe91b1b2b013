"""
Role matrix: every route × every role (system admin, admin, developer,
viewer, auditor), allowed (the documented success status) or refused
(403 permission_denied), exactly as the role table of docs/rest-api.md says.
The expected table (access_tables.GRANTS, shared with the gRPC matrix of
test_grpc_admin.py) is written from the document, independently of the
server's own table (src/auth/authz.c).

Grants: A = on everything of the tenant, O = on the principal's own user
only, - = refused. A route acting on a user ("own"/"other") is run both ways.
"""
import pytest

import client as cl
from access_tables import CASES, ROLE_NAMES, RoleEnv, allowed
from client import expect, unique


@pytest.fixture(scope="module")
def env(server, sysadmin):
    return RoleEnv(server, sysadmin)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_role_matrix(env, role):
    failures = []
    ran = 0
    for name, action, scope, build in CASES:
        spec = build(env, role)
        if spec is None:
            continue
        ran += 1
        c, method, path, body, ok_status = spec
        r = c.request(method, path, json=body) if body is not None else c.request(method, path)
        want_ok = allowed(action, role, scope)
        if want_ok:
            if r.status_code != ok_status:
                failures.append(f"{name} ({action}, {scope or 'all'}): {method} {path} should be "
                                f"allowed ({ok_status}), got {r.status_code} {r.text[:300]}")
        else:
            code = None
            if r.status_code >= 400:
                code = cl.error_of(r)["code"]
            if (r.status_code, code) != (403, "permission_denied"):
                failures.append(f"{name} ({action}, {scope or 'all'}): {method} {path} should be "
                                f"refused (403 permission_denied), got {r.status_code} "
                                f"{r.text[:300]}")
    assert ran >= 35
    assert not failures, f"role {role}: {len(failures)} wrong decisions:\n" + "\n".join(failures)


def test_expected_table_matches_the_document():
    """Guards the hand-written table above against a typo: it says what the
    document's role table says for a few characteristic cells."""
    assert allowed("tenant.read", "auditor", None)
    assert not allowed("point.read", "system-admin", None)
    assert allowed("database.read", "system-admin", None)
    assert not allowed("audit.read", "viewer", None)
    assert allowed("apikey.create", "viewer", "own") and not allowed("apikey.create", "viewer",
                                                                     "other")
    assert not allowed("apikey.create", "system-admin", "other")


def test_tenant_admin_cannot_make_system_admins(env):
    t = env.t
    r = t.admin.post(f"{t.path}/users", {"username": unique("sa"), "role": "system-admin",
                                         "password": cl.new_password()})
    assert r.status_code in (400, 403), cl.describe(r)
    expect(t.admin.patch(f"{t.path}/users/{env.victim}", {"role": "system-admin"}),
           r.status_code, cl.error_of(r)["code"])
    assert t.admin.call("GET", f"{t.path}/users/{env.victim}")["role"] == "viewer"
