"""HTTP load from its own process when ``wrk`` is not installed (see ``read_load``).

``python bench/pipeline/http_load.py --base-url URL --ids-file F --duration S --concurrency C``
runs C workers on one keep-alive connection pool for S seconds, each sending
``GET /api/connections/<random id>`` with ``Authorization: Bearer $BENCH_TOKEN``,
and prints one JSON line: requests, duration_s, non_2xx, errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp


@dataclass
class Tally:
    requests: int = 0
    non_2xx: int = 0
    errors: int = 0


async def _worker(
    session: aiohttp.ClientSession, base_url: str, ids: list[str], deadline: float, tally: Tally
) -> None:
    while time.perf_counter() < deadline:
        url = f"{base_url}/api/connections/{random.choice(ids)}"
        try:
            async with session.get(url) as response:
                await response.read()
                tally.requests += 1
                tally.non_2xx += not 200 <= response.status < 400
        except (aiohttp.ClientError, TimeoutError):
            tally.errors += 1


async def run(
    base_url: str, ids: list[str], duration_s: float, concurrency: int
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    tally = Tally()
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        started = time.perf_counter()
        deadline = started + duration_s
        workers = [_worker(session, base_url, ids, deadline, tally) for _ in range(concurrency)]
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
    return {
        "requests": tally.requests,
        "duration_s": elapsed,
        "non_2xx": tally.non_2xx,
        "errors": tally.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--ids-file", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    ids = args.ids_file.read_text().split()
    summary = asyncio.run(run(args.base_url, ids, args.duration, args.concurrency))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
