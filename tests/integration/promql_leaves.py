"""
tests/integration/promql_leaves.py — splits a PromQL expression into the
operands of its comparisons and set operations ("leaves"), so a test can ask
Prometheus whether each of them returns data.

An alert expression such as

    akidb:request_errors:ratio_rate5m > 0.05 and on (job, instance) akidb:requests:rate5m > 0.1

is normally empty on a healthy server: its value says nothing about whether
the series it watches exist. Its leaves — `akidb:request_errors:ratio_rate5m`
and `akidb:requests:rate5m` — must each return data, or the alert can never
fire (a misspelt metric, a label that does not exist, a ratio whose
denominator is absent). The same holds for every side of an `or`: a
fallback such as `... or 0 * x` must not hide a dead left side.

The split follows PromQL's precedence: the expression is cut at its
top-level `or`s, each part at its top-level `and`/`unless`s, each of those at
its top-level comparisons (`== != > < >= <=`), recursively, skipping the
binary-operator modifiers (`bool`, `on(...)`, `ignoring(...)`,
`group_left(...)`, `group_right(...)`) and unwrapping operands that are one
parenthesised expression. Arithmetic is not split (`a / b` is one leaf:
its result is what a comparison sees). Operands made only of numbers and
arithmetic (`14.4 * 0.001`) are thresholds, not leaves. Brackets, braces and
quoted strings are skipped whole, so `{code!="OK"}` or `[5m]` never split.
"""
import re

_NUMBER_ONLY = re.compile(r"^[\s0-9.eE+\-*/%^()]+$")
_MODIFIER = re.compile(r"^\s*(bool\b|(on|ignoring|group_left|group_right)\s*\([^)]*\)|"
                       r"(group_left|group_right)\b)", re.S)
_OPEN = {"(": ")", "[": "]", "{": "}"}


def _tokens_at_depth0(expr):
    """(index, char) of every character at nesting depth 0, outside strings."""
    depth = 0
    i = 0
    n = len(expr)
    while i < n:
        c = expr[i]
        if c in "\"'`":
            j = i + 1
            while j < n and expr[j] != c:
                j += 2 if expr[j] == "\\" and c != "`" else 1
            i = j + 1
            continue
        if c in _OPEN:
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced brackets in {expr!r}")
        elif depth == 0:
            yield i, c
        i += 1
    if depth != 0:
        raise ValueError(f"unbalanced brackets in {expr!r}")


def _split(expr, level):
    """Cuts expr at its depth-0 operators of `level` ("or", "and", "cmp");
    returns the operands (one when there is none)."""
    cuts = []  # (start, end) of each operator occurrence
    depth0 = list(_tokens_at_depth0(expr))
    positions = {i for i, _ in depth0}
    k = 0
    while k < len(depth0):
        i, c = depth0[k]
        if level == "cmp":
            two = expr[i:i + 2]
            if two in ("==", "!=", ">=", "<=") and i + 1 in positions:
                cuts.append((i, i + 2))
                k += 2
                continue
            if c in "<>":
                cuts.append((i, i + 1))
        else:
            words = ("or",) if level == "or" else ("and", "unless")
            for w in words:
                end = i + len(w)
                if (expr[i:end] == w and all(p in positions for p in range(i, end))
                        and (i == 0 or not (expr[i - 1].isalnum() or expr[i - 1] in "_:"))
                        and (end == len(expr) or not (expr[end].isalnum() or expr[end] in "_:"))):
                    cuts.append((i, end))
                    k += len(w) - 1
                    break
        k += 1
    if not cuts:
        return [expr]
    parts, start = [], 0
    for a, b in cuts:
        parts.append(expr[start:a])
        start = b
    parts.append(expr[start:])
    out = []
    for p in parts:
        while True:  # modifiers right after the operator belong to it
            m = _MODIFIER.match(p)
            if not m:
                break
            p = p[m.end():]
        out.append(p)
    return out


def _unwrap(expr):
    """expr without outer parentheses that enclose all of it."""
    e = expr.strip()
    while e.startswith("(") and e.endswith(")"):
        depth = 0
        for i, c in enumerate(e):
            depth += c == "("
            depth -= c == ")"
            if depth == 0 and i < len(e) - 1:
                return e  # "(a) + (b)": the first group closes early
        e = e[1:-1].strip()
    return e


def leaves(expr):
    """The operands of expr's comparisons and set operations, recursively,
    without thresholds. An expression with neither is its own only leaf."""
    e = _unwrap(expr)
    for level in ("or", "and", "cmp"):
        parts = _split(e, level)
        if len(parts) > 1:
            out = []
            for p in parts:
                out.extend(leaves(p))
            return out
    if _NUMBER_ONLY.match(e):
        return []
    return [e]
