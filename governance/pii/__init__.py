"""Personal data: detection and redaction with no Django (engine: Presidio, offline; redact: the actions; logging: the
filter). governance.privacy is the Django side every path calls; docs/governance.md describes the policy."""

from governance.pii.engine import ENTITIES, Finding, detect
from governance.pii.redact import ACTIONS, HASH, KEEP, REDACT, REFUSE, PIIRefused, Redaction, redact, redact_json

__all__ = [
    "ACTIONS",
    "ENTITIES",
    "HASH",
    "KEEP",
    "REDACT",
    "REFUSE",
    "Finding",
    "PIIRefused",
    "Redaction",
    "detect",
    "redact",
    "redact_json",
]
