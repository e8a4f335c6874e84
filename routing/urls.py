"""Console screens of the routing domain (namespace `console:`)."""

from django.urls import URLPattern, URLResolver, path

from routing import views, views_audit, views_queues, views_rebalancing, views_records, views_simulate

patterns: list[URLPattern | URLResolver] = [
    path("lookup/", views.lookup, name="lookup"),
    path("accounts/<int:account_id>/", views_records.account, name="account"),
    path("accounts/<int:account_id>/transfer/", views_records.account_transfer, name="account_transfer"),
    path("leads/<int:lead_id>/", views_records.lead, name="lead"),
    path("leads/<int:lead_id>/reroute/", views_records.lead_reroute, name="lead_reroute"),
    path("leads/<int:lead_id>/transfer/", views_records.lead_transfer, name="lead_transfer"),
    path("queues/unassigned/", views_queues.unassigned, name="unassigned"),
    path("queues/claim/", views_queues.claim_queue, name="claim_queue"),
    path("registrations/", views_queues.registration_queue, name="registrations"),
    path("simulate/", views_simulate.simulate, name="simulate"),
    path("audit/", views_audit.audit, name="audit"),
    path("audit/ownership-changes.csv", views_audit.audit_csv, name="audit_csv"),
    *views_rebalancing.patterns,
]
