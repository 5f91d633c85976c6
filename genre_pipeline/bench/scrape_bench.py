"""Scrape benchmarks against a TMDB replay (``make bench``), ratios measured side by side.

Tutorial step "scraping TMDB": the tutorial's loop sent one request at a time, so its
throughput is bounded by latency (at 50 ms per response, ~20 requests/s whatever TMDB
allows) and every refresh re-scraped everything. Measured here, in one process:

1. Throughput at 50 ms latency per response: achieved requests/s of the concurrent
   client ÷ its configured limit (goal >= 0.9), next to the same figure for a sequential
   one-request-at-a-time client (the tutorial's loop, same session and retries).
2. Incremental rescrape: requests for one day's ``/movie/changes`` with 1 % of the
   catalog changed ÷ requests for a full rescrape of the catalog (goal <= 0.02).

No network: the synthetic demo catalog is written to a temporary directory and replayed by
``genre_pipeline.ingestion.replay`` (a real HTTP server on 127.0.0.1) started here.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from genre_pipeline.demo.generator import write_demo_catalog
from genre_pipeline.ingestion.replay import TmdbReplayServer
from genre_pipeline.ingestion.tmdb import TmdbCatalogSource, TmdbSettings

BENCH_KEY = "scrape-bench-key"


def _replay(n_movies: int, seed: int, years: tuple[int, int], **kwargs: Any) -> TmdbReplayServer:
    """A replay server (not started) of a fresh synthetic demo catalog."""
    with tempfile.TemporaryDirectory(prefix="scrape-bench-") as folder:
        write_demo_catalog(Path(folder), n_movies, seed=seed, first_year=years[0], last_year=years[1])
        return TmdbReplayServer.from_snapshot(folder, api_key=BENCH_KEY, **kwargs)


def _source(server: TmdbReplayServer, **overrides: Any) -> TmdbCatalogSource:
    values: dict[str, Any] = dict(
        api_key=BENCH_KEY, api_base_url=server.api_base_url, image_base_url=server.image_base_url, timeout=10.0
    )
    values.update(overrides)
    return TmdbCatalogSource(TmdbSettings(**values))


def throughput_benchmark(
    *, latency: float = 0.05, rate_limit: float = 40.0, concurrency: int = 16, n_movies: int = 380, sequential_requests: int = 60
) -> dict[str, Any]:
    with _replay(n_movies, 11, (2015, 2015), latency=latency) as server:
        expected = sorted(m["id"] for m in server.movies() if (m.get("release_date") or "").startswith("2015"))
        concurrent = _source(server, rate_limit=rate_limit, concurrency=concurrency)
        started = time.perf_counter()
        result = concurrent.fetch_year("2015")
        elapsed = time.perf_counter() - started
        requests_made = server.count("/3/*")
        arrivals = sorted(r.at for r in server.requests)
        burst = concurrent.client.bucket.capacity
        # steady state as the server saw it: the first `burst` requests were banked tokens
        steady = (len(arrivals) - burst) / (arrivals[-1] - arrivals[0]) if len(arrivals) > burst + 1 else None
        concurrent.close()
        if sorted(r["id"] for r in result.records) != expected:
            raise AssertionError("the benchmark scrape did not return every 2015 movie exactly once")

        seq_requests, seq_elapsed = 0, float("nan")
        if sequential_requests:
            server.reset_log()
            sequential = _source(server, rate_limit=rate_limit, concurrency=1)
            ids = [r["id"] for r in result.records[:sequential_requests]]
            started = time.perf_counter()
            sequential.fetch_details(ids)
            seq_elapsed = time.perf_counter() - started
            seq_requests = server.count("/3/*")
            sequential.close()

    achieved = requests_made / elapsed
    seq_achieved = seq_requests / seq_elapsed if seq_requests else None
    return {
        "latency_ms": latency * 1000,
        "configured_limit_rps": rate_limit,
        "burst": burst,
        "concurrency": concurrency,
        "movies_scraped": len(result.records),
        "concurrent_requests": requests_made,
        "concurrent_seconds": round(elapsed, 3),
        "concurrent_rps": round(achieved, 2),
        "concurrent_ratio": round(achieved / rate_limit, 3),
        "concurrent_steady_rps_server_side": round(steady, 2) if steady else None,
        "sequential_requests": seq_requests,
        "sequential_seconds": round(seq_elapsed, 3) if seq_requests else None,
        "sequential_rps": round(seq_achieved, 2) if seq_achieved else None,
        "sequential_ratio": round(seq_achieved / rate_limit, 3) if seq_achieved else None,
        "speedup_vs_sequential": round(achieved / seq_achieved, 2) if seq_achieved else None,
        "goal": "concurrent_ratio >= 0.9",
        "meets_goal": achieved / rate_limit >= 0.9,
    }


def rescrape_benchmark(*, n_movies: int = 1000, changed_share: float = 0.01, foreign_changes: int = 150) -> dict[str, Any]:
    """Requests for one day of changes (1 % of ours changed) vs a full rescrape."""
    with _replay(n_movies, 12, (2015, 2016)) as server:
        source = _source(server, rate_limit=5000, concurrency=8)
        catalog: set[int] = set()
        for year in ("2015", "2016"):
            catalog.update(r["id"] for r in source.fetch_year(year).records)
        full_requests = server.count("/3/*")

        changed = sorted(catalog)[:: max(1, int(round(1 / changed_share)))][: max(1, int(n_movies * changed_share))]
        # TMDB's change feed lists every changed movie on TMDB, most of them not ours.
        server.mark_changed(changed + list(range(10_000_000, 10_000_000 + foreign_changes)), "2024-06-01")
        server.reset_log()
        result = source.rescrape_changes("2024-06-01", catalog_ids=catalog)
        incremental_requests = server.count("/3/*")
        source.close()
    ratio = incremental_requests / full_requests
    return {
        "catalog_movies": len(catalog),
        "changed_in_catalog": len(result.in_catalog),
        "changed_on_tmdb": result.changed_total,
        "full_rescrape_requests": full_requests,
        "incremental_requests": incremental_requests,
        "ratio": round(ratio, 4),
        "goal": "ratio <= 0.02",
        "meets_goal": ratio <= 0.02,
    }


def run_scrape_benchmarks() -> dict[str, Any]:
    """Both scrape benchmarks; a JSON-serialisable dict of figures and goal checks."""
    return {
        "scrape_throughput": throughput_benchmark(),
        # the same client with a 5x higher limit: 16 requests in flight still keep up at 50 ms
        "scrape_throughput_200rps": throughput_benchmark(rate_limit=200.0, n_movies=600, sequential_requests=0),
        "incremental_rescrape": rescrape_benchmark(),
    }


if __name__ == "__main__":
    print(json.dumps(run_scrape_benchmarks(), indent=2))
