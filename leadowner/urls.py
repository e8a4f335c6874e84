from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("leadowner.graphql.urls")),
    path("", include("leadowner.web_urls")),
]

if settings.BENCH_VIEWS:  # make bench's reference views: never mounted unless asked for
    from leadowner import bench_views

    urlpatterns += [
        path("bench/minimal", bench_views.minimal, name="bench-minimal"),
        path("bench/accounts", bench_views.accounts, name="bench-accounts"),
    ]
