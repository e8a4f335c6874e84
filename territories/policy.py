"""The policy half of a rule set: every rule's window, typed and validated."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

INBOUND_OVERRIDE_CHOICES = ("existing_owner", "requested_rep")
# No window is longer than ten years: a larger one overflows date arithmetic (timedelta,
# business-day calendars) in every sweep that reads the policy.
MAX_BY_UNIT = {"_days": 3650, "_hours": 87_600, "_minutes": 5_256_000}


class PolicyError(ValueError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"policy.{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Policy:
    activity_window_days: int = 14
    first_touch_sla_hours: int = 24
    dispute_sla_hours: int = 48
    departure_business_days: int = 1
    engagement_lookback_days: int = 90
    inbound_override: str = "existing_owner"
    claim_days: int = 30
    registration_days: int = 90
    rebalance_idle_days: int = 90
    fuzzy_threshold: int = 90
    duplicate_window_minutes: int = 60

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Policy:
        """Build a policy, reporting every bad key; unknown keys are errors too."""
        data = dict(data or {})
        errors: list[PolicyError] = []
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if key not in known:
                errors.append(PolicyError(key, f"unknown setting (known: {', '.join(sorted(known))})"))
                continue
            if key == "inbound_override":
                if raw not in INBOUND_OVERRIDE_CHOICES:
                    errors.append(PolicyError(key, f"must be one of {', '.join(INBOUND_OVERRIDE_CHOICES)}"))
                    continue
                values[key] = raw
                continue
            if isinstance(raw, bool) or not isinstance(raw, int):
                errors.append(PolicyError(key, f"must be a whole number, got {raw!r}"))
                continue
            if raw < 0 or (raw == 0 and key != "departure_business_days"):
                errors.append(PolicyError(key, f"must be positive, got {raw}"))
                continue
            unit = next((u for u in MAX_BY_UNIT if key.endswith(u)), None)
            if unit is not None and raw > MAX_BY_UNIT[unit]:
                errors.append(PolicyError(key, f"must be at most {MAX_BY_UNIT[unit]:,} (ten years), got {raw}"))
                continue
            if key == "fuzzy_threshold" and not 50 <= raw <= 100:
                errors.append(PolicyError(key, "must be between 50 and 100"))
                continue
            values[key] = raw
        if errors:
            raise PolicyValidationError(errors)
        return cls(**values)


class PolicyValidationError(ValueError):
    def __init__(self, errors: list[PolicyError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors
