"""A logging filter that redacts personal data from every record before any handler formats it."""

from __future__ import annotations

import logging
import threading

from governance.pii.redact import redact

_inside = threading.local()


class RedactingFilter(logging.Filter):
    """Installed on every handler in settings.LOGGING. The message is rendered with its arguments and redacted, and a
    traceback is rendered and redacted too (the formatter then uses that text instead of rendering it again)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Building the analyzer logs (presidio, spaCy): those records pass as they are instead of waiting on the
        # analyzer they are part of building.
        if getattr(_inside, "active", False):
            return True
        _inside.active = True
        try:
            return self._redact(record)
        finally:
            _inside.active = False

    def _redact(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as logging does
            return True
        redacted = redact(message).text
        if redacted != message or record.args:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text).text
        if record.stack_info:
            record.stack_info = redact(record.stack_info).text
        return True
