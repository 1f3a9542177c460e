"""A tiny name -> object registry, one per kind (tasks, sources, metrics, splitters, models)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from genotx.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects looked up by name; an unknown name lists the valid ones with a "did you mean".

    Examples
    --------
    >>> colours = Registry("colour")
    >>> colours.add("red", 1)
    1
    >>> colours["red"]
    1
    >>> sorted(colours)
    ['red']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda obj: self.add(name, obj)

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self):
        return self._items.items()
