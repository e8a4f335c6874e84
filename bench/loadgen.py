"""A small HTTP/1.1 load generator: N keep-alive clients on loopback, bounded in requests and time.

Pure Python (asyncio streams, no third-party client) so nothing needs installing, and
light enough (tens of microseconds per request) to leave the two cores to the server.
Each client sends its next request when the previous answer has arrived (a closed
loop): `concurrency` is the number of requests in flight. The run stops at `requests`
answers or after `max_seconds`, whichever comes first; every answer's latency is
kept, and an answer is counted as an error when its status is not 200 or `check`
refuses its body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

RequestMaker = Callable[[int], bytes]
# One answer taking longer than this is a failed measurement, not a slow one.
ANSWER_TIMEOUT = 60.0
BodyCheck = Callable[[bytes], bool]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class LoadResult:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    first_error: str = ""

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        """Successful answers per second of wall time."""
        return (self.completed - self.errors) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q) if self.latencies_ms else float("nan")

    def summary(self) -> str:
        return (
            f"c={self.concurrency:<3} n={self.completed:<5} err={self.errors:<3} "
            f"p50={self.p(50):6.1f} ms p99={self.p(99):6.1f} ms mean={statistics.fmean(self.latencies_ms):6.1f} ms "
            f"{self.per_second:7.1f}/s"
        )


def request_bytes(
    method: str, path: str, *, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """A raw HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server closes the connection after this answer)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length = -1
    chunked = False
    close = False
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif key == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return status, bytes(body), close
    if length < 0:
        raise ValueError("the benchmark needs Content-Length or chunked answers")
    return status, await reader.readexactly(length), close


def check_loopback(host: str) -> None:
    """Load goes to this machine only."""
    address = ipaddress.ip_address(socket.gethostbyname(host))
    if not address.is_loopback:
        raise ValueError(f"the load generator only targets loopback addresses, not {host} ({address})")


async def _run(
    host: str,
    port: int,
    make: RequestMaker,
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    check: BodyCheck | None,
) -> LoadResult:
    result = LoadResult(concurrency=concurrency)
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def client() -> None:
        nonlocal issued
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while issued < requests and time.perf_counter() < deadline:
                raw = make(issued)
                issued += 1
                sent = time.perf_counter()
                writer.write(raw)
                await writer.drain()
                status, body, close = await asyncio.wait_for(_read_response(reader), timeout=ANSWER_TIMEOUT)
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                if close:  # a sync worker answers one request per connection: open the next one now
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                result.statuses[status] += 1
                if status != 200 or (check is not None and not check(body)):
                    result.errors += 1
                    if not result.first_error:
                        result.first_error = f"{status}: {body[:300]!r}"
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def run_load(
    host: str,
    port: int,
    make: RequestMaker,
    *,
    concurrency: int,
    requests: int,
    max_seconds: float,
    check: BodyCheck | None = None,
) -> LoadResult:
    """Send up to `requests` requests (make(i) builds the i-th) with `concurrency` clients, for at most max_seconds."""
    check_loopback(host)
    return asyncio.run(
        _run(host, port, make, concurrency=concurrency, requests=requests, max_seconds=max_seconds, check=check)
    )
