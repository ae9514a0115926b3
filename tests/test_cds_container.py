"""The container recipe (issue 27): examples/cds-hooks/Dockerfile builds and serves signed calls.

With a Docker daemon the image is built and run; without one, the Dockerfile's CMD is run as it is
(uvicorn on the example app) on 127.0.0.1 and a random port, with the configuration the image expects.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import backrx
from backrx.interop.fhir import to_questionnaire_response

pytest.importorskip("uvicorn")
pytest.importorskip("jwt")
from tests.cds_tokens import ISSUER, Signer
from tests.conftest import base_profile

from backrx.interop import cds_hooks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cds-hooks"
DOCKERFILE = EXAMPLE / "Dockerfile"


def _cmd() -> list[str]:
    """The Dockerfile's CMD (exec form)."""
    [line] = [line for line in DOCKERFILE.read_text(encoding="utf-8").splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(line[4:])
    return command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _docker() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode == 0


def _request(url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    try:
        request = urllib.request.Request(url, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.loads(refused.read())


def _wait(base: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "the server exited")
        try:
            if _request(base + "/cds-services")[0] == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("the service did not come up")


@contextmanager
def _served(trusted: Path, audience_port: int) -> Iterator[str]:
    """The service as the recipe runs it: built and run by Docker, or its CMD run here."""
    if _docker():
        tag = f"backrx-cds-test:{uuid.uuid4().hex[:8]}"
        subprocess.run(["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)], check=True,
                       capture_output=True, timeout=1800)
        name = f"backrx-cds-{uuid.uuid4().hex[:8]}"
        subprocess.run(["docker", "run", "-d", "--rm", "--name", name,
                        "-p", f"127.0.0.1:{audience_port}:8000",
                        "-v", f"{trusted}:/etc/backrx/trusted-ehrs.json:ro",
                        "-e", f"BACKRX_CDS_AUDIENCE=http://127.0.0.1:{audience_port}", tag],
                       check=True, capture_output=True, timeout=120)
        try:
            _wait(f"http://127.0.0.1:{audience_port}")
            yield f"http://127.0.0.1:{audience_port}"
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60, check=False)
        return
    command = _cmd()
    assert command[0] == "uvicorn"
    command = [sys.executable, "-m", *command]
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(audience_port)
    env = {name: value for name, value in os.environ.items() if not name.startswith("BACKRX_")}
    env |= {"BACKRX_CDS_JWKS": str(trusted), "BACKRX_CDS_AUDIENCE": f"http://127.0.0.1:{audience_port}"}
    with subprocess.Popen(command, cwd=EXAMPLE, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as process:
        try:
            _wait(f"http://127.0.0.1:{audience_port}", process)
            yield f"http://127.0.0.1:{audience_port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@pytest.mark.slow
def test_the_container_recipe_serves_a_signed_call(tmp_path: Path) -> None:
    """The recipe's service refuses an unsigned call (401) and answers a signed one with cards (200)."""
    key, port = Signer("EC"), _free_port()
    trusted = tmp_path / "trusted-ehrs.json"
    trusted.write_text(json.dumps({ISSUER: key.jwks()}), encoding="utf-8")
    trusted.chmod(0o644)
    response = to_questionnaire_response(backrx.Profile.model_validate(base_profile()))
    response["subject"] = {"reference": "Patient/p1"}
    call = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr1", "patientId": "p1"},
            "prefetch": {cds_hooks.QR_KEY: response}}
    with _served(trusted, port) as base:
        url = f"{base}/cds-services/{cds_hooks.SERVICE_ID}"
        status, body = _request(url, call)
        assert status == 401 and body["resourceType"] == "OperationOutcome"
        status, body = _request(url, call, key.token(aud=base))
        assert status == 200 and body["cards"]
