"""A stopwatch that adds up milliseconds under stage names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: dict[str, float] = {}

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - began) * 1000)

    def add(self, stage: str, milliseconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + milliseconds

    def total(self) -> float:
        return (time.perf_counter() - self.started) * 1000
