#!/usr/bin/python3
"""embed_standin.py — a stand-in OpenAI-compatible embeddings server for tests.

Standard library only (Debian's /usr/bin/python3). Listens on 127.0.0.1 only.

    embed_standin.py [--port N] [--port-file FILE] [--dimension D]
                     [--ceiling] [--delay-ms MS] [--max-seconds S]

Prints "PORT <n>" on stdout (and writes the number to --port-file) once it
listens; --port 0 (the default) picks a free port.

Embeddings
    POST <anything>/embeddings  {"model": M, "input": str | [str, ...],
                                 "dimensions": D?, "encoding_format": "float"?}
    The dimension is "dimensions" when given, else the digits after the last
    '-' of the model name ("standin-384" → 384), else --dimension (16).
    Component i of the vector of text T (UTF-8 bytes) is
        block = SHA-256(T || big-endian uint32(i // 8))
        u     = big-endian uint32 of block[4*(i % 8) : 4*(i % 8) + 4]
        v_i   = u / 2**31 - 1.0            (in [-1, 1), exact in a double)
    so a test computes the expected vector independently. Not normalised.
    The answer: {"object": "list", "model": M, "data": [{"object":
    "embedding", "index": k, "embedding": [...]}, ...], "usage": {...}}.

Control (JSON)
    POST /control {"fail": MODE, "times": N, ...}  the next N embedding
         requests (default 1; -1: all) fail with MODE:
           "500" "502" "503"  that status with {"error": {"message": ...}}
           "429"              429 with Retry-After: "retry_after" (default "1";
                              "date:S" sends an HTTP date S seconds ahead)
           "400" "401" "404"  that status with an OpenAI-style error body
                              ("message" overrides its text)
           "stall"            sleeps "stall_ms" (default 5000) before answering
           "count"            one embedding fewer than inputs
           "malformed"        a truncated JSON body
           "dimension"        embeddings of twice the asked dimension
           "index_range"      an index equal to the number of inputs
           "index_dup"        index 0 twice
           "nan"              a value too large for a float (1e39)
         other keys: "delay_ms" (every answer waits this long, sticky),
         "reverse" (true: answer data in reverse order, sticky).
    POST /control/reset   forgets requests, failures, delay and reverse
    GET  /control/requests  {"count", "max_concurrent", "requests": [{"n",
         "model", "dimensions", "bytes", "start", "end", "sent", "headers"},
         ...]} (times in seconds, time.monotonic() of this process: "start"
         when the request was read, "end" when its answer was ready — it
         stops counting as in flight then, before it is sent, so
         max_concurrent never exceeds what the client had in flight —
         "sent" once the answer was written)
    GET  /control/stats   {"requests", "inputs", "bytes", "uptime_s",
         "requests_per_s", "inputs_per_s"}: the ceiling benchmark reads it
    POST /control/shutdown  stops the server
    --ceiling records no per-request detail (counters only) and ignores
    failure commands, so the stand-in runs as fast as it can.
    --delay-ms sets the sticky "delay_ms" from the start (a model's
    inference time: a sleep, no CPU; /control/reset clears it).

Stopping: exits when its parent process goes away, after --max-seconds
(default 900), on SIGTERM/SIGINT, or on /control/shutdown; every wait is
bounded.
"""
import argparse
import email.utils
import hashlib
import json
import os
import re
import signal
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def component_block(text_bytes, block):
    return hashlib.sha256(text_bytes + struct.pack(">I", block)).digest()


def vector(text, dim):
    """The deterministic embedding of text (see the module docstring)."""
    data = text.encode("utf-8")
    out = []
    for b in range((dim + 7) // 8):
        block = component_block(data, b)
        for k in range(8):
            if len(out) == dim:
                break
            (u,) = struct.unpack(">I", block[4 * k:4 * k + 4])
            out.append(u / 2147483648.0 - 1.0)
    return out


class State:
    def __init__(self, default_dim, ceiling):
        self.lock = threading.Lock()
        self.default_dim = default_dim
        self.ceiling = ceiling
        self.started = time.monotonic()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.count = 0
            self.inputs = 0
            self.bytes = 0
            self.in_flight = 0
            self.max_concurrent = 0
            self.fail = None
            self.fail_times = 0
            self.fail_opts = {}
            self.delay_ms = 0
            self.reverse = False
            self.started = time.monotonic()

    def take_failure(self):
        """The failure mode for this request (consumes one), or None."""
        with self.lock:
            if self.ceiling or not self.fail or self.fail_times == 0:
                return None, {}
            if self.fail_times > 0:
                self.fail_times -= 1
            return self.fail, dict(self.fail_opts)


STATE = None
SERVER = None


def model_dimension(model, dims):
    if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0:
        return dims
    m = re.search(r"-(\d+)$", model or "")
    if m and 0 < int(m.group(1)) <= 65536:
        return int(m.group(1))
    return STATE.default_dim


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "embed-standin/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # ---------------------------------------------------------- control
    def do_GET(self):
        if self.path == "/control/requests":
            with STATE.lock:
                obj = {"count": STATE.count, "max_concurrent": STATE.max_concurrent,
                       "requests": list(STATE.requests)}
            return self.send_json(200, obj)
        if self.path == "/control/stats":
            with STATE.lock:
                up = max(time.monotonic() - STATE.started, 1e-9)
                obj = {"requests": STATE.count, "inputs": STATE.inputs, "bytes": STATE.bytes,
                       "uptime_s": up, "requests_per_s": STATE.count / up,
                       "inputs_per_s": STATE.inputs / up}
            return self.send_json(200, obj)
        if self.path == "/health":
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"error": {"message": "no such path"}})

    def control(self, body):
        cmd = json.loads(body or b"{}")
        with STATE.lock:
            if "fail" in cmd:
                STATE.fail = str(cmd["fail"]) if cmd["fail"] else None
                STATE.fail_times = int(cmd.get("times", 1))
                STATE.fail_opts = {k: v for k, v in cmd.items() if k not in ("fail", "times")}
            if "delay_ms" in cmd:
                STATE.delay_ms = int(cmd["delay_ms"])
            if "reverse" in cmd:
                STATE.reverse = bool(cmd["reverse"])
        return self.send_json(200, {"ok": True})

    def do_POST(self):
        body = self.read_body()
        if self.path == "/control":
            return self.control(body)
        if self.path == "/control/reset":
            STATE.reset()
            return self.send_json(200, {"ok": True})
        if self.path == "/control/shutdown":
            self.send_json(200, {"ok": True})
            threading.Thread(target=SERVER.shutdown, daemon=True).start()
            return None
        if self.path.endswith("/embeddings"):
            return self.embeddings(body)
        return self.send_json(404, {"error": {"message": "no such path"}})

    # ------------------------------------------------------- embeddings
    def record_start(self, req, body):
        inputs = req.get("input")
        n = 1 if isinstance(inputs, str) else len(inputs or [])
        with STATE.lock:
            STATE.in_flight += 1
            STATE.max_concurrent = max(STATE.max_concurrent, STATE.in_flight)
            STATE.count += 1
            STATE.inputs += n
            STATE.bytes += len(body)
            if STATE.ceiling:
                return None
            rec = {"n": n, "model": req.get("model"), "dimensions": req.get("dimensions"),
                   "bytes": len(body), "start": time.monotonic(), "end": None,
                   "sent": None,
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            STATE.requests.append(rec)
            return rec

    def record_end(self, rec):
        with STATE.lock:
            STATE.in_flight -= 1
            if rec is not None:
                rec["end"] = time.monotonic()

    def embeddings(self, body):
        try:
            req = json.loads(body)
            assert isinstance(req, dict)
        except Exception as e:  # noqa: BLE001 — answer like a server would
            return self.send_json(400, {"error": {"message": f"invalid JSON: {e}"}})
        rec = self.record_start(req, body)
        try:
            status, obj, headers, raw = self.answer(req)
        finally:
            # the request stops counting as in flight before its answer is
            # sent: the client cannot start its next request earlier, so
            # max_concurrent never exceeds the client's own count
            self.record_end(rec)
        self.send_json(status, obj, headers=headers, raw=raw)
        if rec is not None:
            with STATE.lock:
                rec["sent"] = time.monotonic()
        return None

    def answer(self, req):
        """(status, object, headers, raw body or None) for one request."""
        inputs = req.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dim = model_dimension(req.get("model"), req.get("dimensions"))
        mode, opts = STATE.take_failure()
        if STATE.delay_ms:
            time.sleep(STATE.delay_ms / 1000.0)
        early = self.fail_early(mode, opts) if mode else None
        if early:
            return early
        if mode == "dimension":
            dim *= 2
        data = [{"object": "embedding", "index": i, "embedding": vector(t, dim)}
                for i, t in enumerate(texts)]
        self.corrupt(mode, data, len(texts))
        if STATE.reverse:
            data.reverse()
        obj = {"object": "list", "model": req.get("model"), "data": data,
               "usage": {"prompt_tokens": 0, "total_tokens": 0}}
        raw = None
        if mode == "malformed":
            raw = json.dumps(obj).encode()[:-7]
        elif mode == "nan" and data:
            text = json.dumps(obj)
            first = text.index('"embedding": [') + len('"embedding": [')
            end = min(i for i in (text.find(",", first), text.find("]", first)) if i >= 0)
            raw = (text[:first] + "1e39" + text[end:]).encode()
        return 200, obj, None, raw

    @staticmethod
    def fail_early(mode, opts):
        """The answer of a failure mode that sends no embeddings, or None."""
        if mode in ("500", "502", "503", "400", "401", "404"):
            msg = opts.get("message", f"stand-in failure {mode}")
            return int(mode), {"error": {"message": msg, "type": "standin"}}, None, None
        if mode == "429":
            ra = str(opts.get("retry_after", "1"))
            if ra.startswith("date:"):
                ra = email.utils.formatdate(time.time() + float(ra[5:]), usegmt=True)
            return (429, {"error": {"message": "rate limited by the stand-in"}},
                    {"Retry-After": ra}, None)
        if mode == "stall":
            time.sleep(int(opts.get("stall_ms", 5000)) / 1000.0)
        return None

    @staticmethod
    def corrupt(mode, data, n):
        if mode == "count" and data:
            data.pop()
        elif mode == "index_range" and data:
            data[-1]["index"] = n
        elif mode == "index_dup" and len(data) > 1:
            data[-1]["index"] = 0


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a client that hung up (a timeout under test) is expected: stay quiet
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def watch_parent(parent, deadline):
    """Stops the server when the parent is gone or the lifetime is over."""
    while True:
        time.sleep(0.2)
        if os.getppid() != parent or time.monotonic() > deadline:
            os._exit(0)


def main():
    global STATE, SERVER
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--dimension", type=int, default=16)
    ap.add_argument("--ceiling", action="store_true")
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    args = ap.parse_args()
    STATE = State(args.dimension, args.ceiling)
    STATE.delay_ms = max(0, args.delay_ms)
    SERVER = Server(("127.0.0.1", args.port), Handler)
    port = SERVER.server_address[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    threading.Thread(target=watch_parent,
                     args=(os.getppid(), time.monotonic() + args.max_seconds),
                     daemon=True).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, args.port_file)
    print(f"PORT {port}", flush=True)
    SERVER.serve_forever(poll_interval=0.1)
    SERVER.server_close()


if __name__ == "__main__":
    sys.exit(main())
