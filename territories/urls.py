"""Console screens of the territories domain (namespace `console:`): the territory map and the roster."""

from django.urls import URLPattern, URLResolver, path

from territories import views

patterns: list[URLPattern | URLResolver] = [
    path("territories/", views.territory_map, name="territories"),
    path("territories/diff/", views.territory_diff, name="territory_diff"),
    path("territories/import/", views.territory_import, name="territory_import"),
    path("territories/v<int:version>/yaml/", views.territory_export, name="territory_export"),
    path("territories/v<int:version>/draft/", views.territory_draft, name="territory_draft"),
    path("territories/v<int:version>/validate/", views.territory_validate, name="territory_validate"),
    path("territories/v<int:version>/publish/", views.territory_publish, name="territory_publish"),
    path("territories/territory/<int:territory_id>/", views.territory_edit, name="territory_edit"),
    path("roster/", views.roster, name="roster"),
    path("roster/<int:rep_id>/", views.roster_rep, name="roster_rep"),
    path("roster/<int:rep_id>/depart/", views.roster_depart, name="roster_depart"),
]
