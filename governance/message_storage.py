"""The messages framework's storage (settings.MESSAGE_STORAGE): error messages are redacted when they are added, since
views put a service's refusal there and a refusal may quote the value it refused. (Other levels are left alone: the
admin's one-time display of a new API key is a warning, and a key must be shown as it is.)"""

from __future__ import annotations

from django.contrib.messages import constants
from django.contrib.messages.storage.fallback import FallbackStorage

from governance.privacy import pii_scrub_error


class RedactingStorage(FallbackStorage):
    def add(self, level, message, extra_tags=""):
        if level >= constants.ERROR and isinstance(message, str):
            message = pii_scrub_error(message, source="page.message", user=getattr(self.request, "user", None))
        return super().add(level, message, extra_tags)
