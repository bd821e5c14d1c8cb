"""Cron schedules: five fields or a macro, each field range-checked."""

from __future__ import annotations

import pytest

from crmgen.language.cron import MACROS, cron_problem, normalize


@pytest.mark.parametrize(
    "schedule",
    [
        "0 3 * * *",
        "*/15 9-17 * * 1-5",
        "0 0 1,15 * *",
        "0 0 * jan-mar mon-fri",
        "0 0 * JAN SUN",
        "0 0 * * 7",  # Sunday, both ways
        "5/10 * * * *",
        "0   3  *  * *",  # extra spaces
        *MACROS,
        "@Daily",
    ],
)
def test_valid_schedules(schedule: str) -> None:
    assert cron_problem(schedule) is None


@pytest.mark.parametrize(
    "schedule, words",
    [
        ("@often", ["unknown cron macro", "@daily"]),
        ("0 3 * *", ["5 fields", "got 4"]),
        ("0 3 * * * *", ["5 fields", "got 6"]),
        ("", ["5 fields"]),
        ("60 * * * *", ["minute 60", "0-59"]),
        ("0 24 * * *", ["hour 24", "0-23"]),
        ("0 0 0 * *", ["day of month 0", "1-31"]),
        ("0 0 * 13 *", ["month 13", "1-12"]),
        ("0 0 * * 8", ["day of week 8", "0-7"]),
        ("*/0 * * * *", ["step cannot be 0"]),
        ("5-1 * * * *", ["runs backwards"]),
        ("x * * * *", ["bad minute 'x'"]),
        ("0 0 * foo *", ["bad month 'foo'"]),
        ("0 0 * * mon-", ["day of week"]),
        ("1,,2 * * * *", ["bad minute"]),
    ],
)
def test_invalid_schedules_say_which_field_is_wrong(schedule: str, words: list[str]) -> None:
    problem = cron_problem(schedule)
    assert problem is not None
    for word in words:
        assert word in problem


def test_normalize_expands_macros_and_collapses_spaces() -> None:
    assert normalize("@daily") == "0 0 * * *"
    assert normalize("  @HOURLY ") == "0 * * * *"
    assert normalize("0   3 *\t* *") == "0 3 * * *"


def test_a_schedule_on_a_day_that_never_comes_is_refused() -> None:
    assert "never runs" in (cron_problem("0 0 31 2 *") or "")
    assert "never runs" in (cron_problem("0 0 31 4,6 *") or "")
    assert cron_problem("0 0 29 2 *") is None  # leap years
    assert cron_problem("0 0 31 feb-apr *") is None  # March has a 31st
