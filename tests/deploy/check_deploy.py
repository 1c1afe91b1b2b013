#!/usr/bin/python3
"""tests/deploy/check_deploy.py — offline checks of the packaging in deploy/
(docs/deploy.md): the Dockerfile, the compose stack, the Prometheus scrape
configuration, the kustomize base and the Helm chart. No container engine or
cluster is needed (none runs on this project's machines); the tools are
Debian's yamllint, docker-compose, kubectl (Debian's kubernetes-client or any
other) and promtool, and the npm packages of tests/deploy/package.json
(installed under build/npm-deploy on first use). A missing tool is a failure,
never a skip. Every check runs; the last line is "N passed, M failed" and the
exit status is 1 when any failed.

Environment: AKIDB_BIN the built `akidb` (its configuration parser judges
every config.toml and environment here; its libraries decide the runtime
packages); AKIDB_NPM_DEPLOY_DIR overrides build/npm-deploy.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import traceback

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(ROOT, "deploy")
DOCKERFILE = os.path.join(DEPLOY, "docker", "Dockerfile")
COMPOSE = os.path.join(DEPLOY, "compose", "docker-compose.yaml")
CHART = os.path.join(DEPLOY, "helm", "akidb")
KUSTOMIZE = os.path.join(DEPLOY, "kustomize")
AKIDB = os.path.abspath(os.environ.get("AKIDB_BIN",
                                       os.path.join(ROOT, "build", "release", "akidb")))
NPM_DIR = os.environ.get("AKIDB_NPM_DEPLOY_DIR", os.path.join(ROOT, "build", "npm-deploy"))
UID = 10001  # the image's user, the pod's runAsUser, the compose user

results = []  # (name, error or None)


class CheckError(Exception):
    pass


def require(cond, message):
    if not cond:
        raise CheckError(message)


def run(cmd, env=None, cwd=None, timeout=120):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def check(fn):
    """Runs one named check, records its outcome, never stops the others."""
    name = fn.__name__.removeprefix("check_")
    try:
        fn()
        results.append((name, None))
        print(f"PASS {name}")
    except CheckError as e:
        results.append((name, str(e)))
        print(f"FAIL {name}: {e}")
    except Exception:  # a crash of the check itself is a failure too
        results.append((name, traceback.format_exc()))
        print(f"FAIL {name}:\n{traceback.format_exc()}")
    return fn


# ------------------------------------------------------------ helpers --

def tool(name):
    path = shutil.which(name)
    require(path, f"'{name}' is not installed (scripts/install-deps.sh installs it)")
    return path


def print_config(env_vars=None, config_file=None):
    """`akidb serve --print-config` in a clean environment: the server's own
    parser accepts the configuration (exit 0) and prints it as TOML."""
    require(os.access(AKIDB, os.X_OK), f"no akidb binary at {AKIDB} (set AKIDB_BIN)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(env_vars or {})
    cmd = [AKIDB, "serve", "--print-config"]
    if config_file:
        cmd += ["--config", config_file]
    with tempfile.TemporaryDirectory() as cwd:  # no ./config.toml around
        r = run(cmd, env=env, cwd=cwd)
    require(r.returncode == 0, f"akidb rejects the configuration: {r.stderr.strip()}")
    return tomllib.loads(r.stdout)


def known_env_names():
    """The environment variables `akidb serve --help` documents."""
    r = run([AKIDB, "serve", "--help"])
    require(r.returncode == 0, "akidb serve --help failed")
    return set(re.findall(r"\bAKIDB_[A-Z0-9_]+\b", r.stdout))


def lib_package(lib):
    r = run(["dpkg", "-S", f"*/{lib}"])
    require(r.returncode == 0, f"dpkg -S finds no package for {lib}")
    pkgs = {line.split(":")[0] for line in r.stdout.splitlines()}
    # Multilib copies of libc (libc6-i386, libc6-amd64...) also match.
    return sorted(pkgs, key=lambda p: (p != "libc6", len(p)))[0]


def installed_closure(packages):
    """The packages and everything they depend on, per the dpkg database of
    this machine (where the libraries of the built akidb are installed)."""
    seen, pending = set(), list(packages)
    while pending:
        p = pending.pop()
        if p in seen:
            continue
        seen.add(p)
        r = run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", p])
        if r.returncode != 0:
            continue
        for dep in r.stdout.split(","):
            name = dep.split("|")[0].strip().split(" ")[0].split(":")[0]
            if name:
                pending.append(name)
    return seen


def parse_dockerfile(path):
    """Instructions as (KEYWORD, arguments) with continuation lines joined."""
    out, buf = [], ""
    for line in open(path, encoding="utf-8"):
        s = line.rstrip("\n")
        if not buf and (not s.strip() or s.lstrip().startswith("#")):
            continue
        if s.lstrip().startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        kw, _, args = buf.strip().partition(" ")
        out.append((kw.upper(), " ".join(args.split())))
        buf = ""
    return out


def stages(instrs):
    """[(FROM arguments, [instructions])] per stage."""
    st = []
    for kw, args in instrs:
        if kw == "FROM":
            st.append((args, []))
        elif st:
            st[-1][1].append((kw, args))
    return st


def apt_packages(run_args):
    m = re.search(r"apt-get install -y --no-install-recommends (.*?)(?:&&|$)", run_args)
    require(m, f"no apt-get install in: {run_args[:80]}")
    return set(m.group(1).split())


def deps_script_packages():
    """The packages of scripts/install-deps.sh --server (its first list)."""
    text = open(os.path.join(ROOT, "scripts", "install-deps.sh"), encoding="utf-8").read()
    block = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M).group(1)
    words = []
    for line in block.splitlines():
        words += line.split("#")[0].split()
    return set(words)


def kustomize(directory):
    r = run([tool("kubectl"), "kustomize", directory])
    require(r.returncode == 0, f"kubectl kustomize {directory}: {r.stderr.strip()}")
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def by_kind(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind
             and (name is None or o["metadata"]["name"] == name)]
    require(found, f"no {kind}{' ' + name if name else ''} in the rendered manifests")
    return found


def subset(small, big):
    return all(big.get(k) == v for k, v in small.items())


def compose_config(env_file_text, extra_env=None):
    """`docker-compose config` with only these variables (a temporary env
    file, so a developer's deploy/compose/.env does not interfere)."""
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        f.write(env_file_text)
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir()}
        env.update(extra_env or {})
        return run([tool("docker-compose"), "--env-file", f.name, "-f", COMPOSE, "config"],
                   env=env)
    finally:
        os.unlink(f.name)


COMPOSE_ENV = ("AKIDB_ADMIN_PASSWORD=check-admin-password\n"
               "MINIO_ROOT_USER=check-user\n"
               "MINIO_ROOT_PASSWORD=check-minio-password\n"
               "GRAFANA_ADMIN_PASSWORD=check-grafana-password\n")


def npm_tools():
    """Installs tests/deploy/package.json's pins into NPM_DIR (npm ci, once
    per change of the pins; a lock serialises concurrent runs)."""
    tool("node")
    npm = tool("npm")
    os.makedirs(NPM_DIR, exist_ok=True)
    pins = [os.path.join(HERE, "package.json"), os.path.join(HERE, "package-lock.json")]
    stamp = hashlib.sha256(b"".join(open(p, "rb").read() for p in pins)).hexdigest()
    stamp_file = os.path.join(NPM_DIR, ".stamp")
    with open(os.path.join(NPM_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(stamp_file) or open(stamp_file).read().strip() != stamp:
            for p in pins:
                shutil.copy(p, NPM_DIR)
            r = run([npm, "ci", "--prefix", NPM_DIR, "--no-audit", "--no-fund",
                     "--loglevel=error"], timeout=600)
            require(r.returncode == 0,
                    f"npm ci into {NPM_DIR} failed (is the npm registry reachable?): "
                    f"{r.stderr.strip()[-500:]}")
            with open(stamp_file, "w") as f:
                f.write(stamp + "\n")
    return NPM_DIR


def schema_check(objs):
    """Runs k8s_schema.mjs on the objects: (exit status, output)."""
    npm_dir = npm_tools()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(objs, f)
    try:
        r = run([tool("node"), os.path.join(HERE, "k8s_schema.mjs"), npm_dir, f.name])
    finally:
        os.unlink(f.name)
    return r.returncode, r.stdout + r.stderr


# ------------------------------------------------------------- checks --

@check
def check_tools_installed():
    for t in ("yamllint", "docker-compose", "kubectl", "promtool", "node", "npm", "dpkg",
              "readelf"):
        tool(t)
    require(os.access(AKIDB, os.X_OK), f"no akidb binary at {AKIDB}")


@check
def check_yamllint():
    files = [COMPOSE, os.path.join(DEPLOY, "prometheus", "prometheus.yml"),
             os.path.join(CHART, "Chart.yaml"), os.path.join(CHART, "values.yaml")]
    for dirpath, _, names in os.walk(KUSTOMIZE):
        files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".yaml")]
    # The chart's templates are Go templates, not YAML: checked by
    # helm_templates below instead.
    r = run([tool("yamllint"), "-s", "-c", os.path.join(HERE, "yamllint.yaml")] + files)
    require(r.returncode == 0, f"yamllint:\n{r.stdout}{r.stderr}")


@check
def check_dockerfile_stages_and_user():
    st = stages(parse_dockerfile(DOCKERFILE))
    require(len(st) == 2, f"expected two stages (build, runtime), found {len(st)}")
    require(st[0][0] == "debian:bookworm AS build", f"build stage is FROM {st[0][0]}")
    require(st[1][0] == "debian:bookworm-slim AS runtime", f"runtime stage is FROM {st[1][0]}")
    final = dict()
    for kw, args in st[1][1]:
        final.setdefault(kw, []).append(args)
    require(final.get("USER") == [f"{UID}:{UID}"], f"runtime USER is {final.get('USER')}")
    require(any(f"--uid {UID}" in a for a in final["RUN"]), f"no user with uid {UID} created")
    hc = final.get("HEALTHCHECK", [])
    require(len(hc) == 1 and "CMD curl" in hc[0] and "/health" in hc[0],
            f"HEALTHCHECK must curl /health: {hc}")
    require("curl" in apt_packages(final["RUN"][0]), "curl (the HEALTHCHECK's) not installed")
    require(set(" ".join(final.get("EXPOSE", [])).split()) == {"8080", "50051"},
            f"EXPOSE {final.get('EXPOSE')}")
    require(final.get("VOLUME") == ['["/var/lib/akidb"]'], f"VOLUME {final.get('VOLUME')}")
    require(final.get("ENTRYPOINT") == ['["/usr/local/bin/akidb"]'] and
            final.get("CMD") == ['["serve"]'], "ENTRYPOINT/CMD must run `akidb serve`")
    require(any(a.startswith("--from=build ") and a.endswith("/usr/local/bin/akidb")
                for a in final["COPY"]), "the binary is not copied from the build stage")
    require(final.get("WORKDIR") == ["/etc/akidb"], "WORKDIR must be /etc/akidb "
            "(where ./config.toml is read)")
    require(not any(a.startswith("AKIDB_") for a in final.get("ENV", [])),
            "AKIDB_* in ENV would override the mounted config.toml")


@check
def check_dockerfile_packages_match_binary():
    st = stages(parse_dockerfile(DOCKERFILE))
    build_pkgs = apt_packages([a for k, a in st[0][1] if k == "RUN"][0])
    runtime_pkgs = apt_packages([a for k, a in st[1][1] if k == "RUN"][0])
    wanted = {p for p in deps_script_packages() if p.endswith("-dev") or p in
              ("build-essential", "cmake", "pkg-config", "protobuf-c-compiler")}
    missing = wanted - build_pkgs
    require(not missing, f"build stage lacks install-deps.sh packages: {sorted(missing)}")
    require("libgrpc-dev" in build_pkgs, "build stage lacks libgrpc-dev (the gRPC server)")
    r = run(["readelf", "-d", AKIDB])
    require(r.returncode == 0, "readelf -d akidb failed")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", r.stdout)
    require(needed, "akidb has no NEEDED libraries (a static build?)")
    # A sanitizer build (make test's ASan stage) also links the sanitizer
    # runtimes, which the image's release build does not.
    needed = [lib for lib in needed if not re.match(r"lib(asan|ubsan|tsan|lsan)\.so", lib)]
    needed_pkgs = {lib_package(lib) for lib in needed} - {"libc6"}  # in every Debian image
    # A library package the list pulls in through Debian's dependencies counts
    # (a sanitizer build also names libgrpc's own libraries, e.g. abseil).
    missing = needed_pkgs - installed_closure(runtime_pkgs)
    require(not missing, f"runtime stage lacks the packages of linked libraries: "
            f"{sorted(missing)}")
    extra = runtime_pkgs - needed_pkgs - {"ca-certificates", "curl", "libatomic1"}
    require(not extra, f"runtime stage installs packages akidb does not link: {sorted(extra)}")


@check
def check_dockerfile_context():
    st = stages(parse_dockerfile(DOCKERFILE))
    ignore = open(DOCKERFILE + ".dockerignore", encoding="utf-8").read().split("\n")
    allowed = [l[1:].rstrip("/") for l in ignore if l.startswith("!")]
    require("*" in ignore, "the .dockerignore must exclude everything by default")
    sources = []
    for _, instrs in st:
        for kw, args in instrs:
            if kw == "COPY" and not args.startswith("--from="):
                sources += args.split()[:-1]
    require(sources, "no COPY from the build context")
    for s in sources:
        s = s.rstrip("/")
        require(os.path.exists(os.path.join(ROOT, s)), f"COPY source {s} does not exist")
        require(s in allowed, f"COPY source {s} is excluded by Dockerfile.dockerignore")


@check
def check_image_config():
    path = os.path.join(DEPLOY, "docker", "config.toml")
    cfg = print_config(config_file=path)
    require(cfg["server"]["host"] == "0.0.0.0", "the image must listen on 0.0.0.0")
    require(cfg["storage"]["data_dir"] == "/var/lib/akidb", "data_dir must be the volume")
    require(cfg["server"]["rest_port"] == 8080 and cfg["server"]["grpc_port"] == 50051,
            "the image's ports are 8080 and 50051 (EXPOSE, HEALTHCHECK)")


@check
def check_compose_config():
    r = compose_config(COMPOSE_ENV)
    require(r.returncode == 0, f"docker-compose config: {r.stderr.strip()}")
    c = yaml.safe_load(r.stdout)
    svc = c["services"]
    require(set(svc) == {"akidb", "minio", "minio-init", "prometheus", "grafana"},
            f"services {sorted(svc)}")
    for name in ("minio", "minio-init", "prometheus", "grafana"):
        image = svc[name].get("image", "")
        require(re.fullmatch(r"(minio/minio|prom/prometheus|grafana/grafana):[^:]+", image)
                and not image.endswith(":latest"), f"{name}: image {image!r} not pinned")
    a = svc["akidb"]
    require(a["build"]["dockerfile"] == "deploy/docker/Dockerfile" and
            os.path.samefile(a["build"]["context"], ROOT), "akidb must build deploy/docker")
    published = {(p.split(":")[-2], p.split(":")[-1].split("/")[0]) for p in a["ports"]}
    require(published == {("8080", "8080"), ("50051", "50051")}, f"akidb ports {a['ports']}")
    require(a.get("read_only") is True, "akidb must run with a read-only root file system")
    require(any(t.startswith("/tmp") for t in a.get("tmpfs", [])), "akidb needs a tmpfs /tmp")
    require(a.get("user") == f"{UID}:{UID}", f"akidb user {a.get('user')}")
    require(a.get("cap_drop") == ["ALL"], "akidb must drop all capabilities")
    require(any(v.endswith(":/var/lib/akidb:rw") for v in a["volumes"]),
            "akidb's data volume must be at /var/lib/akidb")
    require(any(u.endswith("/ready") or u.endswith("/health")
                for u in a["healthcheck"]["test"]), "akidb healthcheck")
    require(a["depends_on"]["minio-init"]["condition"] == "service_completed_successfully",
            "akidb must wait for the bucket")
    e = a["environment"]
    require(e["AKIDB_S3_ENDPOINT"] == "http://minio:9000", "S3 endpoint must be MinIO")
    require(e["AKIDB_OBJECT_STORE"] == "s3", "object store must be s3")
    m = svc["minio"]["environment"]
    require(e["AKIDB_S3_ACCESS_KEY"] == m["MINIO_ROOT_USER"] == "check-user" and
            e["AKIDB_S3_SECRET_KEY"] == m["MINIO_ROOT_PASSWORD"] == "check-minio-password",
            "AkiDB's S3 keys must be MinIO's credentials")
    init = svc["minio-init"]
    require(init["environment"]["AKIDB_S3_BUCKET"] == e["AKIDB_S3_BUCKET"],
            "minio-init must create AkiDB's bucket")
    script = " ".join(init["command"])
    require("mc mb" in script and "$AKIDB_S3_BUCKET" in script and "minio:9000" in script,
            f"minio-init command: {script}")
    require(svc["minio"]["command"][:2] == ["server", "/data"], "minio command")
    unknown = {k for k in e if k.startswith("AKIDB_")} - known_env_names()
    require(not unknown, f"akidb does not know {sorted(unknown)}")
    cfg = print_config({k: str(v) for k, v in e.items()})
    require(cfg["object_store"]["endpoint"] == "http://minio:9000" and
            cfg["server"]["host"] == "0.0.0.0", "akidb's effective configuration")
    vols = {v.split(":")[1]: v.split(":")[0] for v in svc["prometheus"]["volumes"]}
    for target, src in (("/etc/prometheus/prometheus.yml", "prometheus/prometheus.yml"),
                        ("/etc/prometheus/alerts.yml", "prometheus/alerts.yml")):
        require(vols.get(target) == os.path.join(DEPLOY, src), f"prometheus mounts {target}")
    vols = {v.split(":")[1]: v.split(":")[0] for v in svc["grafana"]["volumes"]}
    for target, src in (("/etc/grafana/provisioning", "grafana/provisioning"),
                        ("/var/lib/grafana/dashboards", "grafana/dashboards")):
        require(vols.get(target) == os.path.join(DEPLOY, src), f"grafana mounts {target}")


@check
def check_compose_requires_passwords():
    for var in ("AKIDB_ADMIN_PASSWORD", "MINIO_ROOT_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        env = "".join(l + "\n" for l in COMPOSE_ENV.splitlines() if not l.startswith(var))
        r = compose_config(env)
        require(r.returncode != 0 and f"{var} is required" in r.stderr,
                f"docker-compose config must refuse a missing {var}")
    example = open(os.path.join(DEPLOY, "compose", ".env.example"), encoding="utf-8").read()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", open(COMPOSE, encoding="utf-8").read()))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))
    require(used == listed, f".env.example lists {sorted(listed)}, compose uses {sorted(used)}")


@check
def check_prometheus_config():
    src = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
    prom = yaml.safe_load(open(src, encoding="utf-8"))
    require(prom["rule_files"] == ["alerts.yml"], "rule_files must be alerts.yml beside it")
    job = [j for j in prom["scrape_configs"] if j["job_name"] == "akidb"]
    require(job and job[0].get("metrics_path", "/metrics") == "/metrics" and
            job[0]["static_configs"][0]["targets"] == ["akidb:8080"],
            "an akidb job scraping akidb:8080/metrics")
    # promtool checks this file alone: the rules (deploy/prometheus/alerts.yml)
    # are another file's business, so an empty rule file stands beside it.
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(src, os.path.join(d, "prometheus.yml"))
        with open(os.path.join(d, "alerts.yml"), "w") as f:
            f.write("groups: []\n")
        r = run([tool("promtool"), "check", "config", os.path.join(d, "prometheus.yml")])
    require(r.returncode == 0, f"promtool check config: {r.stdout}{r.stderr}")


def rendered_base():
    return kustomize(os.path.join(KUSTOMIZE, "base"))


@check
def check_kustomize_statefulset():
    objs = rendered_base()
    kinds = sorted(o["kind"] for o in objs)
    require(kinds == ["ConfigMap", "PodDisruptionBudget", "Secret", "Service", "Service",
                      "Service", "ServiceAccount", "StatefulSet"], f"kinds {kinds}")
    sts = by_kind(objs, "StatefulSet")[0]
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    require(spec["replicas"] == 1, "one replica (AkiDB does not replicate)")
    require(subset(spec["selector"]["matchLabels"], sts["spec"]["template"]["metadata"]
                   ["labels"]), "selector does not match the pod's labels")
    by_kind(objs, "Service", spec["serviceName"])
    require(pod["securityContext"]["runAsNonRoot"] is True and
            pod["securityContext"]["runAsUser"] == UID, "pod must run as non-root uid 10001")
    require(pod["automountServiceAccountToken"] is False, "no service account token")
    (c,) = pod["containers"]
    sc = c["securityContext"]
    require(sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            and sc["runAsNonRoot"] is True and sc["capabilities"]["drop"] == ["ALL"],
            f"container securityContext {sc}")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    require(ports == {"http": 8080, "grpc": 50051}, f"container ports {ports}")
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready"),
                        ("startupProbe", "/health")):
        g = c[probe]["httpGet"]
        require(g["path"] == path and g["port"] == "http", f"{probe} must GET {path} on http")
    res = c["resources"]
    require(res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"],
            "resources need cpu/memory requests and a memory limit")
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    (claim,) = spec["volumeClaimTemplates"]
    require(claim["metadata"]["name"] == "data" and
            claim["spec"]["resources"]["requests"]["storage"], "a PVC template named data")
    vols = {v["name"]: v for v in pod["volumes"]}
    require("emptyDir" in vols["tmp"] and mounts["tmp"]["mountPath"] == "/tmp",
            "/tmp must be an emptyDir (the root file system is read-only)")
    cm = by_kind(objs, "ConfigMap")[0]
    require(vols["config"]["configMap"]["name"] == cm["metadata"]["name"] and
            mounts["config"]["mountPath"] == "/etc/akidb" and mounts["config"]["readOnly"],
            "config.toml must come from the ConfigMap at /etc/akidb")
    env = {e["name"]: e for e in c["env"]}
    require(env["AKIDB_CONFIG"]["value"] == "/etc/akidb/config.toml", "AKIDB_CONFIG")
    secret = by_kind(objs, "Secret")[0]
    for name, key in (("AKIDB_ADMIN_PASSWORD", "admin-password"),
                      ("AKIDB_S3_ACCESS_KEY", "s3-access-key"),
                      ("AKIDB_S3_SECRET_KEY", "s3-secret-key")):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        require(ref["name"] == secret["metadata"]["name"] and ref["key"] ==
                key and key in secret["stringData"], f"{name} must come from the Secret")
    unknown = {n for n in env if n.startswith("AKIDB_")} - known_env_names() - {"AKIDB_CONFIG"}
    require(not unknown, f"akidb does not know {sorted(unknown)}")
    # The ConfigMap's config.toml, judged by the server itself, agrees with
    # the pod: data on the PVC, the container ports.
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(cm["data"]["config.toml"])
    try:
        cfg = print_config(config_file=f.name)
    finally:
        os.unlink(f.name)
    require(mounts["data"]["mountPath"] == cfg["storage"]["data_dir"],
            "the PVC must be mounted at storage.data_dir")
    require(cfg["server"]["host"] == "0.0.0.0", "server.host must be 0.0.0.0 in a pod")
    require(ports == {"http": cfg["server"]["rest_port"], "grpc": cfg["server"]["grpc_port"]},
            "container ports must be config.toml's ports")


@check
def check_kustomize_services_pdb_servicemonitor():
    objs = rendered_base()
    sts = by_kind(objs, "StatefulSet")[0]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in sts["spec"]["template"]["spec"]["containers"][0]["ports"]}
    services = {s["metadata"]["name"]: s for s in by_kind(objs, "Service")}
    for s in services.values():
        require(subset(s["spec"]["selector"], pod_labels), f"{s['metadata']['name']} selector")
        for p in s["spec"]["ports"]:
            require(p["targetPort"] in port_names, f"{s['metadata']['name']} targetPort")
    require([p["port"] for p in services["akidb"]["spec"]["ports"]] == [8080], "REST Service")
    require([p["port"] for p in services["akidb-grpc"]["spec"]["ports"]] == [50051],
            "gRPC Service")
    require(services["akidb-headless"]["spec"]["clusterIP"] == "None", "headless Service")
    pdb = by_kind(objs, "PodDisruptionBudget")[0]
    require(subset(pdb["spec"]["selector"]["matchLabels"], pod_labels), "PDB selector")
    require(pdb["spec"].get("minAvailable") == 1, "PDB minAvailable 1")
    (sm,) = kustomize(os.path.join(KUSTOMIZE, "servicemonitor"))
    require(sm["kind"] == "ServiceMonitor", "the servicemonitor directory's object")
    selected = [s for s in services.values()
                if subset(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
    require([s["metadata"]["name"] for s in selected] == ["akidb"],
            "the ServiceMonitor must select the REST Service only")
    (ep,) = sm["spec"]["endpoints"]
    require(ep["path"] == "/metrics" and ep["port"] in
            {p["name"] for p in selected[0]["spec"]["ports"]}, "ServiceMonitor endpoint")
    require(set(sm["spec"]) == {"selector", "endpoints"} and
            set(ep) <= {"port", "path", "interval", "scrapeTimeout"},
            "ServiceMonitor fields beyond those checked here")


@check
def check_kustomize_schema():
    objs = rendered_base() + kustomize(os.path.join(KUSTOMIZE, "servicemonitor"))
    rc, out = schema_check(objs)
    require(rc == 0 and f"{len(objs)} valid, 0 invalid" in out, f"schema check:\n{out}")


@check
def check_schema_check_catches_errors():
    """The schema check itself, on a StatefulSet broken three ways."""
    sts = json.loads(json.dumps(by_kind(rendered_base(), "StatefulSet")[0]))
    c = sts["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")          # unknown field
    c["ports"][0]["containerPort"] = "8080"                # wrong type
    sts["spec"]["template"]["spec"]["containers"].append({"image": "x"})  # no name
    rc, out = schema_check([sts])
    require(rc == 1, f"a broken StatefulSet passed:\n{out}")
    for needle in ("unknown field .spec.template.spec.containers[0].readinesProbe",
                   "containerPort must be integer", "must have required property name"):
        require(needle in out, f"schema check missed '{needle}':\n{out}")


@check
def check_helm_chart_metadata():
    chart = yaml.safe_load(open(os.path.join(CHART, "Chart.yaml"), encoding="utf-8"))
    require(chart["apiVersion"] == "v2" and chart["name"] == "akidb", "Chart.yaml")
    require(re.fullmatch(r"\d+\.\d+\.\d+", chart["version"]), "chart version must be semver")
    r = run([AKIDB, "version"])
    version = r.stdout.split()[1]
    require(chart["appVersion"] == version, f"appVersion {chart['appVersion']} but the "
            f"server is {version}")
    sts = by_kind(rendered_base(), "StatefulSet")[0]
    image = sts["spec"]["template"]["spec"]["containers"][0]["image"]
    require(image == f"akidb:{version}", f"kustomize image {image}")


TEMPLATE_DIR = os.path.join(CHART, "templates")
ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


@check
def check_helm_templates():
    """What can be checked of Go templates without helm: balanced delimiters,
    nested blocks, defined includes, and every .Values path in values.yaml."""
    values = yaml.safe_load(open(os.path.join(CHART, "values.yaml"), encoding="utf-8"))
    files = sorted(os.listdir(TEMPLATE_DIR))
    texts = {n: open(os.path.join(TEMPLATE_DIR, n), encoding="utf-8").read() for n in files}
    defined = set()
    for text in texts.values():
        defined |= set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', text))
    problems = []
    for name, text in texts.items():
        if not text.startswith("{{- /* deploy/helm/akidb/templates/" + name):
            problems.append(f"{name}: does not start with its comment")
        if text.count("{{") != text.count("}}"):
            problems.append(f"{name}: unbalanced {{{{ }}}}")
        stack = []
        for m in ACTION.finditer(text):
            body = m.group(1)
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    problems.append(f"{name}: unclosed comment")
                continue
            word = body.split()[0] if body.split() else ""
            if word in ("if", "range", "with", "define"):
                stack.append(word)
            elif word == "else":
                if not stack or stack[-1] == "define":
                    problems.append(f"{name}: else outside if/range/with")
            elif word == "end":
                if not stack:
                    problems.append(f"{name}: end without a block")
                else:
                    stack.pop()
            for inc in re.findall(r'include\s+"([^"]+)"', body):
                if inc not in defined:
                    problems.append(f"{name}: include of undefined template {inc!r}")
            for ref in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", body):
                node = values
                for part in ref.strip(".").split("."):
                    if not isinstance(node, dict) or part not in node:
                        problems.append(f"{name}: .Values{ref} is not in values.yaml")
                        break
                    node = node[part]
        if stack:
            problems.append(f"{name}: unclosed {stack}")
        if ACTION.sub("", text).count("{{") or ACTION.sub("", text).count("}}"):
            problems.append(f"{name}: stray delimiter")
    require(not problems, "; ".join(problems))
    kinds = re.findall(r"^kind: (\w+)", "\n".join(texts.values()), re.M)
    require(sorted(kinds) == ["ConfigMap", "PodDisruptionBudget", "Secret", "Service",
                              "Service", "Service", "ServiceAccount", "ServiceMonitor",
                              "StatefulSet"], f"chart kinds {sorted(kinds)}")
    sts = texts["statefulset.yaml"]
    for needle in ("path: /health", "path: /ready", "volumeClaimTemplates:",
                   "mountPath: {{ .Values.config.storage.data_dir }}", "name: tmp",
                   "toYaml .Values.securityContext", "toYaml .Values.podSecurityContext",
                   "toYaml .Values.resources", "key: admin-password", "key: s3-access-key",
                   "key: s3-secret-key", "value: /etc/akidb/config.toml"):
        require(needle in sts, f"statefulset.yaml lacks '{needle}'")


@check
def check_helm_defaults_match_kustomize():
    """values.yaml's defaults are what deploy/kustomize/base spells out."""
    v = yaml.safe_load(open(os.path.join(CHART, "values.yaml"), encoding="utf-8"))
    objs = rendered_base()
    cm = by_kind(objs, "ConfigMap")[0]
    require(tomllib.loads(cm["data"]["config.toml"]) == v["config"],
            "values.config differs from the base's config.toml")
    sts = by_kind(objs, "StatefulSet")[0]
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    pairs = [
        ("podSecurityContext", v["podSecurityContext"], pod["securityContext"]),
        ("securityContext", v["securityContext"], c["securityContext"]),
        ("resources", v["resources"], c["resources"]),
        ("terminationGracePeriodSeconds", v["terminationGracePeriodSeconds"],
         pod["terminationGracePeriodSeconds"]),
        ("tmpSizeLimit", v["tmpSizeLimit"],
         [x for x in pod["volumes"] if x["name"] == "tmp"][0]["emptyDir"]["sizeLimit"]),
        ("persistence.size", v["persistence"]["size"],
         sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]),
        ("persistence.accessModes", v["persistence"]["accessModes"],
         sts["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"]),
        ("image.pullPolicy", v["image"]["pullPolicy"], c["imagePullPolicy"]),
        ("podDisruptionBudget.minAvailable", v["podDisruptionBudget"]["minAvailable"],
         by_kind(objs, "PodDisruptionBudget")[0]["spec"]["minAvailable"]),
        ("service.rest.port", v["service"]["rest"]["port"],
         by_kind(objs, "Service", "akidb")[0]["spec"]["ports"][0]["port"]),
        ("service.grpc.port", v["service"]["grpc"]["port"],
         by_kind(objs, "Service", "akidb-grpc")[0]["spec"]["ports"][0]["port"]),
    ]
    for probe, key in (("startup", "startupProbe"), ("liveness", "livenessProbe"),
                       ("readiness", "readinessProbe")):
        got = {k: c[key][k] for k in v["probes"][probe]}
        pairs.append((f"probes.{probe}", v["probes"][probe], got))
    (sm,) = kustomize(os.path.join(KUSTOMIZE, "servicemonitor"))
    ep = sm["spec"]["endpoints"][0]
    pairs.append(("serviceMonitor", (v["serviceMonitor"]["interval"],
                                     v["serviceMonitor"]["scrapeTimeout"]),
                  (ep["interval"], ep["scrapeTimeout"])))
    diffs = [f"{n}: values {a!r} vs base {b!r}" for n, a, b in pairs if a != b]
    require(not diffs, "; ".join(diffs))


if __name__ == "__main__":
    failed = [(n, e) for n, e in results if e]
    print(f"deploy: {len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)
