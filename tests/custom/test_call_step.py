"""The ``call`` step is checked when validating by reading the custom code's source: the module
file exists and defines the function with the parameters ``with`` names; nothing is imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from crmgen.diagnostics import Diagnostic
from crmgen.language import check_spec

SPEC = """\
app: {name: calls}
roles:
  admin: {superuser: true}
entities:
  Deal:
    fields:
      title: {type: string, required: true}
      amount: decimal
    permissions: {admin: all}
processes:
  price:
    on: {create: Deal, when: before}
    steps:
      - call: {function: STEP, with: {amount: '= record.amount'}, into: result}
      - log: 'got {{ result }}'
"""

BOOM = """\
from pathlib import Path

Path(__file__).with_name("IMPORTED").write_text("imported")
raise RuntimeError("this module must not be imported when validating")


def discount(run, amount):
    return amount


async def later(run, amount):
    return amount


def no_run():
    return 1


def any_keyword(run, **values):
    return values
"""


def _check(tmp_path: Path, step: str, files: dict[str, str] | None = None) -> list[Diagnostic]:
    folder = tmp_path / "calls"
    (folder / "custom").mkdir(parents=True, exist_ok=True)
    (folder / "app.yaml").write_text(SPEC.replace("STEP", step), encoding="utf-8")
    for name, text in ({"pricing.py": BOOM} if files is None else files).items():
        (folder / "custom" / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / "custom" / name).write_text(text, encoding="utf-8")
    _, diagnostics = check_spec(folder)
    assert "calls.custom.pricing" not in sys.modules and "custom.pricing" not in sys.modules
    assert not (folder / "custom" / "IMPORTED").exists()  # read, never imported
    return [d for d in diagnostics if d.severity == "error"]


def test_a_function_is_found_by_reading_the_source_without_importing(tmp_path: Path) -> None:
    assert _check(tmp_path, "custom.pricing.discount") == []
    assert _check(tmp_path, "custom.pricing.any_keyword") == []


@pytest.mark.parametrize(
    ("step", "files", "message", "column"),
    [
        ("custom.prices.discount", None, "no module custom/prices.py", 26),
        ("custom.pricing.discont", None, "did you mean 'discount'?", 26),
        ("custom.pricing.later", None, "custom.pricing.later is async", 26),
        ("custom.pricing.no_run", None, "must take the process's run", 26),
        (
            "custom.pricing.discount",
            {"pricing.py": "def discount(run, amount:\n"},
            "cannot be read",
            26,
        ),
        (
            "custom.deals.price.discount",
            {"deals/price.py": "def discount(run, total): ..."},
            "takes no parameter 'amount'",
            62,
        ),
    ],
)
def test_a_bad_call_is_a_located_error(
    tmp_path: Path, step: str, files: dict[str, str] | None, message: str, column: int
) -> None:
    errors = _check(tmp_path, step, files)
    assert len(errors) == 1, errors
    assert message in errors[0].message
    assert errors[0].code == "step-call"
    assert (Path(errors[0].position.file).name, errors[0].position.line) == ("app.yaml", 14)
    assert errors[0].position.column == column


def test_a_package_module_is_found(tmp_path: Path) -> None:
    files = {"deals/__init__.py": "def price(run, amount):\n    return amount\n"}
    assert _check(tmp_path, "custom.deals.price", files) == []


def test_without_a_custom_folder_the_error_says_where_to_write_it(tmp_path: Path) -> None:
    spec = tmp_path / "crm.yaml"
    spec.write_text(SPEC.replace("STEP", "custom.pricing.discount"), encoding="utf-8")
    model, diagnostics = check_spec(spec)
    assert model is None
    (error,) = diagnostics
    assert "no custom folder: write the function in custom/pricing.py" in error.message


def test_the_function_must_be_named_below_custom(tmp_path: Path) -> None:
    errors = _check(tmp_path, "pricing.discount")
    assert errors and all(e.position.line == 14 for e in errors)


def test_a_yaml_file_in_the_custom_folder_is_not_part_of_the_spec(tmp_path: Path) -> None:
    assert _check(tmp_path, "custom.pricing.discount", {"pricing.py": BOOM, "x.yaml": "[bad"}) == []
