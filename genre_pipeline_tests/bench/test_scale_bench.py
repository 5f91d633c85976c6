"""The scale benchmark's pieces: sizes from the environment, the memory of a process tree, the table."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from genre_pipeline.bench import scale_bench


def test_sizes_come_from_the_environment_with_clear_errors():
    assert scale_bench.sizes_from_env({}) == [50_000, 200_000]
    assert scale_bench.sizes_from_env({scale_bench.SIZES_ENV: "50000, 200_000,1000000"}) == [50_000, 200_000, 1_000_000]
    with pytest.raises(ValueError, match="comma-separated movie counts.*got 'a lot'"):
        scale_bench.sizes_from_env({scale_bench.SIZES_ENV: "a lot"})
    with pytest.raises(ValueError, match="at least 1000 movies"):
        scale_bench.sizes_from_env({scale_bench.SIZES_ENV: "10"})


def test_the_memory_of_a_process_tree_counts_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time; data = bytearray(200 * 2**20); time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and scale_bench.tree_rss_bytes(child.pid) < 150 * 2**20:
            time.sleep(0.1)
        alone = scale_bench.tree_rss_bytes(child.pid)
        with_parent = scale_bench.tree_rss_bytes(os.getpid())
        assert alone >= 150 * 2**20  # the child's 200 MB are resident
        assert with_parent > alone + 10 * 2**20  # this process's tree: the child and this interpreter
    finally:
        child.kill()
        child.wait()
    assert scale_bench.tree_rss_bytes(child.pid) == 0  # gone


def test_the_sampler_reports_the_peak_inside_a_window():
    sampler = scale_bench.RssSampler(os.getpid(), every=0.01)
    sampler.samples = [(1.0, 100), (2.0, 500), (3.0, 200)]
    assert sampler.peak() == 500 and sampler.peak(2.5, 3.5) == 200 and sampler.peak(4.0, 5.0) == 0


def test_the_table_has_a_row_per_step_and_the_whole_run():
    results = [{"movies": n, "run_seconds": s, "peak_rss_mb": m, "load_average_before": 0.5, "load_average_after": 0.7,
                "steps": {"movies": {"seconds": s / 4, "peak_rss_mb": m // 2}, "tfidf_features": {"seconds": s / 2, "peak_rss_mb": m}}}
               for n, s, m in ((50_000, 100.0, 900), (200_000, 380.0, 2400))]
    table = scale_bench.format_table(results).splitlines()
    assert table[0] == "| step | 50,000 s | 50,000 peak MB | 200,000 s | 200,000 peak MB |"
    assert "| tfidf_features | 50.0 | 900 | 190.0 | 2400 |" in table
    assert "| **whole run** | 100.0 | 900 | 380.0 | 2400 |" in table
