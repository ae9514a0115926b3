"""Checking the CDS Client's signed JWT (CDS Hooks 2.0, "Trusting CDS Clients"), with PyJWT.

Every call to a protected endpoint carries ``Authorization: Bearer <JWT>``. The token is accepted
only when all of these hold:

- its header names an asymmetric algorithm on the allowed list (RS384 and ES384 by default, the two
  the specification names) and a ``kid``; ``none`` and every HMAC algorithm are refused before any
  key is looked at, so a public key can never be used as an HMAC secret;
- its ``iss`` is a trusted issuer, and the ``kid`` is a signing key in that issuer's configured
  JWKS (inline, or fetched from a configured URL and cached). A ``jku`` header is ignored: keys come
  from the configuration only;
- the signature verifies with that key, and ``aud`` is the service's base URL or the URL of the
  endpoint being called;
- ``exp``, ``iat`` and ``jti`` are present; ``exp`` is not past and not further ahead than
  ``max_lifetime``; ``iat`` is not in the future (both with ``leeway`` seconds of clock skew);
- the ``(iss, jti)`` pair has not been seen before within the token's lifetime (replay).

Any failure is an `AuthError`: a 401 whose body is the service's OperationOutcome, with a
stable code and a message that never repeats anything from the token or the request.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import jwt

from backrx.errors import BackrxError
from backrx.interop._cds_request import RefusalError

__all__ = ["ALGORITHMS", "ASYMMETRIC_ALGORITHMS", "AuthConfig", "AuthConfigError", "AuthError",
           "JwksCache", "ReplayMemory", "ReplayStore", "fetch_jwks"]

#: The algorithms accepted unless configured otherwise (CDS Hooks 2.0 names ES384 and RS384).
ALGORITHMS = ("RS384", "ES384")
#: The algorithms that may be configured at all: public-key signatures only.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512"})
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_MAX_TOKEN = 16_384
_MAX_JTI = 256
_MAX_JWKS_BYTES = 262_144

Fetcher = Callable[[str], bytes]


class AuthError(RefusalError):
    """A call refused for its credentials: HTTP 401 with a stable ``cds-auth-*`` code."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(status, code, message, "security" if status == 401 else "transient")


class AuthConfigError(BackrxError, ValueError):
    """The authentication configuration cannot be used (names the file or issuer, never a key)."""

    code = "cds-auth-config"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_jwks(url: str, *, timeout: float = 5.0) -> bytes:
    """The body of a JWKS URL: https, or plain http to a loopback address only; at most 256 KB."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname or "")):
        raise AuthConfigError("a JWKS URL must use https (plain http only to a loopback address)")
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # the scheme is checked above
        body: bytes = answer.read(_MAX_JWKS_BYTES + 1)
    if len(body) > _MAX_JWKS_BYTES:
        raise AuthConfigError(f"the JWKS at a configured URL is larger than {_MAX_JWKS_BYTES} bytes")
    return body


def _keys(jwks: Any, where: str) -> dict[str, tuple[jwt.PyJWK, str | None]]:
    """The signing keys of a JWKS by ``kid``; keys without a kid, or for encryption, are skipped."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise AuthConfigError(f"{where}: a JWKS must be an object with a 'keys' list")
    out: dict[str, tuple[jwt.PyJWK, str | None]] = {}
    for entry in jwks["keys"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
            continue
        if any(name in entry for name in ("d", "p", "q")):
            raise AuthConfigError(f"{where}: key '{entry['kid']}' holds private parts; "
                                  "publish public keys only")
        try:
            # The key's own ``alg``, when it names one, must match the token's.
            alg = entry.get("alg") if isinstance(entry.get("alg"), str) else None
            out[entry["kid"]] = (jwt.PyJWK(dict(entry)), alg)
        except jwt.PyJWTError:
            raise AuthConfigError(f"{where}: key '{entry['kid']}' is not a usable public key") from None
    return out


class JwksCache:
    """An issuer's JWKS fetched from a URL and kept for ``ttl`` seconds; an unknown ``kid`` triggers
    one refetch at most every ``min_refresh`` seconds (key rotation without a fetch per bad token)."""

    def __init__(self, url: str, *, fetcher: Fetcher | None = None, ttl: float = 300.0,
                 min_refresh: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.ttl, self.min_refresh, self.clock = url, ttl, min_refresh, clock
        self.fetcher: Fetcher = fetcher or fetch_jwks
        self._keys: dict[str, tuple[jwt.PyJWK, str | None]] = {}
        self._fetched: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        self._fetched = self.clock()
        try:
            document = json.loads(self.fetcher(self.url))
            self._keys = _keys(document, "a fetched JWKS")
        except (OSError, ValueError):
            # Keep the keys we had: an outage of the issuer's JWKS must not unlock anything, and a
            # token signed with a key we never saw is refused below.
            pass

    def key(self, kid: str) -> tuple[jwt.PyJWK, str | None] | None:
        """The key named ``kid``, fetching the JWKS when it is stale or the kid is new."""
        with self._lock:
            now = self.clock()
            stale = self._fetched is None or now - self._fetched >= self.ttl
            may_retry = self._fetched is None or now - self._fetched >= self.min_refresh
            if stale or (kid not in self._keys and may_retry):
                self._refresh()
            return self._keys.get(kid)


class ReplayStore(Protocol):
    """Where seen ``jti`` values live: share one across processes (e.g. a Redis ``SET NX EX``)."""

    def first_use(self, key: str, until: float) -> bool:
        """Remember ``key`` until ``until`` (epoch seconds); False when it is already remembered."""
        ...


class ReplayMemory:
    """The ``jti`` values seen, each kept until its token expires; thread-safe and bounded.

    When ``capacity`` live tokens are remembered a new one is refused (503) rather than forgetting
    a live one, which would let it be replayed. The memory belongs to one process."""

    def __init__(self, capacity: int = 100_000, *, clock: Callable[[], float] = time.time) -> None:
        self.capacity, self.clock = capacity, clock
        self._until: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)

    def first_use(self, key: str, until: float) -> bool:
        """Remember ``key`` until ``until`` (epoch seconds); False when it is already remembered."""
        with self._lock:
            now = self.clock()
            while self._heap and self._heap[0][0] <= now:
                expiry, old = heapq.heappop(self._heap)
                if self._until.get(old) == expiry:
                    del self._until[old]
            if key in self._until:
                return False
            if len(self._until) >= self.capacity:
                raise AuthError("cds-auth-busy", "too many live tokens are remembered; try again shortly",
                                503)
            self._until[key] = until
            heapq.heappush(self._heap, (until, key))
            return True


class AuthConfig:
    """Who may call the service: trusted issuers with their JWKS, the audience, and the checks.

    ``issuers`` maps each trusted ``iss`` to its JWKS: a JWKS object (``{"keys": [...]}``) or the URL
    of one (fetched with ``fetcher``, `fetch_jwks` by default, and cached). ``audience`` is the
    service's public base URL (``https://cds.example.org``). Discovery is open unless
    ``protect_discovery``; the feedback and service endpoints always need a token.
    """

    def __init__(self, audience: str, issuers: Mapping[str, Mapping[str, Any] | str], *,
                 algorithms: tuple[str, ...] = ALGORITHMS, leeway: int = 30, max_lifetime: int = 300,
                 replay: ReplayStore | None = None, fetcher: Fetcher | None = None,
                 protect_discovery: bool = False) -> None:
        if not audience.startswith(("https://", "http://")):
            raise AuthConfigError("the audience must be the service's base URL (https://...)")
        if not issuers:
            raise AuthConfigError("at least one trusted issuer is needed")
        unsafe = [name for name in algorithms if name not in ASYMMETRIC_ALGORITHMS]
        if unsafe or not algorithms:
            raise AuthConfigError("only asymmetric algorithms may be allowed: "
                                  + ", ".join(sorted(ASYMMETRIC_ALGORITHMS)))
        self.audience = audience.rstrip("/")
        self.algorithms, self.leeway, self.max_lifetime = tuple(algorithms), leeway, max_lifetime
        self.replay: ReplayStore = replay if replay is not None else ReplayMemory()
        self.protect_discovery = protect_discovery
        self._issuers: dict[str, dict[str, tuple[jwt.PyJWK, str | None]] | JwksCache] = {}
        for issuer, source in issuers.items():
            if isinstance(source, str):
                self._issuers[issuer] = JwksCache(source, fetcher=fetcher)
            else:
                self._issuers[issuer] = _keys(source, f"issuer '{issuer}'")

    @classmethod
    def from_file(cls, path: str | Path, audience: str, **options: Any) -> AuthConfig:
        """The configuration in a JSON file mapping each issuer to a JWKS object or a JWKS URL."""
        where = Path(path)
        try:
            document = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise AuthConfigError(f"{where.name}: cannot read it as a JSON file") from None
        if not isinstance(document, dict) or not all(
                isinstance(v, (dict, str)) for v in document.values()):
            raise AuthConfigError(f"{where.name}: expected an object mapping issuer to a JWKS or a JWKS URL")
        try:
            return cls(audience, document, **options)
        except AuthConfigError as exc:
            raise AuthConfigError(f"{where.name}: {exc}") from None

    def _key(self, issuer: str, kid: Any, algorithm: str) -> jwt.PyJWK:
        """The issuer's signing key named ``kid``, of the type the algorithm needs."""
        source = self._issuers[issuer]
        found = None if not isinstance(kid, str) else (
            source.key(kid) if isinstance(source, JwksCache) else source.get(kid))
        if (found is None or found[0].key_type != _KEY_TYPES[algorithm[:2]]
                or found[1] not in (None, algorithm)):
            raise AuthError("cds-auth-key", "the token's key is not one of the issuer's signing keys")
        return found[0]

    def verify(self, authorization: str | None, endpoint: str) -> dict[str, Any]:
        """The verified claims of the bearer token in an ``Authorization`` header value, for a call
        to ``endpoint`` (the path, e.g. ``/cds-services/x``); raises `AuthError` otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("cds-auth-missing", "a bearer token (the CDS Client's signed JWT) is required")
        if len(token) > _MAX_TOKEN:
            raise AuthError("cds-auth-malformed", "the bearer token is too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("cds-auth-malformed", "the bearer token is not a signed JWT") from None
        algorithm, kid, issuer = header.get("alg"), header.get("kid"), unverified.get("iss")
        if algorithm not in self.algorithms:
            raise AuthError("cds-auth-algorithm", "the token's algorithm is not allowed "
                            f"(allowed: {', '.join(self.algorithms)})")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise AuthError("cds-auth-issuer", "the token's issuer is not trusted")
        key = self._key(issuer, kid, algorithm)
        claims = self._decode(token, key, algorithm, issuer, endpoint)
        self._check_times(claims)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= _MAX_JTI:
            raise AuthError("cds-auth-claims", "the token's jti must be a non-empty string")
        if not self.replay.first_use(f"{issuer}\x00{jti}", float(claims["exp"]) + self.leeway):
            raise AuthError("cds-auth-replayed", "this token has been used before")
        return claims

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str, issuer: str,
                endpoint: str) -> dict[str, Any]:
        audiences = [self.audience, self.audience + endpoint]
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[algorithm], audience=audiences, issuer=issuer,
                leeway=self.leeway, options={"require": ["iss", "aud", "exp", "iat", "jti"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("cds-auth-expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("cds-auth-audience", "the token's audience is not this service's URL") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("cds-auth-time", "the token is issued in the future") from None
        except jwt.MissingRequiredClaimError:
            raise AuthError("cds-auth-claims",
                            "the token lacks a required claim (iss, aud, exp, iat, jti)") from None
        except jwt.PyJWTError:
            raise AuthError("cds-auth-invalid", "the token's signature or claims do not verify") from None
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = time.time()
        exp, iat = claims["exp"], claims["iat"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, iat)):
            raise AuthError("cds-auth-claims", "the token's exp and iat must be numbers")
        if iat > now + self.leeway:
            raise AuthError("cds-auth-time", "the token is issued in the future")
        if exp > now + self.max_lifetime + self.leeway:
            raise AuthError("cds-auth-lifetime", f"the token lives longer than {self.max_lifetime} seconds")
