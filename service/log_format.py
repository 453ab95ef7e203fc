"""JSON log lines with tokens and JWTs scrubbed: the formatter and filter of every process.

One JSON object per line on stderr.  The redaction filter rewrites any message
or field that looks like a JWT (three base64url segments), a ``Bearer``
credential or an ``access_token`` value, so a mistake elsewhere cannot leak one.
No Flask here: the audit writer process logs through this module without
loading the web framework (service/logging_setup.py adds the per-request lines).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# A credential after "Bearer", but not the prose of a reason ("missing bearer token"): those
# few words are kept so a 401's reason stays readable.
_BEARER = re.compile(r"(?i)bearer\s+(?!(?:token|tokens|credentials?|header|scheme|prefix)\b)[A-Za-z0-9._~+/=-]+")
_ACCESS_TOKEN = re.compile(r'(?i)("?access_token"?\s*[:=]\s*"?)[^",\s}]+')
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    lowered = text.lower()
    if "eyJ" not in text and "bearer" not in lowered and "access_token" not in lowered:
        return text  # none of the patterns can match (most fields: ids, paths, statuses)
    text = _JWT.sub("[redacted-jwt]", text)
    text = _BEARER.sub("Bearer [redacted]", text)
    return _ACCESS_TOKEN.sub(r"\1[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if isinstance(record.args, dict):  # "%(name)s"-style arguments stay a mapping
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        elif record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_cds", False):
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    handler._cds = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # No caller lookup per record (the logging HOWTO's "Optimization"): it walks the stack for
    # file, line and function, which these JSON lines never print; about a fifth of an INFO
    # request line's cost (benchmarks/RESULTS.md).
    logging._srcfile = None
