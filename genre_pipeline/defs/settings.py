"""Settings read from the environment when a run (or a command) starts, never at import.

Every variable is validated where it is read, and a bad value is one :class:`SettingsError`
naming the variable and what it accepts. Loading the code location reads none of them, so
a typo cannot stop the UI or a command that does not use the setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SOURCE_KINDS = ("demo", "snapshot", "tmdb")
SOURCE_ENV = "GENRE_PIPELINE_SOURCE"
SNAPSHOT_ENV = "GENRE_PIPELINE_SNAPSHOT"
DEMO_MOVIES_ENV = "GENRE_PIPELINE_DEMO_MOVIES"
DEMO_SEED_ENV = "GENRE_PIPELINE_DEMO_SEED"
SCHEDULES_ENV = "GENRE_PIPELINE_SCHEDULES"
VGG16_WEIGHTS_ENV = "GENRE_PIPELINE_VGG16_WEIGHTS"  # imagenet | random
VGG16_WEIGHTS_FILE_ENV = "GENRE_PIPELINE_VGG16_WEIGHTS_FILE"
VGG16_IMAGE_SIZE_ENV = "GENRE_PIPELINE_VGG16_IMAGE_SIZE"
WORD2VEC_FILE_ENV = "GENRE_PIPELINE_WORD2VEC_FILE"
SENTENCE_ENCODER_ENV = "GENRE_PIPELINE_SENTENCE_ENCODER"
IMDB_BASICS_ENV = "GENRE_PIPELINE_IMDB_BASICS"
LOCK_TIMEOUT_ENV = "GENRE_PIPELINE_LOCK_TIMEOUT"

_ON = {"on", "true", "1", "yes"}
_OFF = {"off", "false", "0", "no", ""}


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message names the variable."""


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def text(name: str, default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    value = _env(env).get(name, "").strip()
    return value or default


def choice(name: str, options: tuple[str, ...], default: str, env: Mapping[str, str] | None = None) -> str:
    value = (text(name, default, env) or default).lower()
    if value not in options:
        raise SettingsError(f"{name} must be one of {', '.join(options)}, got {value!r}")
    return value


def _parsed(name: str, default, convert, what: str, minimum, env: Mapping[str, str] | None):
    raw = text(name, None, env)
    if raw is None:
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def integer(name: str, default: int, minimum: int | None = None, env: Mapping[str, str] | None = None) -> int:
    return _parsed(name, default, int, "a whole number", minimum, env)


def number(name: str, default: float, minimum: float | None = None, env: Mapping[str, str] | None = None) -> float:
    return _parsed(name, default, float, "a number", minimum, env)


def switch(name: str, env: Mapping[str, str] | None = None) -> bool:
    value = (text(name, "", env) or "").lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise SettingsError(f"{name} must be 'on' or 'off', got {value!r}")


def check_environment(env: Mapping[str, str] | None = None) -> None:
    """Validate every setting a run reads from the environment, so a bad value stops a command
    before it starts anything (one :class:`SettingsError` naming the variable)."""
    choice(SOURCE_ENV, SOURCE_KINDS, "demo", env)
    integer(DEMO_MOVIES_ENV, 600, minimum=1, env=env)
    integer(DEMO_SEED_ENV, 0, env=env)
    switch(SCHEDULES_ENV, env)
    choice(VGG16_WEIGHTS_ENV, ("imagenet", "random"), "imagenet", env)
    integer(VGG16_IMAGE_SIZE_ENV, 224, minimum=32, env=env)
    choice(SENTENCE_ENCODER_ENV, ("minilm", "none"), "minilm", env)
    for name in ("TMDB_RATE_LIMIT", "TMDB_TIMEOUT", "TMDB_POSTER_RATE_LIMIT"):
        number(name, 1.0, minimum=0.001, env=env)
    for name in ("TMDB_CONCURRENCY", "TMDB_POSTER_CONCURRENCY"):
        integer(name, 1, minimum=1, env=env)
    integer("TMDB_MAX_RETRIES", 0, minimum=0, env=env)
    number(LOCK_TIMEOUT_ENV, 0.0, minimum=0.0, env=env)
