"""
tests/integration/conftest.py — runs the real `akidb` binary for the
behavioural tests.

`Server` starts `$AKIDB_BIN serve` on a free loopback port with a fresh data
directory and AKIDB_ADMIN_PASSWORD set, waits for GET /ready == 200, and can
be stopped (SIGTERM, must exit 0), killed (SIGKILL) and restarted on the same
data. Its stdout/stderr go to files that are attached to the report of any
failing test. Fixtures:

  server          one server shared by the whole session (most tests)
  sysadmin        a Client logged in as its system admin
  server_factory  makes fresh servers (own data dir, optional config) that
                  are stopped at the end of the test
"""
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from hypothesis import configuration as hypothesis_configuration

import client as cl

# Hypothesis keeps a cache under ./.hypothesis; keep it out of the source tree.
hypothesis_configuration.set_hypothesis_home_dir(
    os.path.join(tempfile.gettempdir(), "akidb-itest-hypothesis"))

ADMIN_USER = "admin"
ADMIN_PASSWORD = "integration-admin-pw-0001"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0

# Environment variables of `akidb serve` that would override our flags or
# point the server somewhere else; never inherited from the caller.
_SCRUBBED_ENV = ("AKIDB_HOST", "AKIDB_REST_PORT", "AKIDB_GRPC_PORT", "AKIDB_DATA_DIR",
                 "AKIDB_DB_PATH", "AKIDB_CONFIG", "AKIDB_ADMIN_PASSWORD", "AKIDB_ADMIN_USERNAME",
                 "AKIDB_DURABILITY", "AKIDB_S3_ENDPOINT", "AKIDB_S3_BUCKET", "ENABLE_TRACING")

# Every Server made in this process, so a failing test can show their logs.
_SERVERS = []


def akidb_bin():
    path = os.environ.get("AKIDB_BIN")
    if not path:
        pytest.fail("AKIDB_BIN is not set: point it at the built `akidb` program "
                    "(ctest sets it; by hand: AKIDB_BIN=build/<dir>/akidb)", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"AKIDB_BIN={path} is not an executable file", pytrace=False)
    return os.path.abspath(path)  # servers run in their own directory


def free_port():
    """A port the kernel just handed out for port 0 (free right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_HELP_CACHE = {}


def serve_help(binary):
    """`akidb serve --help` text (cached), used to find optional flags."""
    if binary not in _HELP_CACHE:
        try:
            p = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True,
                               timeout=20)
            _HELP_CACHE[binary] = p.stdout + p.stderr
        except (OSError, subprocess.TimeoutExpired):
            _HELP_CACHE[binary] = ""
    return _HELP_CACHE[binary]


class Server:
    """One `akidb serve` process over its own data directory."""

    def __init__(self, root, name="server", config=None, extra_args=(), env=None):
        self.binary = akidb_bin()
        self.root = Path(root)
        self.name = name
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = None
        if config is not None:
            self.config_path = self.root / "config.toml"
            self.config_path.write_text(config)
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.admin_user = ADMIN_USER
        self.admin_password = ADMIN_PASSWORD
        self.port = None
        self.grpc_port = None
        self.proc = None
        self.starts = 0
        self.brought_down = False  # stop() or kill() was asked since the last start
        self.stdout_path = self.root / "stdout.log"
        self.stderr_path = self.root / "stderr.log"
        _SERVERS.append(self)

    # ------------------------------------------------------------ helpers --
    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def collections_dir(self):
        return self.data_dir / "collections"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        cmd = [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]
        help_text = serve_help(self.binary)
        if "--grpc-port" in help_text:
            if self.grpc_port is None:
                self.grpc_port = free_port()
            cmd += ["--grpc-port", str(self.grpc_port)]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd + self.extra_args

    def environment(self):
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env["AKIDB_ADMIN_PASSWORD"] = self.admin_password
        env.update(self.extra_env)
        return env

    def logs(self, tail=None):
        out = []
        for label, path in (("stdout", self.stdout_path), ("stderr", self.stderr_path)):
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                lines = ["<no file>"]
            if tail is not None and len(lines) > tail:
                lines = [f"... ({len(lines) - tail} earlier lines in {path})"] + lines[-tail:]
            out.append(f"----- {self.name} {label} ({path}) -----")
            out.extend(lines)
        return "\n".join(out)

    # ---------------------------------------------------------- lifecycle --
    def start(self, same_port=False):
        assert not self.alive(), f"{self.name} is already running"
        attempts = 3
        for attempt in range(attempts):
            if not (same_port and self.port):
                self.port = free_port()
            mode = "a" if self.starts else "w"
            with open(self.stdout_path, mode) as so, open(self.stderr_path, mode) as se:
                banner = f"===== start {self.starts + 1}: {' '.join(self.command())}\n"
                so.write(banner)
                se.write(banner)
                so.flush()
                se.flush()
                self.brought_down = False
                self.proc = subprocess.Popen(self.command(), stdout=so, stderr=se,
                                             stdin=subprocess.DEVNULL, env=self.environment(),
                                             cwd=str(self.root))
            self.starts += 1
            err = self._wait_ready()
            if err is None:
                return self
            if self.alive():
                self.kill()
            text = self.logs(tail=40)
            if "in use" in text.lower() and attempt + 1 < attempts:
                same_port = False  # someone took the port meanwhile: take another
                continue
            raise AssertionError(f"{self.name} did not become ready: {err}\n{text}")
        raise AssertionError(f"{self.name} could not start")

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return f"the process exited with status {rc} while starting"
            try:
                r = requests.get(self.url + "/ready", timeout=2)
                cl.validate("GET", "/ready", r)
                if r.status_code == 200:
                    return None
                last = f"GET /ready -> {r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = f"GET /ready failed: {e.__class__.__name__}"
            time.sleep(0.05)
        return f"not ready after {READY_TIMEOUT_S:.0f} s (last: {last})"

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM; the server must exit 0 within `timeout` seconds."""
        assert self.alive(), f"{self.name} is not running (exit status {self.proc and self.proc.poll()})"
        self.brought_down = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout:.0f} s of SIGTERM\n"
                                 + self.logs(tail=60))
        assert rc == 0, (f"{self.name} exited with status {rc} after SIGTERM (expected 0)\n"
                         + self.logs(tail=60))
        return rc

    def kill(self):
        """SIGKILL, as a crash would."""
        self.brought_down = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def restart(self, graceful=True):
        if graceful:
            self.stop()
        else:
            self.kill()
        return self.start(same_port=True)

    def cleanup(self):
        """Teardown: stop if still running (a refused graceful stop is an error)."""
        if self.alive():
            try:
                self.stop()
            finally:
                self.kill()

    # ------------------------------------------------------------ clients --
    def client(self, token=None):
        return cl.Client(self, token)

    def login_admin(self):
        return cl.login(self, self.admin_user, self.admin_password)


# --------------------------------------------------------------- fixtures --

@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("shared"), name="shared-server")
    s.start()
    yield s
    s.cleanup()


@pytest.fixture(scope="session")
def sysadmin(server):
    return server.login_admin()


@pytest.fixture
def server_factory(tmp_path):
    made = []

    def make(config=None, extra_args=(), env=None, start=True, name=None):
        root = tmp_path / f"srv{len(made)}"
        s = Server(root, name=name or f"fresh-server-{len(made)}", config=config,
                   extra_args=extra_args, env=env)
        made.append(s)
        if start:
            s.start()
        return s

    yield make
    errors = []
    for s in made:
        try:
            s.cleanup()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


@pytest.fixture
def fresh_server(server_factory):
    return server_factory()


# Session expiry: [auth] session_ttl_s is at least 60 s, so rather than sleep
# a minute inside one test, a server with that TTL is started and logged in
# to at the start of the run, and the test that checks the expiry is moved to
# the end of the run (pytest_collection_modifyitems), when the minute is
# (mostly) over.
SESSION_TTL_S = 60
EXPIRY_TEST = "test_session_expires_after_ttl"


@pytest.fixture(scope="session", autouse=True)
def expiring_session(request, tmp_path_factory):
    if not any(item.name == EXPIRY_TEST for item in request.session.items):
        yield None
        return
    s = Server(tmp_path_factory.mktemp("ttl"), name="short-ttl-server",
               config=f"[auth]\nsession_ttl_s = {SESSION_TTL_S}\n")
    s.start()
    c = s.login_admin()
    logged_in_at = time.monotonic()  # the session began before this instant
    me = c.whoami()
    assert me["credential"] == "session", me
    yield {"server": s, "client": c, "logged_in_at": logged_in_at, "ttl_s": SESSION_TTL_S}
    s.cleanup()


def pytest_collection_modifyitems(session, config, items):
    last = [i for i in items if i.name == EXPIRY_TEST]
    items[:] = [i for i in items if i.name != EXPIRY_TEST] + last


# ------------------------------------------------------- failure reports --

# What a sanitizer writes to a server's stderr when it finds something. Under
# ThreadSanitizer (the TSan stage of scripts/run-tests.sh) the server runs with
# TSAN_OPTIONS=halt_on_error=1 and exits at the first race; a report is still
# looked for after each test, so a race in a server the test then killed, or
# one the test did not notice, fails that test with the report.
_SANITIZER_MARKERS = ("WARNING: ThreadSanitizer:", "ERROR: ThreadSanitizer:",
                      "ThreadSanitizer:DEADLYSIGNAL", "ERROR: AddressSanitizer:",
                      "AddressSanitizer:DEADLYSIGNAL", "ERROR: LeakSanitizer:",
                      ": runtime error: ")
_STDERR_CHECKED = {}  # id(Server) -> bytes of its stderr already checked


def _sanitizer_reports(s):
    """New sanitizer reports in a server's stderr since the last look."""
    start = _STDERR_CHECKED.get(id(s), 0)
    try:
        with open(s.stderr_path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size == start:
                return []
            if size < start:
                start = 0  # the file was started anew
            f.seek(start)
            data = f.read()
    except OSError:
        return []
    _STDERR_CHECKED[id(s)] = start + len(data)
    new = data.decode(errors="replace")
    at = [new.find(m) for m in _SANITIZER_MARKERS if m in new]
    if not at:
        return []
    report = new[max(0, new.rfind("\n", 0, min(at)) + 1):]
    return [f"----- {s.name}: sanitizer report ({s.stderr_path}) -----\n{report[:20000]}"]


_DEATHS_SEEN = set()  # (id(Server), start number) of deaths already reported
_SESSION_PROBLEMS = []  # (test, text): repeated at the end of the run (terminal summary)


def _unexpected_death(s):
    """A report when a server exited without stop() or kill(), once per start."""
    if not s.starts or s.brought_down or s.proc is None or s.proc.poll() is None:
        return []
    key = (id(s), s.starts)
    if key in _DEATHS_SEEN:
        return []
    _DEATHS_SEEN.add(key)
    try:
        lines = s.stderr_path.read_text(errors="replace").splitlines()[-60:]
    except OSError:
        lines = ["<no stderr file>"]
    return [f"----- {s.name} exited by itself with status {s.proc.poll()}; "
            f"the end of {s.stderr_path}: -----\n" + "\n".join(lines)]


@pytest.fixture(autouse=True)
def no_sanitizer_reports(request):
    yield
    reports = []
    for s in _SERVERS:
        if s.starts:
            reports.extend(_sanitizer_reports(s))
            reports.extend(_unexpected_death(s))
    if reports:
        text = "\n".join(reports)
        _SESSION_PROBLEMS.append((request.node.nodeid, text))
        pytest.fail("a server crashed or its sanitizer reported a problem:\n" + text,
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    # Repeated here, at the end of the output (after pytest's own short
    # summary: this wrapper is the outermost), because the failures that
    # follow a crashed shared server push the first report, and even a
    # report printed before the short summary (a line per failed test), out
    # of a CI log's visible tail. The CI of 2026-12-05 lost a TSan SEGV so.
    yield
    if not _SESSION_PROBLEMS:
        return
    terminalreporter.section("server crashes and sanitizer reports")
    for nodeid, text in _SESSION_PROBLEMS[:2]:
        lines = text.splitlines()
        terminalreporter.write_line(f"during {nodeid}:")
        for line in lines[:70]:
            terminalreporter.write_line(line)
        if len(lines) > 70:
            terminalreporter.write_line(f"... ({len(lines) - 70} more lines in the report above)")


_SEEN_BEFORE = set()


def pytest_runtest_logstart(nodeid, location):
    _SEEN_BEFORE.clear()
    _SEEN_BEFORE.update(id(s) for s in _SERVERS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        # The servers this test could have talked to: those running now and
        # those started (and perhaps stopped) during it.
        for s in _SERVERS:
            if s.starts and (s.alive() or id(s) not in _SEEN_BEFORE):
                rep.sections.append((f"akidb log: {s.name} (alive={s.alive()})",
                                     s.logs(tail=80)))


def pytest_report_header(config):
    path = os.environ.get("AKIDB_BIN", "<unset>")
    check = Path(__file__).with_name("openapi_check.py")
    return [f"akidb binary: {path}",
            "openapi response validation: " + ("on" if check.exists() else
                                               "OFF (tests/integration/openapi_check.py absent)")]


def pytest_sessionfinish(session, exitstatus):
    # A test that died half-way must not leave a server behind.
    for s in _SERVERS:
        if s.alive():
            s.kill()


# ------------------------------------------------------------------ gRPC --


@pytest.fixture(scope="module")
def stubs():
    """The Python stubs of proto/ (tests/integration/grpc_stubs.py)."""
    import grpc_stubs
    try:
        return grpc_stubs.load()
    except grpc_stubs.StubError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def channel(server):
    """A plaintext gRPC channel to the shared server, ready."""
    import grpc
    assert server.grpc_port, "the server was started without --grpc-port"
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    grpc.channel_ready_future(ch).result(timeout=10)
    yield ch
    ch.close()
