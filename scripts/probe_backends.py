"""Print shell exports selecting PostgreSQL and Redis for the tests when they answer.

`make test` evals this. An explicit DATABASE_URL / REDIS_URL in the environment wins.
"""

from __future__ import annotations

import os
import socket

PG_URL = "postgres://postgres@127.0.0.1:5432/leadowner"
REDIS_URL = "redis://127.0.0.1:6379/15"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    if "DATABASE_URL" not in os.environ and answers("127.0.0.1", 5432):
        print(f"export DATABASE_URL={PG_URL}")
    if "REDIS_URL" not in os.environ and answers("127.0.0.1", 6379):
        print(f"export REDIS_URL={REDIS_URL}")


if __name__ == "__main__":
    main()
