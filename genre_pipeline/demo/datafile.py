"""Typed reading of the synthetic demo catalog's JSON data files (test/demo data, not real movies).

:class:`DataFile` parses one file and hands out its fields by path (object keys, list
positions), checking each field's shape; every error is a :class:`DemoDataError` that names
the file and the field, e.g. ``.../posters.json: motifs.Drama.count: expected a [low, high]
range, got 3``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["DemoDataError", "DataFile", "is_int", "is_number"]

Key = str | int
NumberRange = tuple[float, float]

# A bound in pixels: a number, or the poster width w / height h, negated and/or offset.
_BOUND_RE = re.compile(r"^(-?)([wh])(?:([+-])(\d+))?$")


class DemoDataError(ValueError):
    """A demo data file is missing, is not JSON, or has a field of the wrong shape."""


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object", object: "a value"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


class DataFile:
    """One parsed JSON file with typed field access; errors name the file and the field."""

    def __init__(self, path: Traversable) -> None:
        self.name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DemoDataError(f"{self.name}: cannot read demo data file: {exc}") from exc
        try:
            self.root = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DemoDataError(f"{self.name}:{exc.lineno}: not valid JSON: {exc.msg}") from exc

    def error(self, keys: tuple[Key, ...], message: str) -> DemoDataError:
        return DemoDataError(f"{self.name}: {'.'.join(map(str, keys)) or '(top)'}: {message}")

    def get(self, *keys: Key, kind: type | tuple[type, ...] = object) -> Any:
        """The value at ``keys`` (object keys, or list positions as ints) of type ``kind``."""
        node = self.root
        for depth, key in enumerate(keys):
            if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
            elif isinstance(node, dict) and key in node:
                node = node[key]
            else:
                raise self.error(keys[: depth + 1], "missing")
        if not isinstance(node, kind) or (isinstance(node, bool) and kind is not object):
            raise self.error(keys, f"expected {_kind_name(kind)}, got {json.dumps(node)}")
        return node

    def integer(self, *keys: Key, minimum: int | None = None) -> int:
        value = self.get(*keys, kind=int)
        if minimum is not None and value < minimum:
            raise self.error(keys, f"expected at least {minimum}, got {value}")
        return value

    def number(self, *keys: Key) -> float:
        return self.get(*keys, kind=(int, float))

    def string(self, *keys: Key) -> str:
        return self.get(*keys, kind=str)

    def strings(self, *keys: Key) -> tuple[str, ...]:
        items = self.get(*keys, kind=list)
        if not items or not all(isinstance(item, str) for item in items):
            raise self.error(keys, "expected a non-empty list of strings")
        return tuple(items)

    def pairs(self, *keys: Key) -> tuple[tuple[str, float], ...]:
        """A list of ``[name, number]`` pairs, in file order."""
        items = self.get(*keys, kind=list)
        for item in items:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and is_number(item[1])):
                raise self.error(keys, f"expected [name, number] pairs, got {json.dumps(item)}")
        return tuple((name, value) for name, value in items)

    def colour(self, *keys: Key) -> tuple[int, int, int]:
        value = self.get(*keys, kind=list)
        if len(value) != 3 or not all(is_int(c) and 0 <= c <= 255 for c in value):
            raise self.error(keys, f"expected an [r, g, b] colour of 0-255 ints, got {value}")
        return (value[0], value[1], value[2])

    def number_range(self, *keys: Key, size: tuple[int, int] = (0, 0),
                     integers: bool = False) -> NumberRange:
        """A ``[low, high]`` range; bounds may name the poster width/height (``"h-20"``)."""
        value = self.get(*keys, kind=list)
        if len(value) != 2:
            raise self.error(keys, f"expected a [low, high] range, got {json.dumps(value)}")
        low, high = (self.bound(v, keys, size) for v in value)
        if low > high or (integers and not (is_int(low) and is_int(high))):
            raise self.error(keys, f"expected a [low, high] range{' of integers' * integers}, "
                                   f"got {json.dumps(value)}")
        return (low, high)

    def bound(self, value: Any, keys: tuple[Key, ...], size: tuple[int, int]) -> float:
        """A number, or ``w``/``h`` of ``size`` with an optional sign and offset."""
        if is_number(value):
            return value
        match = _BOUND_RE.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.error(keys, f"expected a number or a w/h bound like \"h-20\", "
                                   f"got {json.dumps(value)}")
        sign, axis, op, offset = match.groups()
        result = size[0] if axis == "w" else size[1]
        result = -result if sign else result
        if op:
            result += int(offset) if op == "+" else -int(offset)
        return result

    def require_genres(self, keys: tuple[Key, ...], found: Collection[str],
                       genres: tuple[str, ...]) -> None:
        """``found`` (object keys or names) covers exactly the genres of ``genres.json``."""
        missing = [g for g in genres if g not in found]
        unknown = [g for g in found if g not in genres]
        if missing or unknown:
            raise self.error(keys, f"genres missing {missing}, unknown {unknown}")
