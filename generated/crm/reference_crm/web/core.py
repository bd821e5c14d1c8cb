"""This app's web UI: its ``Site`` (``crmgen_runtime.web.site``) over the catalog and this
package's folder (``ui.json``, and the app's own ``templates/``, ``static/`` and ``messages/``
before the runtime's), with the names the page modules use."""

from __future__ import annotations

from pathlib import Path

from crmgen_runtime.web.site import Site

from reference_crm.analytics import ANALYTICS
from reference_crm.resources import CATALOG

ROOT = Path(__file__).parent.parent
SITE = Site(CATALOG, ROOT, analytics=ANALYTICS)

SPEC = SITE.spec
ENTITIES = SITE.entities
PAGES = SITE.pages
MESSAGES = SITE.messages
LOCALES = SITE.locales

render = SITE.render
error_page = SITE.error_page
guard = SITE.guard
locale_of = SITE.locale_of
translator = SITE.translator
field_errors = SITE.field_errors
pick = SITE.pick
cell = SITE.cell
form_value = SITE.form_value
entity_context = SITE.entity_context
