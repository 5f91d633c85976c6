"""The throwaway PostgreSQL and Redis servers of the deployment tests: found, or skipped with the reason (failed in CI)."""

from __future__ import annotations

import pytest

from genre_pipeline_tests.support import postgres as pg_helper, redis as redis_helper


@pytest.mark.parametrize(("helper", "finder", "reason"), [
    (pg_helper, "find_bin_dir", "PostgreSQL server binaries (initdb, pg_ctl"),
    (redis_helper, "find_binary", "redis-server not found"),
])
def test_a_missing_server_skips_with_the_reason_but_fails_in_ci(monkeypatch, capsys, helper, finder, reason):
    monkeypatch.setattr(helper, finder, lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=reason.replace("(", r"\(")):
        helper.start_server()
    assert f"SKIP: {reason}" in capsys.readouterr().out
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        helper.start_server()


def test_postgres_binaries_are_found_where_debian_puts_them(monkeypatch, tmp_path):
    fake = tmp_path / "usr/lib/postgresql/15/bin"
    fake.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        (fake / name).write_text("#!/bin/sh\n")
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PG_BIN", str(fake))
    assert pg_helper.find_bin_dir() == fake
    monkeypatch.setenv("PG_BIN", str(tmp_path / "nowhere"))
    found = pg_helper.find_bin_dir()
    assert found is None or found.match("/usr/lib/postgresql/*/bin")


def test_a_redis_server_starts_answers_and_is_gone_after(tmp_path):
    server = redis_helper.start_server()
    try:
        assert server.ping() and server.url(3).endswith(f"127.0.0.1:{server.port}/3")
    finally:
        redis_helper.stop_server(server)
    assert not server.ping() and not server.root.exists()
