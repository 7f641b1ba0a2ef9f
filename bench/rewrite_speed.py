"""Time ``find_references`` + ``rewrite`` on Django admin's CSS and JS.

    python bench/rewrite_speed.py [--repeat N] [--module PATH]

Prints throughput (MB/s, best of N runs) and the number of references found. ``--module`` times
another copy of the scanners, e.g. an older version saved outside the repository: a copy of the
``staticserve/pipeline/scan`` folder, or a single module such as the older ``rewrite.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys
import time
from types import ModuleType


def corpus() -> list[tuple[str, str, str]]:
    """(relative path, syntax, text) for every .css/.js file of Django admin's static files."""
    import django

    root = pathlib.Path(django.__file__).parent / "contrib/admin/static"
    files = []
    for path in sorted(root.rglob("*")):
        syntax = {".css": "css", ".js": "js", ".mjs": "js"}.get(path.suffix)
        if syntax:
            data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
            text = data.decode("utf-8", "surrogateescape")  # as the build decodes
            files.append((str(path.relative_to(root)), syntax, text))
    return files


def load(module_path: str | None) -> ModuleType:
    if module_path is None:
        from staticserve.pipeline import scan

        return scan
    path = pathlib.Path(module_path)
    # A folder is a package whose modules import each other relatively: load its __init__.py
    # as a package so that those imports resolve inside the folder.
    package = [str(path)] if path.is_dir() else None
    location = path / "__init__.py" if path.is_dir() else path
    spec = importlib.util.spec_from_file_location(
        "scan_under_test", location, submodule_search_locations=package
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--module", help="a scan package folder or a rewrite.py to time instead of the package's"
    )
    args = parser.parse_args()
    rw = load(args.module)
    files = corpus()
    size = sum(len(text.encode("utf-8", "surrogateescape")) for _, _, text in files)
    best = float("inf")
    refs = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        refs = 0
        for _, syntax, text in files:
            refs += len(rw.find_references(text, syntax))
            rw.rewrite(text, syntax, lambda ref: ref.path + ".x")
        best = min(best, time.perf_counter() - t0)
    print(f"{len(files)} files, {size / 1e6:.2f} MB, {refs} references")
    print(f"find_references + rewrite: {best * 1e3:.1f} ms, {size / 1e6 / best:.1f} MB/s")


if __name__ == "__main__":
    main()
