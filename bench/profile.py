"""Profile one benchmark request in-process with pyinstrument (the whole Django stack, no server).

    python -m bench.profile submit --database-url postgres://.../lo_bench_1m -n 200
    python -m bench.profile accounts --rows 1000 -n 5
    python -m bench.profile owner --kind company -n 300

Prints pyinstrument's text report (and --html FILE writes the interactive one), with the
SQL statement count and the time per request. Used to find what to optimise; what the
profiles showed is kept in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import setup_django  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["submit", "accounts", "owner", "minimal"])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/lo_bench_10k")
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--kind", choices=["domain", "company"], default="domain")
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    parser.add_argument("--interval", type=float, default=0.0005)
    args = parser.parse_args()

    os.environ["BENCH_VIEWS"] = "1"
    os.environ["SECURE_PROXY_SSL_HEADER"] = "HTTP_X_FORWARDED_PROTO,https"
    setup_django(args.database_url, migrate=False)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from bench import web

    token = web.issue_bench_token()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_FORWARDED_PROTO="https")
    samples = web.sample_accounts(max(args.n, 400) * 2, seed=5)
    bodies: list[dict[str, Any]]
    if args.what == "submit":
        nonce = f"p{int(time.time()) % 10**7:x}"
        bodies = [
            {"query": web.SUBMIT, "variables": {"input": lead}}
            for lead in web.lead_inputs(samples, args.n + 10, nonce, seed=1)
        ]
    elif args.what == "owner":
        questions = web.owner_of_workload(samples, args.n + 10, seed=2)[
            "domain" if args.kind == "domain" else "company name"
        ]
        bodies = [{"query": web.OWNER_OF, "variables": q} for q in questions]
    elif args.what == "accounts":
        bodies = [{"query": web.ACCOUNTS, "variables": {"first": args.rows}}] * (args.n + 10)
    else:
        bodies = [{"pad": "x"}] * (args.n + 10)
    path = "/bench/minimal" if args.what == "minimal" else "/graphql"

    def send(body: dict[str, Any]) -> None:
        answer = client.post(path, data=json.dumps(body), content_type="application/json")
        if answer.status_code != 200 or (path == "/graphql" and not web.graphql_ok(answer.content)):
            raise SystemExit(f"request failed: {answer.status_code} {answer.content[:400]!r}")

    for body in bodies[:10]:  # warm: imports, caches, the connection
        send(body)
    with CaptureQueriesContext(connection) as queries:
        send(bodies[10])
    profiler = Profiler(interval=args.interval)
    started = time.perf_counter()
    profiler.start()
    for body in bodies[10 : 10 + args.n]:
        send(body)
    profiler.stop()
    seconds = time.perf_counter() - started
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    print(f"{args.what}: {args.n} requests, {seconds / args.n * 1000:.2f} ms each; {len(queries)} SQL statements")
    for q in queries.captured_queries:
        print(f"  {q['time']}s  {q['sql'][:220]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
