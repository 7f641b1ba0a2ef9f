"""Benchmark apps: one small module per contender, configured by environment variables.

``BENCH_ROOT`` is the build output directory every contender serves under ``BENCH_PREFIX``
(default ``/static``). Each module exposes ``app`` (ASGI 3 or WSGI, as its name says).
"""
