"""backrx as a CDS Hooks 2.0 service (patient-view), ready to run.

    pip install 'backrx[cds-hooks]'
    uvicorn app:app --port 8000          # from this folder

Discovery: GET http://localhost:8000/cds-services
Service:   POST http://localhost:8000/cds-services/backrx-patient-view

The rule pack is loaded once, when this module is imported. Set BACKRX_RULES to a rule pack folder
to serve a clinic's own pack instead of the bundled one. The limits of one call default to a 1 MB
body, 100 resources per prefetch key and 2,000 questionnaire items and answers; set
BACKRX_CDS_MAX_BODY_BYTES, BACKRX_CDS_MAX_RESOURCES or BACKRX_CDS_MAX_ITEMS to change them.
"""

from __future__ import annotations

import os

from backrx import load_rules
from backrx.interop.cds_hooks import MAX_BODY_BYTES, MAX_ITEMS, MAX_RESOURCES, create_app


def _limit(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


app = create_app(load_rules(os.environ.get("BACKRX_RULES") or None),
                 max_body_bytes=_limit("BACKRX_CDS_MAX_BODY_BYTES", MAX_BODY_BYTES),
                 max_resources=_limit("BACKRX_CDS_MAX_RESOURCES", MAX_RESOURCES),
                 max_items=_limit("BACKRX_CDS_MAX_ITEMS", MAX_ITEMS))
