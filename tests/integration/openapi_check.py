"""
tests/integration/openapi_check.py — checks HTTP answers against the REST
contract, docs/openapi.yaml (OpenAPI 3.1, so its schemas are JSON Schema
2020-12 and are validated as such with python3-jsonschema).

Other tests import it:

    import openapi_check
    openapi_check.validate_response("GET", "/v1/tenants/acme", 200, body,
                                    headers=resp.headers)

validate_response finds the document's path template for a concrete path
(literal segments win over parameters, so .../points/get is not a point id),
checks that the status is documented for that operation and validates the
body (and, when given, the headers) against what the document says. It
raises AssertionError naming method, template and status, and saying what
differs. Two answers exist for requests that match no operation: 404
`not_found` for a path that matches no template, 405 `method_not_allowed`
for a known path with a method it does not have; both are checked too.

The document is read once per process (set AKIDB_OPENAPI to check another
file). Nothing here talks to a server.
"""

import datetime
import functools
import json
import os
import re
import uuid
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = Path(os.environ.get("AKIDB_OPENAPI", ROOT / "docs" / "openapi.yaml"))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
DIALECT = "https://json-schema.org/draft/2020-12/schema"
Validator = jsonschema.Draft202012Validator

# ------------------------------------------------------------- document --


@functools.lru_cache(maxsize=None)
def document():
    """The parsed OpenAPI document."""
    with open(DOC_PATH, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not str(doc.get("openapi", "")).startswith("3.1"):
        raise AssertionError(f"{DOC_PATH}: openapi_check expects OpenAPI 3.1, got {doc.get('openapi')!r}")
    return doc


def pointer(ref):
    """The object a local reference ('#/components/schemas/Tenant') names."""
    if not ref.startswith("#/"):
        raise AssertionError(f"only local references are supported, got {ref!r}")
    node = document()
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise AssertionError(f"unresolved reference {ref!r} in {DOC_PATH}")
        node = node[part]
    return node


def resolve(obj):
    """Follows $ref chains of a non-schema object (response, parameter,
    header, example). As OpenAPI 3.1 says, `summary` and `description` next
    to a $ref override those of the target."""
    seen = set()
    overrides = {}
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if ref in seen:
            raise AssertionError(f"reference cycle through {ref!r}")
        seen.add(ref)
        for key in ("summary", "description"):
            if key in obj and key not in overrides:
                overrides[key] = obj[key]
        obj = pointer(ref)
    if overrides and isinstance(obj, dict):
        obj = {**obj, **overrides}
    return obj


def routes():
    """Every (METHOD, path template) of the document."""
    return {
        (method.upper(), template)
        for template, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }


def operation(method, template):
    """The operation object of `method` on `template`, or None."""
    item = document()["paths"].get(template)
    if item is None:
        return None
    return item.get(method.lower())


# ------------------------------------------------------------- matching --


@functools.lru_cache(maxsize=None)
def _templates():
    """(template, segments, precedence) for every path, best first: at the
    first segment where two templates differ, a literal beats a parameter
    (as the router does). A segment is ("lit", text) or ("param", name)."""
    out = []
    for template in document()["paths"]:
        segments = tuple(("param", s[1:-1]) if s.startswith("{") and s.endswith("}") else ("lit", s)
                         for s in template.split("/")[1:])
        rank = tuple(1 if kind == "param" else 0 for kind, _ in segments)
        out.append((template, segments, rank))
    out.sort(key=lambda t: (t[2], t[0]))
    return tuple(out)


def request_path(path):
    """The path part of a URL or path (query and fragment dropped)."""
    parts = urlsplit(path)
    return parts.path or "/"


def path_segments(path):
    """The percent-decoded segments of a path (split on '/' first, so
    `a%2Fb` is one segment "a/b"), or None when an escape is malformed or
    decodes to NUL: the router answers such a path 400 before routing."""
    p = request_path(path)
    if not p.startswith("/"):
        return None
    out = []
    for raw in p[1:].split("/"):
        if re.search(r"%(?![0-9A-Fa-f]{2})", raw) or re.search(r"%00", raw):
            return None
        out.append(unquote_to_bytes(raw).decode("utf-8", "surrogateescape"))
    return out


def match_path(path):
    """The templates matching a concrete path, best first (may be empty).
    `path` may be a full URL and may carry a query string. Segments are
    compared percent-decoded; a parameter matches any non-empty segment."""
    segs = path_segments(path)
    if segs is None:
        return []
    found = []
    for template, segments, _ in _templates():
        if len(segments) != len(segs):
            continue
        if all((s != "") if kind == "param" else (s == text) for (kind, text), s in zip(segments, segs)):
            found.append(template)
    return found


# -------------------------------------------------------------- schemas --


def _check_date_time(value):
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
        return False
    text = value.replace("z", "Z").replace("t", "T")
    head, _, tail = text.partition(".")
    if tail:  # datetime takes at most 6 fraction digits
        zone = re.search(r"[Z+-].*$", tail).group(0)
        text = head + "." + tail[: len(tail) - len(zone)][:6].ljust(6, "0") + zone
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _check_uuid(value):
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", value):
        return False
    uuid.UUID(value)
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_check_date_time)
FORMATS.checks("uuid")(_check_uuid)


def wrap(schema):
    """A standalone JSON Schema for a schema of the document: its $refs
    ('#/components/schemas/...') resolve against the copy of `components`
    carried along."""
    return {"$schema": DIALECT, "components": document()["components"], "allOf": [schema]}


_VALIDATORS = {}


def validator(schema):
    """A Draft 2020-12 validator (with date-time and uuid formats checked)
    for a schema of the document (cached per schema object)."""
    hit = _VALIDATORS.get(id(schema))
    if hit is None or hit[0] is not schema:
        hit = (schema, Validator(wrap(schema), format_checker=FORMATS))
        _VALIDATORS[id(schema)] = hit
    return hit[1]


def _where(error):
    return "$" + "".join(f"[{p!r}]" for p in error.absolute_path)


def _explain(error, depth=0):
    """One line for an error; for a failed oneOf/anyOf, what each
    alternative objected to (so the closest one can be read off)."""
    if error.validator not in ("oneOf", "anyOf") or not error.context or depth > 3:
        return f"at {_where(error)}: {error.message}"
    branches = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    parts = []
    for index, subs in sorted(branches.items()):
        option = error.validator_value[index]
        label = option.get("$ref", "").rsplit("/", 1)[-1] if isinstance(option, dict) else ""
        reasons = [_explain(sub, depth + 1) for sub in subs[:3]]
        parts.append(f"as {label or f'option {index + 1}'}: " + "; ".join(reasons))
    return f"at {_where(error)}: matches none of its {error.validator} alternatives [" + " | ".join(parts) + "]"


def schema_errors(schema, value):
    """Messages, one per problem, saying where `value` breaks `schema`
    (empty when it conforms)."""
    errors = sorted(validator(schema).iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [_explain(e) for e in errors]


def component(name):
    """components/schemas/<name>."""
    return document()["components"]["schemas"][name]


# ------------------------------------------------------------ responses --


def _short(value, limit=600):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _status_key(responses, status):
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return key
    return None


def _parse_json(body, what):
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError as e:
            raise AssertionError(f"{what}: the body is not JSON ({e}): {_short(body)}") from None
    return body


def _header_map(headers):
    if headers is None:
        return None
    items = headers.items() if hasattr(headers, "items") else headers
    return {str(k).lower(): str(v) for k, v in items}


def _check_headers(spec, headers, what):
    """Documented required headers are present and match their schemas."""
    for name, header in (spec.get("headers") or {}).items():
        header = resolve(header)
        value = headers.get(name.lower())
        if value is None:
            if header.get("required"):
                raise AssertionError(f"{what}: header {name} is documented as required but absent; got headers {sorted(headers)}")
            continue
        schema = header.get("schema", {})
        target = resolve(schema) if "$ref" in schema else schema
        typed = value
        if target.get("type") == "integer":
            if not re.fullmatch(r"-?\d+", value):
                raise AssertionError(f"{what}: header {name} must be an integer, got {value!r}")
            typed = int(value)
        problems = schema_errors(schema, typed)
        if problems:
            raise AssertionError(f"{what}: header {name}: {value!r} does not match the document: {'; '.join(problems)}")


def _media_type(content, headers, what):
    if headers is not None and "content-type" in headers:
        essence = headers["content-type"].split(";")[0].strip().lower()
        if essence not in {m.lower() for m in content}:
            raise AssertionError(f"{what}: Content-Type {headers['content-type']!r} is not documented; documented: {sorted(content)}")
        return next(m for m in content if m.lower() == essence)
    if len(content) != 1:
        raise AssertionError(f"{what}: several media types are documented {sorted(content)}; pass headers to choose")
    return next(iter(content))


def _check_error_body(body, code, what):
    body = _parse_json(body, what)
    problems = schema_errors(component("Error"), body)
    if problems:
        raise AssertionError(f"{what}: the body is not an Error ({'; '.join(problems)}): {_short(body)}")
    if body["error"]["code"] != code:
        raise AssertionError(f"{what}: error code is {body['error']['code']!r}, expected {code!r}: {_short(body)}")


def _check_unrouted(method, path, status, body, headers, templates):
    """A request that matches no documented operation."""
    m = method.upper()
    if not templates:
        what = f"{m} {request_path(path)} (matches no path of {DOC_PATH.name})"
        if status != 404:
            raise AssertionError(f"{what}: only 404 not_found is possible, got status {status}: {_short(body)}")
        _check_error_body(body, "not_found", what)
        return None
    template = templates[0]
    allowed = sorted(k.upper() for k in document()["paths"][template] if k in METHODS)
    what = f"{m} {template} (the path has only {', '.join(allowed)})"
    if status != 405:
        raise AssertionError(f"{what}: only 405 method_not_allowed is possible, got status {status}: {_short(body)}")
    _check_error_body(body, "method_not_allowed", what)
    if headers is not None:
        allow = {a.strip().upper() for a in headers.get("allow", "").split(",") if a.strip()}
        if not set(allowed) <= allow:
            raise AssertionError(f"{what}: the Allow header {headers.get('allow')!r} must list {allowed}")
    return template


def validate_response(method, path, status, body, headers=None):
    """Checks one answer against the document; returns the matched template
    (None for a path that matches no template).

    method  -- "GET", "post", ...
    path    -- the request's path or URL ("/v1/tenants/acme?limit=5")
    status  -- the HTTP status (int)
    body    -- the parsed JSON body (dict, list, ...), or the raw body as
               bytes/str (parsed here when the document says JSON), or None
               / b"" when there is none
    headers -- optional response headers (a mapping, or (name, value)
               pairs); when given, documented required headers must be
               present and valid, and Content-Type must be documented
    """
    status = int(status)
    headers = _header_map(headers)
    if path_segments(path) is None:
        what = f"{method.upper()} {request_path(path)} (a malformed percent-escape in the path)"
        if status != 400:
            raise AssertionError(f"{what}: only 400 invalid_argument is possible, got status {status}: {_short(body)}")
        _check_error_body(body, "invalid_argument", what)
        return None
    templates = match_path(path)
    with_method = [t for t in templates if operation(method, t) is not None]
    if not with_method or (status == 405 and operation(method, templates[0]) is None):
        return _check_unrouted(method, path, status, body, headers, templates)
    template = with_method[0]
    op = operation(method, template)
    what = f"{method.upper()} {template} -> {status}"
    responses = op.get("responses", {})
    key = _status_key(responses, status)
    if key is None:
        documented = ", ".join(sorted(responses))
        raise AssertionError(f"{what}: status {status} is not documented for {method.upper()} {template} "
                             f"(documented: {documented}); body: {_short(body)}")
    spec = resolve(responses[key])
    if headers is not None:
        _check_headers(spec, headers, what)
    content = spec.get("content")
    if not content:
        if body not in (None, b"", ""):
            raise AssertionError(f"{what}: the document says no body, got {_short(body)}")
        return template
    media = _media_type(content, headers, what)
    schema = content[media].get("schema", {})
    if "json" not in media:
        if not isinstance(body, (str, bytes, bytearray)):
            raise AssertionError(f"{what}: {media} body must be text, got {type(body).__name__}")
        return template
    if body is None:
        raise AssertionError(f"{what}: a JSON body ({media}) is documented, got none")
    body = _parse_json(body, what)
    problems = schema_errors(schema, body)
    if problems:
        raise AssertionError(f"{what}: the body does not match the document:\n  " + "\n  ".join(problems[:8])
                             + f"\nbody: {_short(body)}")
    return template


# ------------------------------------------------------------- requests --


def request_errors(method, path, body):
    """Problems of a request body against the operation's documented
    requestBody schema (empty list when it conforms). For tests that want
    to be sure a request they send is valid (or deliberately not)."""
    templates = [t for t in match_path(path) if operation(method, t) is not None]
    if not templates:
        raise AssertionError(f"{method.upper()} {request_path(path)}: no documented operation")
    op = operation(method, templates[0])
    if "requestBody" not in op:
        raise AssertionError(f"{method.upper()} {templates[0]}: the operation documents no request body")
    request = resolve(op["requestBody"])
    schema = request["content"]["application/json"]["schema"]
    return schema_errors(schema, _parse_json(body, f"{method.upper()} {templates[0]} request"))
