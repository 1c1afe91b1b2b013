"""
tests/integration/grpc_stubs.py — Python stubs of AkiDB's gRPC contract
(every .proto under proto/), generated at test time and imported, for the
tests that speak gRPC. Nothing generated is kept in the source tree.

    import grpc_stubs
    s = grpc_stubs.load()             # generates once per process
    s.points_pb2.UpsertRequest(...)   # akidb/v1/points.proto messages
    s.points_pb2_grpc.PointServiceStub(channel)
    s.health_pb2_grpc.HealthStub(channel)

Generation is `protoc --python_out --grpc_python_out
--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin` (Debian
packages protobuf-compiler, protobuf-compiler-grpc, python3-grpcio;
scripts/install-deps.sh installs them) into a temporary directory
($AKIDB_GRPC_STUBS_DIR when set, e.g. a build directory), which goes on
sys.path. The generated grpc/health/v1/ lies under a directory named
`grpc`, like the grpcio package itself; it is reached by extending
grpc.__path__, so `import grpc` still finds grpcio.
"""
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PROTOC = "/usr/bin/protoc"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"
INSTALL_HINT = ("install protobuf-compiler, protobuf-compiler-grpc and python3-grpcio "
                "(scripts/install-deps.sh does)")


class StubError(RuntimeError):
    """protoc is missing or refused a .proto (the message has its output)."""


def proto_files():
    """Every .proto under proto/, as paths relative to it ("akidb/v1/points.proto")."""
    return sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))


def module_name(rel, suffix="_pb2"):
    """"akidb/v1/points.proto" -> "akidb.v1.points_pb2"."""
    return rel[: -len(".proto")].replace("/", ".") + suffix


def generate(out_dir):
    """Runs protoc on every .proto into `out_dir` (created). Returns protoc's
    stderr (its warnings); raises StubError when protoc fails."""
    for tool in (PROTOC, GRPC_PYTHON_PLUGIN):
        if not os.access(tool, os.X_OK):
            raise StubError(f"{tool} is missing: {INSTALL_HINT}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [PROTOC, f"-I{PROTO_ROOT}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
           f"--plugin=protoc-gen-grpc_python={GRPC_PYTHON_PLUGIN}", *proto_files()]
    p = subprocess.run(cmd, cwd=str(PROTO_ROOT), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise StubError(f"protoc exited {p.returncode}:\n{p.stderr}")
    return p.stderr


_LOADED = None


def load():
    """Generates the stubs (once per process) and imports them. Returns a
    namespace with one attribute per generated module, named by the file:
    points_pb2, points_pb2_grpc, health_pb2, ... (file names are unique
    across proto/; a clash is an error)."""
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    out_dir = os.environ.get("AKIDB_GRPC_STUBS_DIR")
    if not out_dir:
        out_dir = tempfile.mkdtemp(prefix="akidb-grpc-stubs-")
        atexit.register(shutil.rmtree, out_dir, True)
    generate(out_dir)
    import grpc  # grpcio: the generated *_pb2_grpc modules import it

    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    # grpc.health.v1 is ours: let the grpc package also look in out_dir/grpc.
    ours = os.path.join(out_dir, "grpc")
    if os.path.isdir(ours) and ours not in grpc.__path__:
        grpc.__path__.append(ours)
    importlib.invalidate_caches()
    ns = types.SimpleNamespace(out_dir=out_dir, modules={})
    for rel in proto_files():
        for suffix in ("_pb2", "_pb2_grpc"):
            name = module_name(rel, suffix)
            mod = importlib.import_module(name)
            short = name.rsplit(".", 1)[1]
            if hasattr(ns, short):
                raise StubError(f"two .proto files generate {short}: name them apart")
            setattr(ns, short, mod)
            ns.modules[name] = mod
    _LOADED = ns
    return ns
