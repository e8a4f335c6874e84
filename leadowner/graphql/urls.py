from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt

from leadowner.graphql.view import GraphQLView
from leadowner.schema import schema

# csrf_exempt here, enforced in the view for session-cookie requests (see view.py).
urlpatterns: list[URLPattern] = [
    path("graphql", csrf_exempt(GraphQLView.as_view(schema=schema)), name="graphql"),
]
