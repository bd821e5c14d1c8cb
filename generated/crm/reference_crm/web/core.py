"""This app's web UI: its ``Site`` (``crmgen_runtime.web.site``) over the catalog and this
package's folder (``ui.json``, and the app's own ``templates/``, ``static/`` and ``messages/``
before the runtime's). The runtime's page modules find it on ``app.state.site``."""

from __future__ import annotations

from pathlib import Path

from crmgen_runtime.web.site import Site

from reference_crm.analytics import ANALYTICS
from reference_crm.resources import CATALOG

ROOT = Path(__file__).parent.parent
SITE = Site(CATALOG, ROOT, analytics=ANALYTICS)
