from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models

LIMIT_REACHED = "limit_reached"


class DomainError(Exception):
    """A request that breaks a business rule. Services raise it; the API answers 400 in the common error shape
    and pages show the message next to the field it names. ``code="forbidden"`` is a refusal (403);
    ``code=LIMIT_REACHED`` a count over time that is used up, such as a tenant's training jobs a day (429, with
    ``retry_after`` seconds when known)."""

    def __init__(
        self, message: str, *, field: str | None = None, code: str = "invalid", retry_after: int | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.retry_after = retry_after


def full_clean_or_raise(obj: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Run the model's field validators and report every failure as one DomainError naming the first field."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
        field = next(iter(errors))
        message = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
        raise DomainError(message, field=None if field == "__all__" else field) from None
