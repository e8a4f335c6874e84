"""Match latency (p50/p95) at one scale, beside the bare SQL statement each lookup needs.

    python -m bench.match --database-url postgres://.../lo_bench_1m --label 1M --out /tmp/match.json

The lookups and the floor are bench/bench_matching.py's (domain, sub-domain, alias,
exact name, fuzzy typo, no match, in equal parts); every repetition times all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import setup_django  # noqa: E402
from bench.loadgen import percentile  # noqa: E402
from bench.report import Figure  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--lookups", type=int, default=600, help="lookups per repetition, over six kinds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    setup_django(args.database_url, migrate=False)
    from django.db import connection

    from bench import bench_matching
    from routing.matching import DEFAULT_THRESHOLD

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM routing_account")
        count = cursor.fetchone()[0] or 0
    lookups = bench_matching.workload(max(1, args.lookups // 6), args.seed, count)
    group = f"match_account ({args.label} accounts)"
    p50 = Figure(group, "p50", "ms", reference="bare SQL lookup")
    p95 = Figure(group, "p95", "ms", reference="bare SQL lookup", target="max:20")
    right = Figure(group, "found the account it was made from", "%")
    for repeat in range(args.repeats):
        measured = bench_matching.measure(lookups, DEFAULT_THRESHOLD, warm=100 if repeat == 0 else 0)
        ours = [ms for values in measured.latency.values() for ms in values]
        floor = [ms for values in measured.floor.values() for ms in values]
        p50.values.append(percentile(ours, 50))
        p95.values.append(percentile(ours, 95))
        p50.ref_values.append(percentile(floor, 50))
        p95.ref_values.append(percentile(floor, 95))
        expected = [k for k in measured.outcome if k != "no match"]
        hits = sum(measured.outcome[k]["right"] for k in expected)
        total = sum(sum(measured.outcome[k].values()) for k in expected)
        right.values.append(100 * hits / total if total else 0.0)
        print(f"  match {args.label}: run {repeat + 1}: p50 {p50.values[-1]:.2f} ms, p95 {p95.values[-1]:.2f} ms")
    Path(args.out).write_text(json.dumps([f.to_json() for f in (p50, p95, right)], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
