"""Errors are data: expected outcomes carry a stable code, a message and the input field."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    ALREADY_OWNED = "ALREADY_OWNED"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID = "INVALID"
    EXPIRED = "EXPIRED"
    CONFLICT = "CONFLICT"
    AMBIGUOUS = "AMBIGUOUS"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    UNAUTHENTICATED = "UNAUTHENTICATED"


class ServiceError(Exception):
    """An expected business outcome: shown to the caller as a typed UserError."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"ServiceError({self.code.value}, {self.message!r}, field={self.field!r})"


class ServiceErrors(Exception):
    """Several expected errors at once (validation of a whole input)."""

    def __init__(self, errors: list[ServiceError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
