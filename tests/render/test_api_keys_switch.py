"""``app.auth.api_keys: false`` turns API keys off: no ``/api/api_keys`` routes, no ``/api-keys``
page, no ``api_key`` security scheme in the OpenAPI document, and the settings tell the runtime
that a key is no credential (``AppConfig.api_keys``, proven in the runtime's
``test_rt_api_keys``). Keys are on by default."""

from __future__ import annotations

import json
from pathlib import Path

from crmgen.generate import generate

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal" / "app.yaml"


def _generated(tmp_path: Path, auth: str) -> dict[str, str]:
    text = MINIMAL.read_text(encoding="utf-8")
    if auth:
        text = text.replace("app:\n", f"app:\n  auth: {auth}\n", 1)
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "app.yaml").write_text(text, encoding="utf-8")
    generate(tmp_path / "spec" / "app.yaml", tmp_path / "out")
    root = tmp_path / "out" / "minimal"
    names = ("app.py", "settings.py", "web/__init__.py", "openapi.json")
    return {name: (root / name).read_text(encoding="utf-8") for name in names}


def test_keys_are_on_by_default(tmp_path: Path) -> None:
    texts = _generated(tmp_path, "")
    assert "*api_keys.routes(CATALOG)" in texts["app.py"]
    assert "api_key_pages" in texts["web/__init__.py"]
    assert "api_keys=" not in texts["settings.py"]
    document = json.loads(texts["openapi.json"])
    assert "/api/api_keys" in document["paths"] and {"api_key": []} in document["security"]


def test_a_spec_turns_them_off(tmp_path: Path) -> None:
    texts = _generated(tmp_path, "{api_keys: false}")
    assert "api_keys" not in texts["app.py"] and "api_key_pages" not in texts["web/__init__.py"]
    assert "api_keys=False" in texts["settings.py"]
    document = json.loads(texts["openapi.json"])
    assert not [path for path in document["paths"] if "api_keys" in path]
    assert "api_key" not in document["components"]["securitySchemes"]
    assert {"api_key": []} not in document["security"]
