"""Log lines: plain text for people, or JSON lines for a log collector (``LOG_FORMAT``).

Every record carries the id of the request being served (``request_id``, ``-`` outside
requests: ``crmgen_runtime.request_ids``). With ``LOG_FORMAT=json`` each line is one JSON
object: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``, the
request's ``method``, ``path``, ``status`` and ``duration`` (seconds) where the record has them
(the access line of ``crmgen_runtime.observe`` has all four), and ``exception`` with the
traceback of a logged error. ``configure`` sets up the root logger of a worker process;
``dict_config`` is the same set-up as the ``log_config`` of uvicorn (``serve``), whose own
access log is replaced by ``observe``'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import logging.config
from typing import Any

import orjson

from crmgen_runtime import request_ids

OUTSIDE = "-"  # the request id of a text line logged outside any request
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# What a record may carry beyond the standard attributes (``extra=``), in this order.
REQUEST_FIELDS = ("method", "path", "status", "duration")


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the request being served, else ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_ids.current() or OUTSIDE
        return True


def _request_id(record: logging.LogRecord) -> str | None:
    """The request id ``RequestIdFilter`` gave ``record``, else the current request's (None
    outside requests)."""
    value = getattr(record, "request_id", OUTSIDE)
    return request_ids.current() if value == OUTSIDE else str(value)


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode("utf-8")


def dict_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a process: the root logger and uvicorn's, in
    ``log_format`` (text or json), at ``level``; uvicorn's access log is off."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "app",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"app": formatter},
        "handlers": {"app": handler},
        "root": {"handlers": ["app"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure(log_format: str, level: str = "INFO") -> None:
    """Set up this process's logging (``dict_config``)."""
    logging.config.dictConfig(dict_config(log_format, level))
