"""A JHipster sample imported with ``crmgen import jdl`` generates an app whose own test suite
passes, on SQLite and on PostgreSQL. One small sample only (blog.jh: a relationship to `User`, a
many-to-many, pagination): every sample converts and validates in tests/jdl/, but generating
and testing each would add minutes to the suite, so the others are run by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmgen.generate import generate
from crmgen.jdl import import_jdl
from tests.e2e.test_generated_suite import _passes

SAMPLE = Path(__file__).resolve().parents[1] / "jdl" / "samples" / "blog.jh"


@pytest.fixture(scope="module")
def blog_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jdl-blog")
    import_jdl(SAMPLE, root / "spec")
    generate(root / "spec", root / "out")
    return root / "out"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_imported_sample_passes_its_generated_tests(blog_out: Path, kind: str) -> None:
    _passes(blog_out, kind)
