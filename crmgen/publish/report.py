"""The JSON report of ``crmgen publish`` and the JSON Schema it is checked against.

The schema ships in the package (``report.schema.json``); ``crmgen publish`` validates its own
report before writing it, so a report a CI job keeps always matches the documented shape.
Artefact paths are relative to OUT.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from crmgen import __version__
from crmgen.publish.stages import Run, StageResult

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")
ARTEFACTS = ("wheel", "web_assets", "dockerfile", "compose", "kubernetes", "image_id", "image_tag")


@lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def build_report(state: Run, results: list[StageResult]) -> dict[str, Any]:
    failed = next((r.name for r in results if r.status == "failed"), None)
    tests = {"passed": 0, "failed": 0, "skipped": 0, "database": "sqlite"} | state.tests
    return {
        "crmgen": __version__,
        "spec": str(state.spec_path),
        "out": str(state.out),
        "python": platform.python_version(),
        "outcome": "failed" if failed else "passed",
        "failed_stage": failed,
        "seconds": round(sum(r.seconds for r in results), 4),
        "stages": [asdict(r) | {"seconds": round(r.seconds, 4)} for r in results],
        "artefacts": {key: state.artefacts.get(key) for key in ARTEFACTS},
        "tests": tests,
        "warnings": list(state.warnings),
    }


def validate_report(report: dict[str, Any]) -> list[str]:
    """Every way ``report`` breaks the schema, as ``path: message`` lines (none when valid)."""
    validator = Draft202012Validator(report_schema())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(report)
    ]


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def write_report(report: dict[str, Any], path: Path) -> None:
    """Validate ``report`` against the schema, then write it to ``path``."""
    problems = validate_report(report)
    if problems:
        raise ValueError("the publish report does not match its schema: " + "; ".join(problems))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(report), encoding="utf-8")
