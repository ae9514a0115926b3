"""backrx as a CDS Hooks 2.0 service (patient-view), ready to run.

    pip install 'backrx[cds-hooks]'
    uvicorn app:app --port 8000          # from this folder

Discovery: GET http://localhost:8000/cds-services
Service:   POST http://localhost:8000/cds-services/backrx-patient-view

The rule pack is loaded once, when this module is imported. Set BACKRX_RULES to a rule pack folder
to serve a clinic's own pack instead of the bundled one.
"""

from __future__ import annotations

import os

from backrx import load_rules
from backrx.interop.cds_hooks import create_app

app = create_app(load_rules(os.environ.get("BACKRX_RULES") or None))
