"""backrx as a CDS Hooks 2.0 service (patient-view), ready to run.

    pip install 'backrx[cds-hooks]'
    export BACKRX_CDS_JWKS=/etc/backrx/trusted-ehrs.json      # issuer -> JWKS, or issuer -> JWKS URL
    export BACKRX_CDS_AUDIENCE=https://cds.example.org         # this service's public base URL
    uvicorn app:app --port 8000                                # from this folder

Discovery: GET  {audience}/cds-services
Service:   POST {audience}/cds-services/backrx-patient-view
Feedback:  POST {audience}/cds-services/backrx-patient-view/feedback

Every service and feedback call must carry the EHR's signed JWT (see docs/cds-hooks.md). Without
BACKRX_CDS_JWKS the app refuses to start, unless BACKRX_CDS_INSECURE=1 is set for a local trial:
then no call is checked and every request logs a warning. BACKRX_CDS_PROTECT_DISCOVERY=1 asks for a
token on discovery too. BACKRX_CDS_FEEDBACK_LOG names a JSON Lines file for the feedback events
(kept in memory otherwise).

The rule pack is loaded once, when this module is imported. Set BACKRX_RULES to a rule pack folder
to serve a clinic's own pack instead of the bundled one. The limits of one call default to a 1 MB
body, 100 resources per prefetch key and 2,000 questionnaire items and answers; set
BACKRX_CDS_MAX_BODY_BYTES, BACKRX_CDS_MAX_RESOURCES or BACKRX_CDS_MAX_ITEMS to change them.
"""

from __future__ import annotations

import os

from backrx import load_rules
from backrx.interop.cds_auth import AuthConfig, AuthConfigError
from backrx.interop.cds_feedback import JsonlFeedbackLog
from backrx.interop.cds_hooks import MAX_BODY_BYTES, MAX_ITEMS, MAX_RESOURCES, create_app


def _limit(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _auth() -> AuthConfig | None:
    """The JWT check from the environment; None only when BACKRX_CDS_INSECURE=1 says so."""
    jwks = os.environ.get("BACKRX_CDS_JWKS", "").strip()
    if not jwks:
        if os.environ.get("BACKRX_CDS_INSECURE") == "1":
            return None
        raise SystemExit("backrx CDS Hooks: set BACKRX_CDS_JWKS (trusted issuers and their keys) and "
                         "BACKRX_CDS_AUDIENCE (this service's base URL), or BACKRX_CDS_INSECURE=1 "
                         "for a local trial without authentication")
    audience = os.environ.get("BACKRX_CDS_AUDIENCE", "").strip()
    if not audience:
        raise SystemExit("backrx CDS Hooks: BACKRX_CDS_AUDIENCE (this service's base URL) must be set "
                         "with BACKRX_CDS_JWKS")
    try:
        return AuthConfig.from_file(jwks, audience,
                                    protect_discovery=os.environ.get("BACKRX_CDS_PROTECT_DISCOVERY") == "1")
    except AuthConfigError as exc:
        raise SystemExit(f"backrx CDS Hooks: BACKRX_CDS_JWKS: {exc}") from None


_AUTH = _auth()
_FEEDBACK = os.environ.get("BACKRX_CDS_FEEDBACK_LOG", "").strip()

app = create_app(load_rules(os.environ.get("BACKRX_RULES") or None),
                 max_body_bytes=_limit("BACKRX_CDS_MAX_BODY_BYTES", MAX_BODY_BYTES),
                 max_resources=_limit("BACKRX_CDS_MAX_RESOURCES", MAX_RESOURCES),
                 max_items=_limit("BACKRX_CDS_MAX_ITEMS", MAX_ITEMS),
                 auth=_AUTH, warn_unauthenticated=_AUTH is None,
                 feedback_log=JsonlFeedbackLog(_FEEDBACK) if _FEEDBACK else None)
