"""The WSGI application (gunicorn leadowner.wsgi), loaded, then frozen for the garbage collector.

A full (generation 2) collection walks every object Django, strawberry and the app built at
startup: measured in process on the 1M bench book, one came in 800 ownerOf requests and took
47 ms, a stall for the request it landed in (requests take 3-6 ms). After the URLconf (and
with it the views and the GraphQL schema) is loaded, `gc.freeze()` moves those objects out
of the collector's sight; they live as long as the process anyway. Objects made later
(per-request garbage, caches) are collected as usual: no full collection came in the same
800 requests after freezing, and the gen 0/1 collections cost the same.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadowner.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 -- imports the URLconf, the views and the schema now, not at the first request
gc.freeze()
