"""The app's catalog is ``rt_crm``'s."""

from __future__ import annotations

from rt_crm import catalog as CATALOG  # the name every app's resources module has

__all__ = ["CATALOG"]
