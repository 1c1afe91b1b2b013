#!/usr/bin/python3
"""otlp_standin.py — a stand-in OTLP/HTTP trace receiver for tests.

Standard library only (Debian's /usr/bin/python3). Listens on 127.0.0.1 only.

    otlp_standin.py [--port N] [--port-file FILE] [--max-seconds S]

Prints "PORT <n>" on stdout (and writes the number to --port-file, by a
rename, once it listens); --port 0 (the default) picks a free port.

Receiving
    POST /v1/traces  an ExportTraceServiceRequest in OTLP's JSON mapping
         (Content-Type application/json). The body must parse as JSON; it is
         kept with the request's path and headers, and answered 200 "{}"
         (400 with a message when it does not parse). Any other path: 404.

Control (JSON)
    POST /control {"fail": STATUS, "times": N}  the next N (default 1; -1:
         all) trace requests are answered STATUS (e.g. 503) and not kept
    POST /control {"stall_ms": MS}  every trace request then waits MS
         before it is read and answered (sticky; 0 turns it off)
    POST /control/reset  forgets requests, failures and the stall
    GET  /control/requests  {"count": n, "requests": [{"path", "headers"
         (lower-case names), "body" (the parsed JSON)}, ...]} of the kept ones
    GET  /control/spans  {"count": n, "spans": [...]}: every span of the kept
         requests, in arrival order, each with "resource" (its resource's
         attributes as a {key: value} object, values unwrapped) and "scope"
         added
    POST /control/shutdown  stops the server

Stopping: exits when its parent process goes away, after --max-seconds
(default 600), on SIGTERM/SIGINT, or on /control/shutdown; every wait is
bounded.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = []
        self.fail_status = None
        self.fail_times = 0
        self.stall_ms = 0

    def take_failure(self):
        with self.lock:
            if self.fail_status is None or self.fail_times == 0:
                return None
            if self.fail_times > 0:
                self.fail_times -= 1
            return self.fail_status


STATE = State()
SERVER = None


def unwrap(value):
    """An OTLP AnyValue object as a Python value."""
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in value:
            return value[k]
    if "intValue" in value:
        return int(value["intValue"])
    return value


def flat_spans(requests):
    out = []
    for req in requests:
        for rs in req["body"].get("resourceSpans", []):
            res = {a["key"]: unwrap(a["value"])
                   for a in rs.get("resource", {}).get("attributes", [])}
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    span = dict(span)
                    span["resource"] = res
                    span["scope"] = ss.get("scope", {})
                    out.append(span)
    return out


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        with STATE.lock:
            reqs = list(STATE.requests)
        if self.path == "/control/requests":
            return self.send_json(200, {"count": len(reqs), "requests": reqs})
        if self.path == "/control/spans":
            spans = flat_spans(reqs)
            return self.send_json(200, {"count": len(spans), "spans": spans})
        return self.send_json(404, {"error": "unknown path"})

    def control(self, body):
        cmd = json.loads(body or b"{}")
        with STATE.lock:
            if "fail" in cmd:
                STATE.fail_status = int(cmd["fail"])
                STATE.fail_times = int(cmd.get("times", 1))
            if "stall_ms" in cmd:
                STATE.stall_ms = int(cmd["stall_ms"])
        return self.send_json(200, {"ok": True})

    def do_POST(self):
        if self.path == "/control/shutdown":
            self.send_json(200, {"ok": True})
            threading.Thread(target=SERVER.shutdown, daemon=True).start()
            return None
        if self.path == "/control/reset":
            self.read_body()
            with STATE.lock:
                STATE.reset()
            return self.send_json(200, {"ok": True})
        if self.path == "/control":
            return self.control(self.read_body())
        if self.path != "/v1/traces":
            self.read_body()
            return self.send_json(404, {"error": "unknown path"})
        return self.traces()

    def traces(self):
        with STATE.lock:
            stall = STATE.stall_ms
        if stall:
            time.sleep(stall / 1000.0)
        body = self.read_body()
        status = STATE.take_failure()
        if status is not None:
            return self.send_json(status, {"error": "stand-in failure"})
        try:
            parsed = json.loads(body)
            assert isinstance(parsed, dict)
        except Exception as e:  # noqa: BLE001 — answer like a collector would
            return self.send_json(400, {"error": f"invalid JSON: {e}"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        with STATE.lock:
            STATE.requests.append({"path": self.path, "headers": headers, "body": parsed})
        return self.send_json(200, {})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout) is expected


def watch_parent(parent, deadline):
    while True:
        time.sleep(0.2)
        if os.getppid() != parent or time.monotonic() > deadline:
            os._exit(0)


def main():
    global SERVER
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--max-seconds", type=float, default=600)
    args = ap.parse_args()
    SERVER = Server(("127.0.0.1", args.port), Handler)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    threading.Thread(target=watch_parent,
                     args=(os.getppid(), time.monotonic() + args.max_seconds),
                     daemon=True).start()
    port = SERVER.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, args.port_file)
    print(f"PORT {port}", flush=True)
    SERVER.serve_forever(poll_interval=0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
