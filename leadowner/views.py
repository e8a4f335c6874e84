"""Console shell views: home. (Login and logout are Django's auth views; see web_urls.)"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver
from django.views.decorators.http import require_GET

from leadowner.console import manager_required, url_if_exists
from routing.models import Account, Lead, OwnerRole, Ownership
from territories.models import Rep


@dataclass(frozen=True)
class Count:
    label: str
    value: int
    url: str | None  # the screen that lists them, once it exists


def unassigned_leads_count() -> int:
    """Leads with no current SALES owner: the unassigned queue managers watch."""
    owned = Ownership.objects.filter(lead=OuterRef("pk"), role=OwnerRole.SALES, ended_at__isnull=True)
    return Lead.objects.filter(~Exists(owned)).count()


@require_GET
@manager_required
def home(request: HttpRequest) -> HttpResponse:
    # One COUNT per figure: a constant four queries whatever the size of the book.
    counts = [
        Count("Accounts", Account.objects.count(), url_if_exists("console:accounts")),
        Count("Leads", Lead.objects.count(), url_if_exists("console:leads")),
        Count("Unassigned leads", unassigned_leads_count(), url_if_exists("console:unassigned")),
        Count("Reps", Rep.objects.count(), url_if_exists("console:reps")),
    ]
    return render(request, "console/home.html", {"counts": counts, "nav": "home"})


# Cross-domain console screens (jobs, metrics, settings) register here; see web_urls.
ops_patterns: list[URLPattern | URLResolver] = []
