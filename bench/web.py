"""The HTTP figures: the app under gunicorn (DEBUG off, PostgreSQL, Redis), load from bench.loadgen.

    python -m bench.web --database-url postgres://.../lo_bench_1m --out /tmp/web.json [--quick] [--only submit]

- submitLead (GraphQL mutation, bearer token) at 1, 8 and 32 clients: p50/p99 and routed
  leads per second, beside the same number of requests of the same size to a minimal
  Django view on the same server (the framework floor);
- ownerOf by domain and by company name, one client: p50/p99, beside the bare SQL
  statements the lookup needs (find the account, read it, read its current owners);
- GraphQL `accounts` with domains and owners, 100 and 1,000 rows: time per request and
  SQL statements, beside a plain Django JSON view returning the same rows.

Every figure is measured `--repeats` times; the figures go to --out as JSON (bench.report).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bare_routing import bare_decisions_per_second  # noqa: E402
from bench.generate import LEGAL, brand, setup_django  # noqa: E402
from bench.loadgen import LoadResult, percentile, request_bytes, run_load  # noqa: E402
from bench.report import Figure  # noqa: E402

DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
# As behind the TLS-terminating proxy of a production deployment (settings: SECURE_SSL_REDIRECT
# is on with DEBUG off; SECURE_PROXY_SSL_HEADER tells Django the proxy spoke HTTPS).
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
BENCH_SECRET = "bench-only-secret-key-" + "x" * 40

SUBMIT = """mutation Submit($input: LeadInput!) {
  submitLead(input: $input) {
    lead { id }
    decision { step ruleSetVersion match { method score } owner { role rep { id name } } territory { id name } }
    errors { code message field }
  }
}"""
OWNER_OF = """query Owner($domain: String, $company: String) {
  ownerOf(domain: $domain, company: $company) {
    account { id name }
    match { method score explanation }
    owners { role since rep { id name email } }
  }
}"""
ACCOUNTS = """query Accounts($first: Int) {
  accounts(first: $first) {
    edges { node { id name type country industry domains owners { role since rep { id name email } } } }
  }
}"""


# ---------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """gunicorn serving leadowner.wsgi on a free loopback port."""

    database_url: str
    workers: int = 2
    threads: int = 1
    redis_url: str = DEFAULT_REDIS
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DEBUG="0",
            SECRET_KEY=BENCH_SECRET,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            BENCH_VIEWS="1",
            LOG_LEVEL="WARNING",
            SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        )
        return env

    def start(self) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "gunicorn", "leadowner.wsgi", "-w", str(self.workers)]
        command += ["-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--backlog", "256"]
        if self.threads > 1:
            command += ["--threads", str(self.threads)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env())  # noqa: S603
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                probe = urllib.request.Request(f"http://127.0.0.1:{self.port}/bench/minimal", headers=PROXY_HEADERS)
                with urllib.request.urlopen(probe, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


# ---------------------------------------------------------------------------- requests


def graphql_request(server: Server, token: str, query: str, variables: dict[str, Any]) -> bytes:
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", **PROXY_HEADERS}
    return request_bytes("POST", "/graphql", host=server.host, body=body, headers=headers)


def graphql_ok(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if data.get("errors"):
        return False
    payload = next(iter((data.get("data") or {}).values()), None)
    return payload is not None and not (isinstance(payload, dict) and payload.get("errors"))


def issue_bench_token() -> str:
    """A token of the RevOps rep of the book (sees every account; may submit leads)."""
    from leadowner.tokens import issue_token
    from territories.models import Rep, RepRole

    revops = Rep.objects.filter(role=RepRole.REVOPS).order_by("pk").first()
    if revops is None:
        raise SystemExit("the database holds no RevOps rep: fill it with python -m bench.generate")
    _row, raw = issue_token(rep=revops, name="bench")
    return raw


@dataclass
class Sample:
    id: int
    name: str
    normalized: str
    domain: str
    country: str
    subdivision: str
    city: str
    industry: str


def sample_accounts(count: int, seed: int) -> list[Sample]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM routing_account")
        top = cursor.fetchone()[0] or 0
        rng = random.Random(seed)
        ids = rng.sample(range(1, top + 1), min(top, count))
        cursor.execute(
            "SELECT a.id, a.name, a.normalized_name, d.domain, a.country, a.subdivision, a.city, a.industry "
            "FROM routing_account a JOIN routing_accountdomain d ON d.account_id = a.id AND d.position = 0 "
            "WHERE a.id = ANY(%s)",
            [ids],
        )
        found = [Sample(*row) for row in cursor.fetchall()]
    rng.shuffle(found)
    return found


def lead_inputs(samples: list[Sample], count: int, nonce: str, seed: int) -> list[dict[str, Any]]:
    """Inbound leads like the traffic: 60% from a known company's domain, 25% free mail naming
    the company, 15% from nobody we know."""
    rng = random.Random(seed)
    leads: list[dict[str, Any]] = []
    for i in range(count):
        s = samples[i % len(samples)]
        kind = rng.random()
        lead: dict[str, Any] = {"name": f"Bench Lead {i}", "title": "CTO", "source": "INBOUND"}
        if kind < 0.6:
            lead.update(email=f"lead.{nonce}.{i}@{s.domain}", company=s.name)
        elif kind < 0.85:
            lead.update(email=f"lead.{nonce}.{i}@gmail.com", company=s.name)
        else:
            lead.update(email=f"lead.{nonce}.{i}@{brand(rng).lower()}-{nonce}.example", company=f"{brand(rng)} Labs")
        lead.update(
            country=s.country or None, subdivision=s.subdivision or None, city=s.city or None, industry=s.industry
        )
        leads.append(lead)
    return leads


# ---------------------------------------------------------------------------- measuring


def same(raw: bytes) -> Callable[[int], bytes]:
    """A request maker that sends this request every time."""
    return lambda _i: raw


def cycle(raws: list[bytes]) -> Callable[[int], bytes]:
    """A request maker that goes round these requests."""
    return lambda i: raws[i % len(raws)]


def warm(server: Server, make: Callable[[int], bytes], n: int = 40) -> None:
    run_load("127.0.0.1", server.port, make, concurrency=2, requests=n, max_seconds=30)


def load(
    server: Server, make: Callable[[int], bytes], *, concurrency: int, requests: int, seconds: float, check: Any = None
) -> LoadResult:
    result = run_load(
        "127.0.0.1", server.port, make, concurrency=concurrency, requests=requests, max_seconds=seconds, check=check
    )
    print(f"    {result.summary()}", flush=True)
    if result.completed == 0:
        raise RuntimeError("no request completed")
    if result.errors > result.completed * 0.01:
        raise RuntimeError(f"{result.errors} of {result.completed} requests failed; first: {result.first_error}")
    return result


def bench_submit(
    server: Server,
    token: str,
    samples: list[Sample],
    *,
    label: str,
    levels: list[int],
    requests: dict[int, int],
    repeats: int,
    seconds: float,
    throughput_only: bool = False,
    database_url: str = "",
) -> list[Figure]:
    nonce = f"{int(time.time() * 1000) % 10**9:x}"
    total = sum(requests[c] for c in levels) * repeats + 100
    leads = lead_inputs(samples, total, nonce, seed=len(samples))
    cursor = 0

    def submit(_i: int) -> bytes:
        nonlocal cursor
        lead = leads[cursor % len(leads)]
        cursor += 1
        return graphql_request(server, token, SUBMIT, {"input": lead})

    size = len(submit(0))
    cursor = 0
    filler = json.dumps({"pad": "x" * max(0, size - 400)}).encode()
    minimal_request = request_bytes(
        "POST",
        "/bench/minimal",
        host=server.host,
        body=filler,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", **PROXY_HEADERS},
    )
    warm(server, submit)
    warm(server, same(minimal_request))
    figures: dict[tuple[str, int], Figure] = {}
    group = f"submitLead over HTTP ({label} accounts)"
    floor = "minimal Django view"
    for c in levels:
        if not throughput_only:
            figures[("p50", c)] = Figure(group, f"p50, {c} clients", "ms", reference=floor)
            figures[("p99", c)] = Figure(
                group, f"p99, {c} clients", "ms", reference=floor, target="max:50" if c == 8 else ""
            )
        figures[("rate", c)] = Figure(
            group,
            f"routed leads/s, {c} clients",
            "/s",
            reference=f"{floor} requests/s",
            target="min:300" if c == 8 and not throughput_only else "",
        )
    if database_url:  # the same rate beside the bare SQL one decision needs (bench/bare_routing.py)
        figures[("bare", 8)] = Figure(
            group,
            "routed leads/s, 8 clients, beside the bare SQL of each decision",
            "/s",
            reference="bare SQL of a routing decision (11 statements, rolled back), leads/s",
        )
    for repeat in range(repeats):
        for c in levels:
            print(f"  submitLead, {c} clients, run {repeat + 1}/{repeats}", flush=True)
            ours = load(server, submit, concurrency=c, requests=requests[c], seconds=seconds, check=graphql_ok)
            floor_run = load(server, same(minimal_request), concurrency=c, requests=requests[c], seconds=seconds)
            if not throughput_only:
                figures[("p50", c)].values.append(ours.p(50))
                figures[("p50", c)].ref_values.append(floor_run.p(50))
                figures[("p99", c)].values.append(ours.p(99))
                figures[("p99", c)].ref_values.append(floor_run.p(99))
            figures[("rate", c)].values.append(ours.per_second)
            figures[("rate", c)].ref_values.append(floor_run.per_second)
            if c == 8 and ("bare", 8) in figures:
                bare = bare_decisions_per_second(database_url, samples, leads=requests[c], clients=c)
                figures[("bare", 8)].values.append(ours.per_second)
                figures[("bare", 8)].ref_values.append(bare)
    return list(figures.values())


def owner_of_workload(samples: list[Sample], count: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """ownerOf questions: by domain (an email, some at a sub-domain) and by company name as typed."""
    from django.db import connection

    rng = random.Random(seed)
    by_domain = []
    for s in samples[:count]:
        host = s.domain if rng.random() < 0.8 else f"mail.{s.domain}"
        by_domain.append({"domain": f"someone@{host}", "company": None})
    by_company = []
    chosen = samples[count : 2 * count]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, alias FROM routing_accountalias WHERE account_id = ANY(%s)", [[s.id for s in chosen]]
        )
        aliases = dict(cursor.fetchall())
    for s in chosen:
        pick = rng.random()
        if s.id in aliases and pick < 0.3:
            company = aliases[s.id]
        elif pick < 0.8:
            company = s.name
        else:
            company = f"{s.normalized.title()} {rng.choice(LEGAL)}"
        by_company.append({"domain": None, "company": company})
    return {"domain": by_domain, "company name": by_company}


def bare_owner_sql(database_url: str, questions: list[dict[str, Any]]) -> list[float]:
    """Milliseconds of the bare statements each lookup needs: find the account, read it, read its owners."""
    import psycopg

    from routing.normalize import domain_with_parents, host_of, normalize_company

    times: list[float] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        for q in questions:
            params: list[Any]
            if q["domain"]:
                sql, params = (
                    "SELECT account_id FROM routing_accountdomain WHERE domain = ANY(%s)",
                    [domain_with_parents(host_of(q["domain"]) or q["domain"])],
                )
            else:
                normalized = normalize_company(q["company"])
                sql, params = (
                    "SELECT id FROM routing_account WHERE normalized_name = %s "
                    "UNION ALL SELECT account_id FROM routing_accountalias WHERE normalized_alias = %s",
                    [normalized, normalized],
                )
            started = time.perf_counter()
            found = conn.execute(sql, params).fetchall()
            if found:
                pk = found[0][0]
                conn.execute("SELECT * FROM routing_account WHERE id = %s", [pk]).fetchall()
                conn.execute(
                    "SELECT o.*, r.* FROM routing_ownership o LEFT JOIN territories_rep r ON r.id = o.rep_id "
                    "WHERE o.account_id = %s AND o.ended_at IS NULL",
                    [pk],
                ).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return times


def bench_owner_of(
    server: Server, token: str, samples: list[Sample], database_url: str, *, label: str, count: int, repeats: int
) -> list[Figure]:
    workload = owner_of_workload(samples, count, seed=3)
    figures: list[Figure] = []
    for kind, questions in workload.items():
        group = f"ownerOf by {kind} over HTTP ({label} accounts)"
        p50 = Figure(group, "p50, 1 client", "ms", reference="bare SQL lookups")
        p99 = Figure(group, "p99, 1 client", "ms", reference="bare SQL lookups", target="max:10")
        requests = [graphql_request(server, token, OWNER_OF, q) for q in questions]
        warm(server, cycle(requests), n=min(50, len(requests)))
        for repeat in range(repeats):
            print(f"  ownerOf by {kind}, run {repeat + 1}/{repeats}", flush=True)
            result = load(
                server,
                cycle(requests),
                concurrency=1,
                requests=len(requests),
                seconds=120,
                check=graphql_ok,
            )
            bare = bare_owner_sql(database_url, questions)
            p50.values.append(result.p(50))
            p99.values.append(result.p(99))
            p50.ref_values.append(percentile(bare, 50))
            p99.ref_values.append(percentile(bare, 99))
        figures += [p50, p99]
    return figures


def count_queries(path: str, data: Any, token: str, method: str = "post") -> int:
    """SQL statements one request makes, in this process through Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_FORWARDED_PROTO="https")
    client.post("/graphql", data={"query": "{ health }"}, content_type="application/json")  # token bookkeeping
    with CaptureQueriesContext(connection) as queries:
        if method == "post":
            answer = client.post(path, data=data, content_type="application/json")
        else:
            answer = client.get(path, data=data)
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}: {answer.content[:300]!r}")
    return len(queries)


def bench_accounts(server: Server, token: str, *, label: str, repeats: int, quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    for rows in (100, 1000):
        group = f"GraphQL accounts with owners, {rows} rows ({label} accounts)"
        graphql = graphql_request(server, token, ACCOUNTS, {"first": rows})
        plain = request_bytes(
            "GET",
            f"/bench/accounts?first={rows}",
            host=server.host,
            headers={"Authorization": f"Bearer {token}", **PROXY_HEADERS},
        )
        timing = Figure(group, "time per request", "ms", reference="plain Django JSON view", target="ratio_max:3")
        if rows == 100:
            timing.target = ""
        sql = Figure(group, "SQL statements", "queries", reference="plain Django JSON view")
        sql.values.append(count_queries("/graphql", {"query": ACCOUNTS, "variables": {"first": rows}}, token))
        sql.ref_values.append(count_queries("/bench/accounts", {"first": rows}, token, method="get"))
        n = (6 if rows == 100 else 3) if quick else (30 if rows == 100 else 10)
        warm(server, same(graphql), n=4)
        warm(server, same(plain), n=4)
        for repeat in range(repeats):
            print(f"  accounts {rows} rows, run {repeat + 1}/{repeats}", flush=True)
            ours = load(server, same(graphql), concurrency=1, requests=n, seconds=120, check=graphql_ok)
            ref = load(server, same(plain), concurrency=1, requests=n, seconds=120)
            timing.values.append(ours.p(50))
            timing.ref_values.append(ref.p(50))
        figures += [timing, sql]
    return figures


def _stop_on_term(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--label", default="")
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer requests (make bench-quick)")
    parser.add_argument(
        "--only",
        choices=["all", "submit", "throughput", "reads"],
        default="all",
        help="throughput: routed leads/s only; reads: ownerOf and the accounts list only",
    )
    args = parser.parse_args()

    os.environ["BENCH_VIEWS"] = "1"  # the reference views, for counting their queries in this process
    os.environ["SECURE_PROXY_SSL_HEADER"] = "HTTP_X_FORWARDED_PROTO,https"
    signal.signal(signal.SIGTERM, _stop_on_term)  # a timed-out phase still stops its server (finally)
    setup_django(args.database_url, migrate=False)
    token = issue_bench_token()
    samples = sample_accounts(4000 if not args.quick else 1500, seed=11)
    server = Server(args.database_url, workers=args.workers, threads=args.threads, redis_url=args.redis_url)
    server.start()
    label = args.label or "?"
    figures: list[Figure] = []
    try:
        if args.only == "throughput":
            requests = {8: 120 if args.quick else 300}
            figures += bench_submit(
                server, token, samples, label=label, levels=[8], requests=requests, repeats=args.repeats,
                seconds=60, throughput_only=True, database_url=args.database_url,
            )  # fmt: skip
        else:
            requests = {1: 60, 8: 160, 32: 200} if args.quick else {1: 150, 8: 400, 32: 600}
            if args.only != "reads":
                figures += bench_submit(
                    server, token, samples, label=label, levels=[1, 8, 32], requests=requests, repeats=args.repeats,
                    seconds=90, database_url=args.database_url,
                )  # fmt: skip
            if args.only in ("all", "reads"):
                count = 100 if args.quick else 400
                figures += bench_owner_of(
                    server, token, samples, args.database_url, label=label, count=count, repeats=args.repeats
                )
                figures += bench_accounts(server, token, label=label, repeats=args.repeats, quick=args.quick)
    finally:
        server.stop()
    Path(args.out).write_text(json.dumps([f.to_json() for f in figures], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
