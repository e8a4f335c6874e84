"""The contract's enums, made from the models' choices so the two can never drift apart.

strawberry.enum marks each model TextChoices class as a GraphQL enum (it returns the
class itself), so types annotate fields with the model's own choices class. Each is a
`str` enum: a model value ("SDR") serializes as the member of that name, and an enum
argument arrives as a member usable in queryset filters.
"""

from __future__ import annotations

import strawberry

from disputes.models import DisputeStatus
from routing.models import (
    AccountType,
    ActivityKind,
    DealRegistrationStatus,
    DecisionStep,
    LeadSource,
    LeadStage,
    OwnerRole,
)
from territories.models import DistributionMethod, RepRole, RepStatus

strawberry.enum(OwnerRole, name="OwnerRole")
strawberry.enum(RepRole, name="RepRole")
strawberry.enum(RepStatus, name="RepStatus")
strawberry.enum(LeadStage, name="LeadStage")
strawberry.enum(LeadSource, name="LeadSource")
strawberry.enum(AccountType, name="AccountType")
strawberry.enum(DistributionMethod, name="DistributionMethod")
strawberry.enum(ActivityKind, name="ActivityKind")
strawberry.enum(DealRegistrationStatus, name="DealRegistrationStatus")
strawberry.enum(DisputeStatus, name="DisputeStatus")
strawberry.enum(
    DecisionStep,
    name="DecisionStep",
    description="Why a record went where it went: the step of the ownership hierarchy that decided.",
)

__all__ = [
    "AccountType",
    "ActivityKind",
    "DealRegistrationStatus",
    "DecisionStep",
    "DisputeStatus",
    "DistributionMethod",
    "LeadSource",
    "LeadStage",
    "OwnerRole",
    "RepRole",
    "RepStatus",
]
