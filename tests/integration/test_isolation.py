"""
Tenant isolation: for every route with a {tenant} parameter, every principal
of tenant A (each role, sessions and an API key) that names tenant B — or
anything in it — gets exactly the answer it would get if B did not exist:
404 not_found, with the same error code and message once the names are
substituted. Names that exist in B and names that do not must be
indistinguishable. Afterwards nothing in B has changed. The routes and
helpers are in access_tables.py (shared with the gRPC matrix of
test_grpc_admin.py).
"""
import json

import pytest

import client as cl
from access_tables import (GHOST, GHOST_SLUG, ROUTES, fill, make_pair, normalise, principals,
                           render, tenant_state)
from client import expect


@pytest.fixture(scope="module")
def tenants(server, sysadmin):
    return make_pair(server, sysadmin)


def test_foreign_tenant_is_indistinguishable_from_a_missing_one(tenants):
    a, b, names = tenants
    before = tenant_state(b, names)
    ghost_names = dict(GHOST, t=GHOST_SLUG)
    b_ghost_names = dict(GHOST, t=b.slug)
    variants = [
        ("B, existing names", names),
        ("B, missing names", b_ghost_names),
        ("missing tenant, B's names", dict(names, t=GHOST_SLUG)),
        ("missing tenant, missing names", ghost_names),
    ]
    failures = []
    for role, c in principals(a):
        for method, template, body in ROUTES:
            answers = []
            for label, nm in variants:
                path = render(template, nm)
                r = c.request(method, path, json=fill(body, nm) if body is not None else
                              cl._NO_BODY)
                if r.status_code != 404:
                    failures.append(f"[{role}] {method} {path} ({label}): expected 404 not_found, "
                                    f"got {r.status_code} {r.text[:300]}")
                    continue
                err = cl.error_of(r)
                answers.append((label, err["code"], normalise(err["message"], nm),
                                r.headers.get("Allow"), r.headers.get("Retry-After")))
            distinct = {x[1:] for x in answers}
            if len(distinct) > 1:
                failures.append(f"[{role}] {method} {template}: answers differ:\n    "
                                + "\n    ".join(repr(x) for x in answers))
            for x in answers:
                if x[1] != "not_found":
                    failures.append(f"[{role}] {method} {template} ({x[0]}): code {x[1]}")
    assert not failures, f"{len(failures)} isolation failures:\n" + "\n".join(failures[:60])
    after = tenant_state(b, names)
    assert after == before, ("tenant B changed:\nbefore: " + json.dumps(before, indent=1)[:3000]
                             + "\nafter: " + json.dumps(after, indent=1)[:3000])


def test_foreign_tenant_is_absent_from_lists(tenants):
    a, b, names = tenants
    # A's own lists never show B's objects, whatever the role.
    for role in ("admin", "developer", "viewer"):
        dbs = a.clients[role].list_all(f"{a.path}/databases")
        assert all(d.get("tenant") in (a.slug, a.record["id"]) for d in dbs), dbs
    for role in ("admin", "auditor"):
        entries = a.clients[role].list_all(f"{a.path}/audit")
        leaked = [e for e in entries if e.get("tenant") not in (a.slug, a.record["id"])]
        assert not leaked, f"B's audit entries visible to A's {role}: {leaked[:5]}"
    # Nobody but the system admin may read the whole audit log.
    for role in cl.ROLES:
        expect(a.clients[role].get("/v1/audit"), 403, "permission_denied")
    # Tenant listing is for the system admin only.
    for role in cl.ROLES:
        expect(a.clients[role].get("/v1/tenants"), 403, "permission_denied")


def test_login_into_foreign_tenant_fails_like_a_wrong_password(server, tenants):
    a, b, names = tenants
    # A's admin credentials presented for tenant B: a failed login, no hint.
    u = a.users["admin"]
    r1 = cl.login_response(server, u["username"], u["password"], tenant=b.slug)
    r2 = cl.login_response(server, u["username"], u["password"], tenant=GHOST_SLUG)
    e1, e2 = expect(r1, 401, "unauthenticated"), expect(r2, 401, "unauthenticated")
    assert normalise(e1["error"]["message"], {"t": b.slug}) == \
        normalise(e2["error"]["message"], {"t": GHOST_SLUG}), (e1, e2)
