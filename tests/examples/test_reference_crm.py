"""What the reference CRM promises its users, taken from the source documents."""

from __future__ import annotations

from pathlib import Path

from crmgen import load

ROOT = Path(__file__).resolve().parents[2]


def test_a_locked_account_stays_locked_for_30_minutes() -> None:
    app = load(ROOT / "examples" / "crm").app
    assert (app.lockout_attempts, app.lockout_minutes) == (5, 30)
