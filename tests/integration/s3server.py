"""
tests/integration/s3server.py — s3rver (a real S3 wire-protocol server from
npm, installed under build/npm by node-tools.sh) on a free loopback port,
for the tests of AkiDB's S3 object store: start, stop, kill, pause (SIGSTOP)
and resume, always in bounded time; a boto3 client on it; where s3rver
keeps an object's bytes on disk (to corrupt one); and a loopback proxy in
front of it that runs an action (kill s3rver) once a given number of
request bytes went through, so a fault lands in the middle of an upload. s3rver checks only that
the access key exists (S3RVER); it does not verify signatures.
"""
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY = SECRET_KEY = "S3RVER"
BUCKET = "akidb-it"
START_TIMEOUT_S = 60.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3rver:
    def __init__(self, root):
        self.dir = Path(root) / "s3rver"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = Path(root) / "s3rver.log"
        self.port = free_port()
        self.proc = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def env(self):
        """The environment that points `akidb serve` at this server."""
        return {"AKIDB_S3_ENDPOINT": self.endpoint, "AKIDB_S3_BUCKET": BUCKET,
                "AKIDB_S3_ACCESS_KEY": ACCESS_KEY, "AKIDB_S3_SECRET_KEY": SECRET_KEY}

    def start(self):
        env = dict(os.environ)
        # s3rver's listing continuation tokens use DES: OpenSSL 3's legacy provider.
        env["NODE_OPTIONS"] = "--openssl-legacy-provider"
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [str(ROOT / "tests/integration/node-tools.sh"), "s3rver", "-d", str(self.dir),
                 "-a", "127.0.0.1", "-p", str(self.port), "--silent", "--configure-bucket",
                 BUCKET], stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"s3rver exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"s3rver did not listen within {START_TIMEOUT_S} s")

    def _signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self):
        """Kills it (and node-tools.sh's child) and waits."""
        if not self.proc:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def pause(self):
        self._signal(signal.SIGSTOP)

    def resume(self):
        self._signal(signal.SIGCONT)

    def object_files(self, name_part):
        """s3rver's files holding the bytes of objects whose key contains name_part."""
        return [p for p in self.dir.rglob("*._S3rver_object") if name_part in str(p)]

    def boto3(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"},
                                          signature_version="s3v4",
                                          retries={"max_attempts": 1}))


class CuttingProxy:
    """A TCP proxy on a free loopback port in front of `target_port`. Once
    armed with arm(limit, action), the first time more than `limit` bytes of
    requests (client to server) have gone through since arming it runs
    `action` (e.g. S3rver.kill), drops every open connection and sets
    `fired`. New connections are forwarded again afterwards (to whatever
    listens on the target port then). `seen` keeps the first 4 MB of the
    requests' bytes (headers included)."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.socks = set()
        self.sent = 0
        self.armed = None
        self.fired = threading.Event()
        self.closed = False
        self.seen = bytearray()  # the first 4 MB of requests (client to server)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def arm(self, limit, action):
        with self.lock:
            self.sent = 0
            self.armed = (limit, action)
            self.fired.clear()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, src, dst, requests):
        action = None
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if requests:
                    with self.lock:
                        self.sent += len(data)
                        if len(self.seen) < 4 << 20:
                            self.seen += data[:(4 << 20) - len(self.seen)]
                        if self.armed and self.sent > self.armed[0]:
                            action, self.armed = self.armed[1], None
                    if action:
                        break  # this chunk never reaches the server
                dst.sendall(data)
        except OSError:
            pass
        if action:
            action()
            self.drop_all()
            self.fired.set()
        for s in (src, dst):
            self._close(s)

    def _close(self, s):
        with self.lock:
            self.socks.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def drop_all(self):
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            self._close(s)

    def close(self):
        self.closed = True
        self.lsock.close()
        self.drop_all()
