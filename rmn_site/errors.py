class DomainError(Exception):
    """A request that breaks a business rule. Services raise it; the API answers 400 in the common error shape
    and pages show the message next to the field it names."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
