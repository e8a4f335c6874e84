"""The WSGI entry point gunicorn loads: the app, its URLconf and schema loaded, then frozen for the GC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_loading_the_wsgi_application_loads_the_urlconf_and_freezes_what_startup_built() -> None:
    probe = (
        "import gc, json, sys; import leadowner.wsgi as w; "
        "print(json.dumps([gc.get_freeze_count(), 'leadowner.urls' in sys.modules, "
        "'leadowner.schema' in sys.modules, callable(w.application)]))"
    )
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "leadowner.settings"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    frozen, urls_loaded, schema_loaded, app = json.loads(out.stdout.strip().splitlines()[-1])
    assert urls_loaded and schema_loaded and app
    assert frozen > 10_000  # Django, strawberry and the app's modules: out of the collector's sight
