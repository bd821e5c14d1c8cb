"""Query parameters: whole numbers in range, or a 422 naming the parameter."""

from __future__ import annotations

import pytest
from crmgen_runtime import params
from crmgen_runtime.errors import ApiError
from starlette.requests import Request


def asking(query: str) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": query}
    return Request({**scope, "query_string": query.encode()})


def test_a_page_defaults_and_reads_its_limit_and_offset() -> None:
    assert params.page(asking("")) == (50, 0)
    assert params.page(asking("limit=500&offset=7")) == (500, 7)
    assert params.query_integer(asking("id="), "id", None, 0, None) is None


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "offset=-1", "limit=1.5"])
def test_a_bad_value_is_a_422_naming_the_parameter(query: str) -> None:
    with pytest.raises(ApiError) as refused:
        params.page(asking(query))
    name = query.partition("=")[0]
    assert refused.value.status == 422 and name in str(refused.value.fields)
