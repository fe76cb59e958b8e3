#!/usr/bin/env python3
"""Checks docker-compose.yml without Docker (infra/validate.sh runs it).

Asserts the services kb's self-hosted shape needs, that every depends_on target exists, and
that the bucket, queue URLs and retry settings given to `api` and `worker` match what
localstack/init/ready.d/init-aws.sh creates.

Usage: check_compose.py [docker-compose.yml] [localstack/init/ready.d/init-aws.sh]
Exit status 0 when every check passes, 1 otherwise (each failure printed on stderr).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parent.parent
INIT_MOUNT = "/etc/localstack/init/ready.d"
QUEUE_VARS = {
    "KB_CRAWL_QUEUE_URL": "crawl",
    "KB_CHUNK_QUEUE_URL": "chunk",
    "KB_EMBED_QUEUE_URL": "embed",
}

errors: list[str] = []


def check(ok: bool, message: str) -> bool:
    if not ok:
        errors.append(message)
    return ok


def interpolate(value: object) -> str:
    """Resolves compose's ${VAR}, ${VAR:-default} and ${VAR-default} to their defaults."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(3)
        return os.environ.get(name) or (default or "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}", repl, str(value))


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        env = {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    return {k: interpolate(v) for k, v in env.items()}


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    return [str(c) for c in cmd]


def depends_on(service: dict) -> list[str]:
    deps = service.get("depends_on") or []
    return list(deps.keys()) if isinstance(deps, dict) else list(deps)


def volume_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            mounts.append((str(v.get("source", "")), str(v.get("target", ""))))
        else:
            parts = str(v).split(":")
            if len(parts) >= 2:
                mounts.append((parts[0], parts[1]))
    return mounts


def init_script_settings(path: Path) -> dict[str, str]:
    """The NAME=value assignments at the top level of the init hook."""
    settings = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Z_]+)=(\"[^\"]*\"|'[^']*'|\S+)", line)
        if m:
            settings[m.group(1)] = m.group(2).strip("\"'")
    return settings


def main() -> int:
    compose_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docker-compose.yml"
    init_path = (
        Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "localstack/init/ready.d/init-aws.sh"
    )
    base = compose_path.resolve().parent

    try:
        compose = yaml.safe_load(compose_path.read_text())
    except (OSError, yaml.YAMLError) as e:
        print(f"{compose_path}: cannot load: {e}", file=sys.stderr)
        return 1
    if not isinstance(compose, dict) or not isinstance(compose.get("services"), dict):
        print(f"{compose_path}: no services", file=sys.stderr)
        return 1
    services: dict[str, dict] = compose["services"]

    for name in ("postgres", "redis", "qdrant", "localstack", "api", "worker"):
        check(name in services, f"service '{name}' is missing")

    def image(name: str) -> str:
        return interpolate(services.get(name, {}).get("image", ""))

    if "postgres" in services:
        check("pgvector" in image("postgres"),
              f"postgres must use a pgvector image (e.g. pgvector/pgvector:pg16), not '{image('postgres')}'")
        check("healthcheck" in services["postgres"], "postgres has no healthcheck")
    if "redis" in services:
        check(image("redis").startswith("redis"), f"redis image is '{image('redis')}'")
        check("healthcheck" in services["redis"], "redis has no healthcheck")
    if "qdrant" in services:
        check(image("qdrant").startswith("qdrant/qdrant"), f"qdrant image is '{image('qdrant')}'")

    if "localstack" in services:
        ls = services["localstack"]
        check(image("localstack").startswith("localstack/localstack"),
              f"localstack image is '{image('localstack')}'")
        ls_services = environment(ls).get("SERVICES", "")
        for svc in ("s3", "sqs"):
            check(svc in [s.strip() for s in ls_services.split(",")],
                  f"localstack SERVICES ('{ls_services}') lacks {svc}")
        mounted = [src for src, dst in volume_mounts(ls) if dst.rstrip("/") == INIT_MOUNT]
        if check(bool(mounted), f"localstack does not mount the init hooks at {INIT_MOUNT}"):
            src = (base / mounted[0]).resolve()
            check(src == init_path.resolve().parent,
                  f"localstack mounts {mounted[0]} at {INIT_MOUNT}, expected the directory of {init_path}")

    if check(init_path.is_file(), f"{init_path} is missing"):
        check(os.access(init_path, os.X_OK),
              f"{init_path} is not executable (LocalStack runs only executable hooks)")
        settings = init_script_settings(init_path)
    else:
        settings = {}

    bucket = settings.get("BUCKET")
    queues = settings.get("QUEUES", "").split()
    check(bool(bucket) and len(queues) == 3,
          f"{init_path}: expected BUCKET=... and three QUEUES=..., found {settings}")

    runner_images = set()
    for name, verb in (("api", "serve"), ("worker", "worker")):
        svc = services.get(name)
        if svc is None:
            continue
        cmd = command(svc)
        check(verb in cmd, f"service '{name}' must run `kb {verb}`; its command is {cmd}")
        check("build" in svc or "image" in svc, f"service '{name}' has neither build nor image")
        runner_images.add((repr(svc.get("build")), interpolate(svc.get("image", ""))))

        env = environment(svc)
        for var in ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "KB_VECTOR_INDEX", "KB_BUCKET",
                    "AWS_ENDPOINT_URL", "AWS_REGION", "KB_JWT_SECRET", *QUEUE_VARS):
            check(bool(env.get(var)), f"service '{name}' does not set {var}")
        if bucket:
            check(env.get("KB_BUCKET") == bucket,
                  f"service '{name}': KB_BUCKET={env.get('KB_BUCKET')!r} but the init hook creates bucket {bucket!r}")

        endpoint = urlparse(env.get("AWS_ENDPOINT_URL", ""))
        check(endpoint.hostname in services,
              f"service '{name}': AWS_ENDPOINT_URL host {endpoint.hostname!r} is not a service")
        used = []
        for var, stage in QUEUE_VARS.items():
            url = urlparse(env.get(var, ""))
            queue = url.path.rstrip("/").rsplit("/", 1)[-1]
            used.append(queue)
            check(queue in queues,
                  f"service '{name}': {var} names queue {queue!r}, not one the init hook creates {queues}")
            check(stage in queue, f"service '{name}': {var} names queue {queue!r}, expected the {stage} queue")
            check(url.hostname in services,
                  f"service '{name}': {var} host {url.hostname!r} is not a service")
            check(bool(re.fullmatch(r"/\d{12}/[^/]+", url.path)),
                  f"service '{name}': {var} is not of the form http://host:port/<account>/<queue>")
        check(len(set(used)) == 3, f"service '{name}': the three queue URLs are not distinct: {used}")
        for var, key in (("KB_MAX_RECEIVES", "MAX_RECEIVES"), ("KB_VISIBILITY_TIMEOUT_SECS", "VISIBILITY_TIMEOUT")):
            if key in settings and var in env:
                check(env[var] == settings[key],
                      f"service '{name}': {var}={env[var]} but the init hook sets {key}={settings[key]}")

        if env.get("KB_VECTOR_INDEX") == "qdrant":
            host = urlparse(env.get("QDRANT_URL", "")).hostname
            check(host in services, f"service '{name}': QDRANT_URL host {host!r} is not a service")
    check(len(runner_images) <= 1, "api and worker must run the same image")

    for name, svc in services.items():
        for dep in depends_on(svc):
            check(dep in services, f"service '{name}' depends on '{dep}', which does not exist")

    if errors:
        for e in errors:
            print(f"{compose_path.name}: {e}", file=sys.stderr)
        return 1
    print(f"{compose_path.name}: ok ({len(services)} services; bucket {bucket}, queues {', '.join(queues)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
