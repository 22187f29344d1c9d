"""Redaction of what ``engine.detect`` finds, through presidio-anonymizer: a placeholder naming the entity, or a keyed
hash of the value (the same value gives the same token, so rows can still be grouped and joined on it)."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from governance.pii.engine import ENTITIES, detect

REDACT, HASH, REFUSE, KEEP = "redact", "hash", "refuse", "keep"
ACTIONS = (REDACT, HASH, REFUSE, KEEP)
HASH_CHARS = 12


class PIIRefused(ValueError):
    """A text held personal data where the policy says refuse; ``counts`` says what (never the values)."""

    def __init__(self, message: str, *, counts: Mapping[str, int]):
        super().__init__(message)
        self.counts = dict(counts)


@dataclass
class Redaction:
    text: str
    counts: Counter = field(default_factory=Counter)

    @property
    def found(self) -> int:
        return sum(self.counts.values())


_anonymizer = None


def _engine():
    global _anonymizer
    if _anonymizer is None:
        from presidio_anonymizer import AnonymizerEngine

        _anonymizer = AnonymizerEngine()
    return _anonymizer


def placeholder(entity: str) -> str:
    return f"<{entity}>"


def hash_token(entity: str, value: str, key: bytes) -> str:
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:HASH_CHARS]
    return f"<{entity}:{digest}>"


def redact(text: str, *, action: str = REDACT, key: bytes = b"", where: str = "text") -> Redaction:
    """``text`` with its personal data replaced (``redact``: ``<EMAIL_ADDRESS>``; ``hash``: ``<EMAIL_ADDRESS:3f0c…>``
    keyed by ``key``), the counts by entity; ``refuse`` raises PIIRefused naming ``where``; ``keep`` only counts."""
    if action not in ACTIONS:
        raise ValueError(f"PII action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if not isinstance(text, str):
        return Redaction(text)
    text = str(text)  # a str subclass (DRF's ErrorDetail, Django's SafeString) as the plain text it holds
    findings = detect(text)
    counts = Counter(f.entity for f in findings)
    if not findings or action == KEEP:
        return Redaction(text, counts)
    if action == REFUSE:
        what = ", ".join(f"{n} {entity}" for entity, n in sorted(counts.items()))
        raise PIIRefused(f"{where} holds personal data ({what}); the policy refuses it", counts=counts)
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    results = [RecognizerResult(f.entity, f.start, f.end, f.score) for f in findings]
    if action == REDACT:
        operators = {e: OperatorConfig("replace", {"new_value": placeholder(e)}) for e in ENTITIES}
    else:
        operators = {
            e: OperatorConfig("custom", {"lambda": lambda value, e=e: hash_token(e, value, key)}) for e in ENTITIES
        }
    return Redaction(_engine().anonymize(text=text, analyzer_results=results, operators=operators).text, counts)


def redact_json(value: Any, *, action: str = REDACT, key: bytes = b"", where: str = "value") -> tuple[Any, Counter]:
    """Every string inside ``value`` (dicts, lists, nested; keys stay as they are) redacted; the counts summed."""
    counts: Counter = Counter()

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, str):
            result = redact(node, action=action, key=key, where=path)
            counts.update(result.counts)
            return result.text
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in node.items()}
        if isinstance(node, list | tuple):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        return node

    return walk(value, where), counts
