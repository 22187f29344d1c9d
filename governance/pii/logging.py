"""Log records without personal data: a filter for the site's handlers (settings.LOGGING) and a record factory for
the handlers libraries install on their own loggers (transformers, torch, ...), which no settings reach."""

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
        if getattr(_inside, "active", False) or getattr(record, "pii_redacted", False):
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
        record.pii_redacted = True
        return True


def install_record_factory() -> None:
    """Redact every record when it is made, whichever logger and handler it goes to (once per process)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "redacts_pii", False):
        return
    redacting = RedactingFilter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        redacting.filter(record)
        return record

    factory.redacts_pii = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
