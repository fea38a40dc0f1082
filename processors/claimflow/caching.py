"""Memoisation for the claim rules, bounded by size as well as by count.

The rules cache results by raw input text (amounts, codes, dates, statuses repeat across claims). The text comes
from data, and a DynamoDB item may hold up to 400 KB in one attribute, so a cache bounded by entries alone can
grow by the size of its largest keys times its entry count (issue 11 class 9). Here a call whose text arguments
together exceed ``max_key_chars`` characters is computed without the cache: a cache holds at most ``maxsize``
entries of at most ``max_key_chars`` characters of key each. Real values of every cached rule are far shorter.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# Longer than any valid value of a cached rule (an ICD-10 code, an NPI, a date, a 38-digit amount, a status
# phrase, a procedure line's code and modifiers): anything longer is rejected or rare, and is computed uncached.
MAX_KEY_CHARS = 256


def _key_chars(args: tuple[Any, ...]) -> int:
    total = 0
    for arg in args:
        if arg.__class__ is str:
            total += len(arg)
        elif arg.__class__ is tuple:
            total += _key_chars(arg)
        else:
            total += 8  # a number, None, or a value the cached function rejects
    return total


class BoundedCache(Generic[P, R]):
    """``functools.lru_cache`` that leaves out calls whose keys are too long; ``cache_info``/``cache_clear`` as
    lru_cache's."""

    def __init__(self, function: Callable[P, R], maxsize: int, typed: bool, max_key_chars: int) -> None:
        self._function = function
        self._cached = lru_cache(maxsize=maxsize, typed=typed)(function)
        self.maxsize = maxsize
        self.max_key_chars = max_key_chars
        self.cache_info = self._cached.cache_info
        self.cache_clear = self._cached.cache_clear
        update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs or _key_chars(args) > self.max_key_chars:
            return self._function(*args, **kwargs)
        return self._cached(*args)


def bounded_cache(
    maxsize: int, *, typed: bool = False, max_key_chars: int = MAX_KEY_CHARS
) -> Callable[[Callable[P, R]], BoundedCache[P, R]]:
    """Decorator: memoise by argument values, at most ``maxsize`` entries of at most ``max_key_chars`` characters."""

    def decorate(function: Callable[P, R]) -> BoundedCache[P, R]:
        return BoundedCache(function, maxsize, typed, max_key_chars)

    return decorate
