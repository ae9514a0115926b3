"""CDS Hooks authentication (issue 27): only a fresh JWT, signed by a trusted EHR's key, gets cards."""

from __future__ import annotations

import http.server
import json
import logging
import runpy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import backrx
from backrx.interop.fhir import to_questionnaire_response

pytest.importorskip("fastapi")
pytest.importorskip("jwt")
from fastapi.testclient import TestClient
from tests.cds_tokens import AUDIENCE, ISSUER, Signer, claims, unsigned
from tests.conftest import base_profile

from backrx.interop import cds_hooks
from backrx.interop.cds_auth import (
    AuthConfig,
    AuthConfigError,
    AuthError,
    JwksCache,
    ReplayMemory,
    fetch_jwks,
)

ROOT = Path(__file__).resolve().parents[1]
URL = f"/cds-services/{cds_hooks.SERVICE_ID}"


@pytest.fixture(scope="module")
def rsa_key() -> Signer:
    return Signer("RSA")


@pytest.fixture(scope="module")
def ec_key() -> Signer:
    return Signer("EC")


@pytest.fixture(scope="module")
def client(rules: backrx.RuleSet, rsa_key: Signer, ec_key: Signer) -> TestClient:
    jwks = {"keys": [rsa_key.jwk(), ec_key.jwk()]}
    auth = AuthConfig(AUDIENCE, {ISSUER: jwks})
    return TestClient(cds_hooks.create_app(rules, auth=auth))


def _call(flags: list[str] | None = None) -> dict[str, Any]:
    response = to_questionnaire_response(backrx.Profile.model_validate(base_profile(red_flags=flags or [])))
    response["subject"] = {"reference": "Patient/p1"}
    return {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/dr1", "patientId": "p1"},
            "prefetch": {cds_hooks.QR_KEY: response}}


def _post(client: TestClient, token: str | None, body: Any = None) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.post(URL, json=_call() if body is None else body, headers=headers)


def _code(answer: Any) -> str:
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    [coding] = body["issue"][0]["details"]["coding"]
    assert coding["system"] == "urn:backrx:cds-error"
    return str(coding["code"])


def test_a_token_signed_by_a_trusted_rsa_key_gets_cards(client: TestClient, rsa_key: Signer) -> None:
    """An RS384 token from the trusted EHR, with aud the service's base URL, is answered with cards."""
    answer = _post(client, rsa_key.token())
    assert answer.status_code == 200, answer.text
    assert answer.json()["cards"]


def test_a_token_signed_by_a_trusted_ec_key_gets_cards(client: TestClient, ec_key: Signer) -> None:
    """An ES384 token whose aud is the full URL of the service endpoint is answered with cards."""
    answer = _post(client, ec_key.token(aud=AUDIENCE + URL))
    assert answer.status_code == 200, answer.text
    assert answer.json()["cards"]


FORGERIES: dict[str, Callable[[Signer, Signer], str | None]] = {
    "missing": lambda rsa, ec: None,
    "expired": lambda rsa, ec: rsa.token(iat=int(time.time()) - 900, exp=int(time.time()) - 600),
    "issued in the future": lambda rsa, ec: rsa.token(iat=int(time.time()) + 600, exp=int(time.time()) + 700),
    "lives too long": lambda rsa, ec: rsa.token(exp=int(time.time()) + 86_400),
    "wrong audience": lambda rsa, ec: rsa.token(aud="https://other.example.org"),
    "audience of another path": lambda rsa, ec: rsa.token(aud=AUDIENCE + "/cds-services/other"),
    "untrusted issuer": lambda rsa, ec: rsa.token(iss="https://evil.example.org"),
    "no jti": lambda rsa, ec: rsa.token(drop=("jti",)),
    "no exp": lambda rsa, ec: rsa.token(drop=("exp",)),
    "unknown kid": lambda rsa, ec: rsa.token(kid="not-a-known-kid"),
    "no kid": lambda rsa, ec: unsigned({"alg": "RS384", "typ": "JWT"}, claims()),
    "rsa kid, ec algorithm": lambda rsa, ec: Signer("EC", kid=rsa.kid).token(),
    "trusted kid, attacker's key": lambda rsa, ec: Signer("RSA", kid=rsa.kid).token(),
    "RS256 (not allowed by default)": lambda rsa, ec: rsa.token(algorithm="RS256"),
    "alg none": lambda rsa, ec: unsigned({"alg": "none", "kid": rsa.kid, "typ": "JWT"}, claims()),
    "alg None": lambda rsa, ec: unsigned({"alg": "None", "kid": rsa.kid, "typ": "JWT"}, claims()),
    "HS256 with a guessed secret": lambda rsa, ec: unsigned({"alg": "HS256", "kid": rsa.kid}, claims(),
                                                            b"secret"),
    "HS256 with the public key as secret": lambda rsa, ec: unsigned({"alg": "HS256", "kid": rsa.kid},
                                                                    claims(), rsa.public_pem()),
    "HS384 with the public key as secret": lambda rsa, ec: unsigned({"alg": "HS384", "kid": rsa.kid},
                                                                    claims(), rsa.public_pem()),
    "not a JWT": lambda rsa, ec: "not.a.token",
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_a_missing_or_forged_token_gets_401_and_no_cards(client: TestClient, rsa_key: Signer, ec_key: Signer,
                                                         case: str) -> None:
    """Every missing, stale, misdirected, unsigned, HMAC or unknown-key token is refused with 401."""
    answer = _post(client, FORGERIES[case](rsa_key, ec_key), _call(["saddle_anaesthesia"]))
    assert answer.status_code == 401, (case, answer.text)
    assert _code(answer).startswith("cds-auth-")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "cards" not in answer.json()
    assert "saddle" not in answer.text and "p1" not in answer.text


def test_a_replayed_token_is_refused(client: TestClient, rsa_key: Signer) -> None:
    """The same token (same iss and jti) sent twice is answered once, then refused as a replay."""
    token = rsa_key.token()
    assert _post(client, token).status_code == 200
    again = _post(client, token)
    assert again.status_code == 401
    assert _code(again) == "cds-auth-replayed"


def test_the_token_is_checked_before_the_body_is_read(client: TestClient) -> None:
    """A call without a token is refused for its credentials even when its body is not even JSON."""
    answer = client.post(URL, content=b"\xff not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 401
    assert _code(answer) == "cds-auth-missing"


def test_discovery_is_open_unless_protected(rules: backrx.RuleSet, client: TestClient,
                                            rsa_key: Signer) -> None:
    """Discovery answers without a token by default, and needs one when protect_discovery is set."""
    assert client.get("/cds-services").status_code == 200
    closed = TestClient(cds_hooks.create_app(rules, auth=AuthConfig(
        AUDIENCE, {ISSUER: rsa_key.jwks()}, protect_discovery=True)))
    assert closed.get("/cds-services").status_code == 401
    token = rsa_key.token(aud=AUDIENCE + "/cds-services")
    assert closed.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@settings(max_examples=40)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=5))
def test_no_altered_token_is_ever_answered(client: TestClient, rsa_key: Signer, position: int,
                                           bit: int) -> None:
    """A valid token with any one character changed (header, claims or signature) never gets cards."""
    token = rsa_key.token()
    index = position % len(token)
    # The last character of a base64url segment may carry unused bits only: changing it can decode
    # to the very same bytes, so it is not a change of the token.
    assume(index + 1 < len(token) and token[index + 1] != ".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    changed = alphabet[(alphabet.index(token[index]) + 1 + bit) % len(alphabet)]
    forged = token[:index] + changed + token[index + 1:]
    assert _post(client, forged).status_code == 401


def test_only_asymmetric_algorithms_can_be_configured(rsa_key: Signer) -> None:
    """Allowing HS256 or none is a configuration error, as is a JWKS holding a private key."""
    for algorithms in (("HS256",), ("RS384", "none"), ()):
        with pytest.raises(AuthConfigError, match="asymmetric"):
            AuthConfig(AUDIENCE, {ISSUER: rsa_key.jwks()}, algorithms=algorithms)
    private = {**rsa_key.jwk(), "d": "AQAB"}
    with pytest.raises(AuthConfigError, match="private"):
        AuthConfig(AUDIENCE, {ISSUER: {"keys": [private]}})


def test_a_configuration_file_names_itself_in_errors(tmp_path: Path, rsa_key: Signer) -> None:
    """A JWKS file that is not JSON, or maps an issuer to a number, is refused naming the file."""
    bad = tmp_path / "trusted.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(AuthConfigError, match=r"trusted\.json"):
        AuthConfig.from_file(bad, AUDIENCE)
    bad.write_text(json.dumps({ISSUER: 3}), encoding="utf-8")
    with pytest.raises(AuthConfigError, match=r"trusted\.json"):
        AuthConfig.from_file(bad, AUDIENCE)
    bad.write_text(json.dumps({ISSUER: rsa_key.jwks()}), encoding="utf-8")
    assert AuthConfig.from_file(bad, AUDIENCE).verify(f"Bearer {rsa_key.token()}", URL)["iss"] == ISSUER


def test_a_jwks_url_is_fetched_once_and_refetched_for_a_new_kid(rsa_key: Signer) -> None:
    """A JWKS URL is fetched on first use, cached, and fetched again when a rotated kid appears."""
    old, new = rsa_key, Signer("RSA")
    served = [old.jwks()]
    fetched: list[str] = []
    now = [0.0]

    def fetcher(url: str) -> bytes:
        fetched.append(url)
        return json.dumps(served[-1]).encode()

    auth = AuthConfig(AUDIENCE, {ISSUER: "https://ehr.example.org/jwks"}, fetcher=fetcher)
    cache = JwksCache("https://ehr.example.org/jwks", fetcher=fetcher, clock=lambda: now[0])
    assert auth.verify(f"Bearer {old.token()}", URL)["iss"] == ISSUER
    assert auth.verify(f"Bearer {old.token()}", URL)["iss"] == ISSUER
    assert len(fetched) == 1
    fetched.clear()
    assert cache.key(old.kid) is not None and cache.key(old.kid) is not None and len(fetched) == 1
    served.append(new.jwks())
    assert cache.key(new.kid) is None  # too soon after the last fetch: no refetch storm
    now[0] = 31.0
    assert cache.key(new.kid) is not None and len(fetched) == 2


def test_a_failed_jwks_fetch_unlocks_nothing(rsa_key: Signer) -> None:
    """When the issuer's JWKS URL cannot be fetched, its tokens are refused (401), not accepted."""
    def fetcher(url: str) -> bytes:
        raise OSError("unreachable")

    auth = AuthConfig(AUDIENCE, {ISSUER: "https://ehr.example.org/jwks"}, fetcher=fetcher)
    with pytest.raises(AuthError) as refused:
        auth.verify(f"Bearer {rsa_key.token()}", URL)
    assert refused.value.status == 401 and refused.value.code == "cds-auth-key"


@pytest.fixture
def jwks_server(rsa_key: Signer) -> Iterator[str]:
    body = json.dumps(rsa_key.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


def test_a_jwks_is_fetched_over_http_from_loopback_only(jwks_server: str, rsa_key: Signer) -> None:
    """The default fetcher reads a JWKS served on 127.0.0.1, and refuses plain http to other hosts."""
    auth = AuthConfig(AUDIENCE, {ISSUER: jwks_server})
    assert auth.verify(f"Bearer {rsa_key.token()}", URL)["iss"] == ISSUER
    with pytest.raises(AuthConfigError, match="https"):
        fetch_jwks("http://ehr.example.org/jwks.json")


def test_the_replay_memory_forgets_expired_tokens_and_stays_bounded() -> None:
    """A jti is remembered until its expiry only; when full of live tokens a new one waits (503)."""
    now = [1000.0]
    memory = ReplayMemory(capacity=2, clock=lambda: now[0])
    assert memory.first_use("a", 1010.0) and not memory.first_use("a", 1010.0)
    assert memory.first_use("b", 1020.0)
    with pytest.raises(AuthError) as full:
        memory.first_use("c", 1020.0)
    assert full.value.status == 503
    now[0] = 1011.0
    assert memory.first_use("c", 1020.0) and len(memory) == 2
    assert not memory.first_use("b", 1020.0)


def test_the_replay_memory_admits_a_token_once_across_threads() -> None:
    """Sixteen threads presenting the same jti at once: exactly one is admitted."""
    memory = ReplayMemory()
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def present() -> None:
        barrier.wait()
        results.append(memory.first_use("same", time.time() + 60))

    threads = [threading.Thread(target=present) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True]


def _example(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    for name in ("BACKRX_CDS_JWKS", "BACKRX_CDS_AUDIENCE", "BACKRX_CDS_INSECURE", "BACKRX_CDS_FEEDBACK_LOG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "examples" / "cds-hooks" / "app.py"))["app"]


def test_the_example_refuses_to_start_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither BACKRX_CDS_JWKS nor BACKRX_CDS_INSECURE=1 the example app does not start."""
    with pytest.raises(SystemExit, match="BACKRX_CDS_JWKS"):
        _example(monkeypatch)
    with pytest.raises(SystemExit, match="BACKRX_CDS_AUDIENCE"):
        _example(monkeypatch, BACKRX_CDS_JWKS=str(ROOT / "examples" / "cds-hooks" / "jwks.example.json"))


def test_the_insecure_example_warns_on_every_request(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """BACKRX_CDS_INSECURE=1 starts the example without checks, logging a warning for each request."""
    client = TestClient(_example(monkeypatch, BACKRX_CDS_INSECURE="1"))
    with caplog.at_level(logging.WARNING, logger="backrx.cds_hooks"):
        assert _post(client, None).status_code == 200
        assert _post(client, None).status_code == 200
    assert sum("WITHOUT authentication" in r.getMessage() for r in caplog.records) == 2


def test_the_example_checks_tokens_when_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   rsa_key: Signer) -> None:
    """Configured by BACKRX_CDS_JWKS and BACKRX_CDS_AUDIENCE, the example wants a token, takes a good one."""
    trusted = tmp_path / "trusted.json"
    trusted.write_text(json.dumps({ISSUER: rsa_key.jwks()}), encoding="utf-8")
    client = TestClient(_example(monkeypatch, BACKRX_CDS_JWKS=str(trusted), BACKRX_CDS_AUDIENCE=AUDIENCE))
    assert _post(client, None).status_code == 401
    assert _post(client, rsa_key.token()).status_code == 200
