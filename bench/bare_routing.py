"""The floor under one routing decision: the bare SQL statements submitLead needs, on the same book.

`make bench` puts routed leads/s beside this: for each lead, in one transaction on a
plain psycopg connection (no Django, no GraphQL, no Python decision), the statements a
routing decision cannot do without:

1. the duplicate check (the lead's email within the window);
2. the lead INSERT;
3. the match: the account by the email's domain and its parent domains;
4. the account with its parent (the family the hierarchy asks about);
5. the account's current owners (one read standing for every hierarchy step);
6. the territory's members with their status and capacity;
7. the distribution lock of the territory (SELECT ... FOR UPDATE);
8. the round-robin counter UPDATE of the chosen member;
9. the ownership INSERT and 10. its history INSERT;
11. the lead UPDATE (account, assigned time).

Then ROLLBACK, so the book is left as it was (a COMMIT would cost more: the floor is if
anything flattered). Run by `clients` threads, each with its own connection, over the
same number of leads as the HTTP run: leads per second.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

INSERT_LEAD = (
    "INSERT INTO routing_lead (email, email_domain, name, title, company, normalized_company, country, subdivision, "
    "city, postal_code, industry, employees, source, product_interest, requested_rep_email, stage, "
    "stage_before_pause, received_at, created_at) VALUES "
    "(%s, %s, '', '', %s, %s, %s, %s, %s, '', %s, NULL, 'INBOUND', '', '', 'NEW', '', %s, %s) RETURNING id"
)


def _territories(conn: Any) -> list[tuple[int, str]]:
    """(id, name) of the published rule set's territories that have members."""
    return conn.execute(
        "SELECT t.id, t.name FROM territories_territory t JOIN territories_ruleset s ON s.id = t.rule_set_id "
        "WHERE s.status = 'PUBLISHED' AND EXISTS (SELECT 1 FROM territories_territorymember m "
        "WHERE m.territory_id = t.id) ORDER BY t.id"
    ).fetchall()


def _decide(conn: Any, sample: Any, territory: tuple[int, str], n: int, now: datetime) -> None:
    from routing.normalize import domain_with_parents

    email = f"bare{n}@{sample.domain}"
    with conn.transaction(force_rollback=True):
        conn.execute(
            "SELECT id FROM routing_lead WHERE email = %s AND received_at >= %s LIMIT 1",
            [email, now - timedelta(days=1)],
        ).fetchall()
        (lead_id,) = conn.execute(
            INSERT_LEAD,
            [email, sample.domain, sample.name, sample.normalized, sample.country, sample.subdivision, sample.city,
             sample.industry, now, now],
        ).fetchone()  # fmt: skip
        found = conn.execute(
            "SELECT account_id FROM routing_accountdomain WHERE domain = ANY(%s)", [domain_with_parents(sample.domain)]
        ).fetchall()
        account_id = found[0][0] if found else sample.id
        conn.execute(
            "SELECT a.*, p.* FROM routing_account a LEFT JOIN routing_account p ON p.id = a.parent_id WHERE a.id = %s",
            [account_id],
        ).fetchall()
        conn.execute(
            "SELECT * FROM routing_ownership WHERE account_id = %s AND ended_at IS NULL", [account_id]
        ).fetchall()
        members = conn.execute(
            "SELECT m.rep_id, m.weight, r.status, r.capacity FROM territories_territorymember m "
            "JOIN territories_rep r ON r.id = m.rep_id WHERE m.territory_id = %s ORDER BY m.position",
            [territory[0]],
        ).fetchall()
        conn.execute(
            "SELECT id FROM territories_distributionlock WHERE territory_name = %s FOR UPDATE", [territory[1]]
        ).fetchall()
        rep_id = members[n % len(members)][0]
        conn.execute(
            "UPDATE territories_distributioncounter SET assigned = assigned + 1, updated_at = %s "
            "WHERE territory_name = %s AND rep_id = %s",
            [now, territory[1], rep_id],
        )
        conn.execute(
            "INSERT INTO routing_ownership (role, reason, since, lead_id, rep_id) "
            "VALUES ('SALES', 'TERRITORY', %s, %s, %s)",
            [now, lead_id, rep_id],
        )
        conn.execute(
            "INSERT INTO routing_ownershipchange (at, role, step, reason, actor, lead_id, to_rep_id) "
            "VALUES (%s, 'SALES', 'TERRITORY', %s, 'bench', %s, %s)",
            [now, f"territory '{territory[1]}': round robin", lead_id, rep_id],
        )
        conn.execute(
            "UPDATE routing_lead SET account_id = %s, assigned_at = %s WHERE id = %s", [account_id, now, lead_id]
        )


def bare_decisions_per_second(database_url: str, samples: list[Any], *, leads: int, clients: int) -> float:
    """Leads per second through the bare statements of a routing decision, `clients` connections at once."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        territories = _territories(conn)
    if not territories or not samples:
        raise RuntimeError("the book has no published territory with members, or no sample account")
    rng = random.Random(5)
    work = [(samples[i % len(samples)], rng.choice(territories), i) for i in range(leads)]
    now = datetime.now(UTC)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                while True:
                    with lock:
                        if not work:
                            return
                        sample, territory, n = work.pop()
                    _decide(conn, sample, territory, n, now)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return leads / elapsed
