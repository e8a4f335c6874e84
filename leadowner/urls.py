from django.urls import include, path

urlpatterns = [
    path("", include("leadowner.graphql.urls")),
    path("", include("leadowner.web_urls")),
]
