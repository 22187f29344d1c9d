"""Personal data, the Django side: every path that takes text from people or from the model calls these before the
text is stored, shown or handed to the model; each decision that changed or refused something is an audit entry with
the counts by entity (never the values). The detection itself is governance.pii (no Django)."""

from __future__ import annotations

import contextvars
import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from governance.pii import REDACT, REFUSE, PIIRefused, redact, redact_json

AUDIT_ACTION = "pii.redact"
AUDIT_REFUSED = "pii.refuse"


def pii_hash_key() -> bytes:
    """The key of ``hash`` tokens: settings.PII_HASH_KEY, else one derived from SECRET_KEY (so a token cannot be
    recomputed from a guessed value without the site's secret)."""
    key = getattr(settings, "PII_HASH_KEY", "") or ""
    return key.encode() if key else hashlib.sha256(f"pii-hash:{settings.SECRET_KEY}".encode()).digest()


class PIITally:
    """Counts what one operation found over many texts (an upload's cells, a conversation's messages) and records
    them as one audit entry: ``scrub`` each text, then ``record`` once."""

    def __init__(self, *, source: str, tenant=None, user=None, api_key=None, obj=None):
        self.source, self.tenant, self.user, self.api_key, self.obj = source, tenant, user, api_key, obj
        self.counts: Counter = Counter()
        self.actions: Counter = Counter()
        self.refused = ""

    def scrub(self, text: str, action: str = REDACT, where: str = "text") -> str:
        try:
            result = redact(text, action=action, key=pii_hash_key() if action == "hash" else b"", where=where)
        except PIIRefused as exc:
            self.counts.update(exc.counts)
            self.actions[REFUSE] += sum(exc.counts.values())
            self.refused = self.refused or str(exc)
            raise
        if result.found:
            self.counts.update(result.counts)
            self.actions[action] += result.found
        return result.text

    def scrub_json(self, value: Any, action: str = REDACT) -> Any:
        key = pii_hash_key() if action == "hash" else b""
        clean, counts = redact_json(value, action=action, key=key)
        if counts:
            self.counts.update(counts)
            self.actions[action] += sum(counts.values())
        return clean

    def record(self):
        """The audit entry, when anything was found (None otherwise)."""
        if not self.counts:
            return None
        from governance.services import audit_record

        detail = {"source": self.source, "counts": dict(sorted(self.counts.items())), "actions": dict(self.actions)}
        if self.refused:
            detail["refused"] = True
        return audit_record(
            action=AUDIT_REFUSED if self.refused else AUDIT_ACTION,
            tenant=self.tenant,
            user=self.user,
            api_key=self.api_key,
            obj=self.obj,
            detail=detail,
        )


def pii_scrub_text(*, text: str, source: str, tenant=None, user=None, api_key=None, obj=None) -> str:
    """``text`` with personal data replaced by placeholders; audited when anything was found."""
    tally = PIITally(source=source, tenant=tenant, user=user, api_key=api_key, obj=obj)
    clean = tally.scrub(text)
    tally.record()
    return clean


def pii_scrub_json(*, value: Any, source: str, tenant=None, user=None, api_key=None, obj=None) -> Any:
    """Every string inside ``value`` (a payload, a conversation, a correction) redacted; audited when anything was."""
    tally = PIITally(source=source, tenant=tenant, user=user, api_key=api_key, obj=obj)
    clean = tally.scrub_json(value)
    tally.record()
    return clean


_scope: contextvars.ContextVar[PIITally | None] = contextvars.ContextVar("pii_scope", default=None)


@contextmanager
def pii_scope(*, source: str, tenant=None, user=None, api_key=None, obj=None) -> Iterator[PIITally]:
    """Texts the runtime guard redacts inside this block are counted for this tenant and source and audited once,
    when the block ends (outside any scope each text is its own entry, with no tenant)."""
    tally = PIITally(source=source, tenant=tenant, user=user, api_key=api_key, obj=obj)
    token = _scope.set(tally)
    try:
        yield tally
    finally:
        _scope.reset(token)
        tally.record()


def runtime_text_guard(text: str) -> str:
    """The LoRA runtime's guard (installed in ml.apps): every prompt text before it is encoded for the model and
    every answer before it leaves the runtime, whatever path called it."""
    tally = _scope.get()
    if tally is not None:
        return tally.scrub(text)
    return pii_scrub_text(text=text, source="ml.runtime")


# --- error messages: a refusal may quote the value it refused ------------------------------------------------------


def pii_scrub_error(value: Any, *, source: str, tenant=None, user=None, api_key=None) -> Any:
    """An error message (or a dict or list of them) about to be shown on a page, returned by the API or logged: a
    validation message may quote the cell or the field value it refused (``'jane@x.com' is not a number``,
    ``Select a valid choice. … is not one of the available choices``). Redacted, and audited when anything was."""
    return pii_scrub_json(value=value, source=source, tenant=tenant, user=user, api_key=api_key)


def _scrub_form_errors(form) -> None:
    from django.core.exceptions import ValidationError

    tally = PIITally(source="form.error")
    for errors in form._errors.values():
        for i, item in enumerate(errors.data):
            if getattr(item, "pii_checked", False):
                continue  # looked at when an earlier error was added
            if isinstance(item, ValidationError):
                messages = list(item)  # formatted with its params, as a page would show it
                clean = [tally.scrub(m) if isinstance(m, str) else m for m in messages]
                if clean != messages:
                    item = errors.data[i] = ValidationError(" ".join(str(c) for c in clean), code=item.code)
                item.pii_checked = True
            elif isinstance(item, str):
                errors.data[i] = tally.scrub(item)
    tally.record()


def install_form_error_guard() -> None:
    """Every form error, whatever added it (a field's own validation, ``clean``, a view's ``add_error`` with a
    service's message), is redacted as it is added: Django's choice fields quote the refused value, services quote
    what they were given. Installed once in ``governance.apps``."""
    from django.forms.forms import BaseForm

    if getattr(BaseForm.add_error, "pii_guard", False):
        return
    original = BaseForm.add_error

    def add_error(self, field, error):
        original(self, field, error)
        _scrub_form_errors(self)

    add_error.pii_guard = True
    add_error.__doc__ = original.__doc__
    BaseForm.add_error = add_error
