"""Largest first: threads that always start the biggest job waiting, whenever it was submitted.

The build submits a file's compression as soon as its bytes are final, so jobs arrive in the
order fingerprinting finishes them, not by size. A first-in-first-out pool would leave a large
brotli job, submitted late, to run alone at the end while the other cores idle; here a job that
arrives late still starts before every smaller one waiting (the longest-processing-time-first
rule: the last job to finish is then a small one, so the cores finish together).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["LargestFirst"]

T = TypeVar("T")


@dataclass(order=True)
class _Job(Generic[T]):
    priority: tuple[int, int]  # (-cost, order of submission): largest first, then oldest
    future: Future[T] = field(compare=False)
    run: Callable[[], T] = field(compare=False)


class LargestFirst:
    """``workers`` threads running the submitted call of the highest ``cost`` waiting.

    ``submit(cost, fn, *args)`` returns a :class:`~concurrent.futures.Future`, as an executor's
    does (so ``as_completed`` works); ``shutdown(cancel=True)`` drops the jobs not started and
    waits for the running ones. Threads start with the first job.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._workers, self._name = max(1, workers), name
        self._waiting: list[_Job[Any]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._closing = False
        self._threads: list[threading.Thread] = []

    def submit(self, cost: int, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        job = _Job((-cost, next(self._order)), future, lambda: fn(*args))
        with self._ready:
            if self._closing:
                raise RuntimeError("submit() after shutdown()")
            heapq.heappush(self._waiting, job)
            self._ready.notify()
            if not self._threads:
                self._start()
        return future

    def _start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"{self._name}_{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._closing:
                    self._ready.wait()
                if not self._waiting:
                    return  # closing, and nothing left to run
                job = heapq.heappop(self._waiting)
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = job.run()
            except BaseException as exc:  # handed to whoever waits on the future
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)

    def shutdown(self, *, cancel: bool) -> None:
        """Stop taking jobs; with ``cancel``, drop those not started. Returns once every
        thread has finished its job."""
        with self._ready:
            self._closing = True
            if cancel:
                for job in self._waiting:
                    job.future.cancel()
                self._waiting.clear()
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
