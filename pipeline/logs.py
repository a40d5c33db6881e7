"""Structured logs for the person on call: one JSON object per line on stderr.

bomflow's own loggers (structlog) and every standard-library logger (Great Expectations, py4j,
PySpark) go through the same structlog ProcessorFormatter, so every line is JSON with the same
keys as Spark's own JSON layout (conf/log4j2.properties: Spark's SparkLayout.json): `ts` (UTC,
ISO 8601), `level`, `logger`, `msg`, plus the event's own fields. Inside a night every line also
carries `run_id` (structlog's context variables); the executors' Spark log lines carry it in their
`context` (Spark's `mdc.` local properties).

The level: `--log-level`, else $BOMFLOW_LOG_LEVEL, else the configuration's `log_level`.
"""
import logging
import os
import sys

import structlog

LEVEL_VARIABLE = "BOMFLOW_LOG_LEVEL"
NOISY = ("py4j", "great_expectations")

get = structlog.stdlib.get_logger
bound = structlog.contextvars.bound_contextvars   # with bound(run_id=...): every line inside carries it


FIRST = ("ts", "level", "logger", "msg", "run_id")


def _first_keys(_, __, event: dict) -> dict:
    """Spark's JSON layout's keys first, then the event's own fields, so lines read alike."""
    return {**{k: event[k] for k in FIRST if k in event}, **{k: v for k, v in event.items() if k not in FIRST}}


class _Handler(logging.StreamHandler):
    """Ours, so that configuring twice replaces it and leaves other handlers (pytest's) alone."""


def level(settings: dict, override: str | None = None) -> str:
    chosen = (override or os.environ.get(LEVEL_VARIABLE) or settings.get("log_level") or "INFO").upper()
    if chosen not in logging.getLevelNamesMapping():
        from pipeline.errors import BomflowError
        raise BomflowError(f"unknown log level {chosen!r} (DEBUG, INFO, WARNING, ERROR)")
    return chosen


def configure(settings: dict, override: str | None = None) -> None:
    shared = [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
              structlog.stdlib.add_logger_name, structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts")]
    structlog.configure(processors=[structlog.stdlib.filter_by_level, *shared,
                                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
                        logger_factory=structlog.stdlib.LoggerFactory(),
                        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    structlog.processors.EventRenamer("msg"), _first_keys,
                    structlog.processors.JSONRenderer(default=str)])
    handler = _Handler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _Handler)] + [handler]
    root.setLevel(level(settings, override))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # PySpark logs every analysis error with its JVM stack trace; bomflow reports it in one line instead.
    from pyspark.logger import PySparkLogger
    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
