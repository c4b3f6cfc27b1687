"""Checking notebook parameters before any work: one line naming the parameter, the value and what is allowed.

A schema maps parameter names to :class:`Spec` objects built from the small
constructors below (:func:`integer`, :func:`number`, :func:`text`, ...). The
pipeline checks every step's parameters against its notebook's schema before
anything runs, and each notebook checks its own parameters in its first cell,
so a bad value never fails deep inside a library call.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ParameterError(ValueError):
    """A parameter's value is not allowed; the message names the parameter, the value and what is allowed."""


@dataclass(frozen=True)
class Spec:
    """What one parameter accepts: ``expected`` in words, a test, known names to suggest, and deeper checks."""

    expected: str
    accepts: Callable[[Any], bool]
    names: tuple[str, ...] = ()
    inner: Callable[[str, Any], None] | None = None

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`ParameterError` unless ``value`` is allowed for parameter ``name``."""
        if not self.accepts(value):
            raise ParameterError(f"{name} = {value!r}: expected {self.expected}{suggestion(value, self.names)}")
        if self.inner is not None:
            self.inner(name, value)


def suggestion(value: Any, names: Sequence[str]) -> str:
    """``; did you mean 'x'?`` for the closest of ``names`` to a string ``value``, else nothing."""
    if not isinstance(value, str) or not names:
        return ""
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _bounds(low: float | None, high: float | None, low_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"<= {high:g}")
    return " " + " and ".join(parts) if parts else ""


def _within(value: float, low: float | None, high: float | None, low_open: bool) -> bool:
    above = low is None or (value > low if low_open else value >= low)
    return above and (high is None or value <= high)


def integer(low: int | None = None, high: int | None = None) -> Spec:
    """A whole number (not a bool) within the bounds."""
    return Spec(f"an integer{_bounds(low, high, False)}", lambda v: isinstance(v, int) and not isinstance(v, bool) and _within(v, low, high, False))


def number(low: float | None = None, high: float | None = None, low_open: bool = False) -> Spec:
    """A finite int or float (not a bool) within the bounds."""

    def accepts(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and _within(v, low, high, low_open)

    return Spec(f"a number{_bounds(low, high, low_open)}", accepts)


def boolean() -> Spec:
    """``True`` or ``False``."""
    return Spec("true or false", lambda v: isinstance(v, bool))


def text(choices: Sequence[str] = ()) -> Spec:
    """A string; with ``choices``, one of them."""
    if not choices:
        return Spec("a string", lambda v: isinstance(v, str))
    return Spec(f"one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices, tuple(choices))


def optional(spec: Spec) -> Spec:
    """``None`` or what ``spec`` accepts."""
    inner = None if spec.inner is None else lambda name, v: v is None or spec.inner(name, v)
    return Spec(f"None or {spec.expected}", lambda v: v is None or spec.accepts(v), spec.names, inner)


def list_of(item: Spec, min_length: int = 0) -> Spec:
    """A list of at least ``min_length`` items, each checked by ``item`` (named ``name[i]``)."""

    def inner(name: str, value: list) -> None:
        for index, element in enumerate(value):
            item.check(f"{name}[{index}]", element)

    size = f" of at least {min_length} items" if min_length else ""
    return Spec(f"a list{size}, each {item.expected}", lambda v: isinstance(v, list) and len(v) >= min_length, inner=inner)


def mapping(fields: Mapping[str, Spec] | None = None, values: Spec | None = None, required: Sequence[str] = ()) -> Spec:
    """A mapping with string keys: known ``fields`` (others refused, with a suggestion), or any key with ``values``."""

    def inner(name: str, value: dict) -> None:
        for key, element in value.items():
            if not isinstance(key, str):
                raise ParameterError(f"{name}: key {key!r} must be a string")
            if fields is not None and key not in fields:
                raise ParameterError(f"{name}: unknown key {key!r}; allowed: {', '.join(fields)}{suggestion(key, tuple(fields))}")
            spec = fields[key] if fields is not None else values
            if spec is not None:
                spec.check(f"{name}.{key}", element)
        if missing := [key for key in required if key not in value]:
            raise ParameterError(f"{name}: missing key(s) {', '.join(missing)}")

    keys = f" with keys from {', '.join(fields)}" if fields is not None else ""
    return Spec(f"a mapping{keys}", lambda v: isinstance(v, dict), inner=inner)


def either(first: Spec, second: Spec) -> Spec:
    """What ``first`` or ``second`` accepts (deeper checks of the one that accepts)."""

    def inner(name: str, value: Any) -> None:
        chosen = first if first.accepts(value) else second
        if chosen.inner is not None:
            chosen.inner(name, value)

    return Spec(f"{first.expected}, or {second.expected}", lambda v: first.accepts(v) or second.accepts(v), first.names + second.names, inner)


def check(schema: Mapping[str, Spec], values: Mapping[str, Any], only_given: bool = False) -> None:
    """Check ``values`` against ``schema``: every schema name (or, with ``only_given``, those present), no unknown name."""
    if unknown := [name for name in values if name not in schema]:
        raise ParameterError(f"unknown parameter {unknown[0]!r}{suggestion(unknown[0], tuple(schema))}; the parameters are: {', '.join(schema)}")
    for name, spec in schema.items():
        if name in values:
            spec.check(name, values[name])
        elif not only_given:
            raise ParameterError(f"parameter {name} is missing")
