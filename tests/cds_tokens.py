"""Signing CDS Hooks JWTs in tests: keys generated here, never stored anywhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://ehr.example.org"
AUDIENCE = "https://cds.example.org"


def b64(data: bytes) -> str:
    """Base64url without padding (JOSE)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Signer:
    """One EHR's signing key: an RSA or EC private key with a kid, and its public JWKS."""

    kind: str = "RSA"
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    private: Any = None

    def __post_init__(self) -> None:
        if self.private is None:
            self.private = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                            if self.kind == "RSA" else ec.generate_private_key(ec.SECP384R1()))

    @property
    def algorithm(self) -> str:
        """The algorithm this key signs with by default."""
        return "RS384" if self.kind == "RSA" else "ES384"

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK with its kid."""
        make = jwt.algorithms.RSAAlgorithm if self.kind == "RSA" else jwt.algorithms.ECAlgorithm
        key: dict[str, Any] = make.to_jwk(self.private.public_key(), as_dict=True)
        return {**key, "kid": self.kid, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        """A JWKS holding the public key."""
        return {"keys": [self.jwk()]}

    def public_pem(self) -> bytes:
        """The public key in PEM (what an attacker knows)."""
        return bytes(self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def token(self, *, algorithm: str | None = None, kid: str | None = None, drop: tuple[str, ...] = (),
              **claims: Any) -> str:
        """A signed JWT with CDS Hooks claims (now, five minutes, a fresh jti) and any changes."""
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex,
                "sub": "ehr-client", **claims}
        for name in drop:
            body.pop(name)
        return jwt.encode(body, self.private, algorithm=algorithm or self.algorithm,
                          headers={"kid": self.kid if kid is None else kid})


def unsigned(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None = None) -> str:
    """A JWT built by hand: ``alg: none`` (no signature) or HMAC-SHA256 with ``secret``."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    if secret is None:
        return head + "."
    return head + "." + b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


def claims(**changes: Any) -> dict[str, Any]:
    """Valid CDS Hooks claims, with changes."""
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, **changes}
