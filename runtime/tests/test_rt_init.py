"""``crmgen_runtime.require``: an app starts only on the runtime it was generated for."""

from __future__ import annotations

import crmgen_runtime
import pytest
from crmgen_runtime import RuntimeVersionError, require


def test_the_matching_version_passes() -> None:
    assert require(crmgen_runtime.__version__, "acme-crm") is None


def test_another_version_says_what_to_install() -> None:
    with pytest.raises(RuntimeVersionError) as caught:
        require("0.0.9", "acme-crm")
    message = str(caught.value)
    assert message.startswith("acme-crm was generated for crmgen-runtime 0.0.9, but ")
    assert f"crmgen-runtime {crmgen_runtime.__version__} is installed" in message
    assert "pip install --find-links wheels/ crmgen-runtime==0.0.9" in message
    assert f"again with crmgen {crmgen_runtime.__version__}" in message
    assert isinstance(caught.value, RuntimeError)
