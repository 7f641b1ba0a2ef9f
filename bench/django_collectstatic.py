"""``manage.py collectstatic`` on the same files, side by side in one run: staticserve's
``ManifestStorage`` against WhiteNoise's ``CompressedManifestStaticFilesStorage``.

The files are the static files of ``django.contrib.admin`` and Django REST framework, found by
Django's finders in a temporary project. Each contender runs ``collectstatic --noinput -v 0``
in a fresh process: a full run into an empty ``STATIC_ROOT``, then a no-op run (nothing
changed). Rounds are interleaved (every contender in turn, every other round in reverse order)
so that a slow spell of a shared machine lands on all of them; the best round counts, and the
median is shown too. The floor under every figure is the Django process start (``django.setup()``
with the same settings), measured the same way.

Needs: Django, whitenoise and djangorestframework in this Python; staticserve is this
checkout. Writes ``bench/RESULTS-django.md`` and ``bench/results/django_collectstatic.json``.

    python bench/django_collectstatic.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from harness.corpus import child_cpu_seconds
from harness.machine import describe, wait_for_quiet
from harness.paths import BENCH_DIR, REPO_DIR, RESULTS_DIR

RESULTS = BENCH_DIR / "RESULTS-django.md"
RESULTS_JSON = RESULTS_DIR / "django_collectstatic.json"

APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
]
SETTINGS = """
import os
SECRET_KEY = "benchmark only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = {apps!r}
STATIC_URL = "/static/"
STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
STORAGES = {{
    "default": {{"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    "staticfiles": {{"BACKEND": {backend!r}}},
}}
WHITENOISE_KEEP_ONLY_HASHED_FILES = {keep_only_hashed!r}
"""


@dataclass(frozen=True)
class Contender:
    name: str
    module: str  # the settings module
    apps: list[str]
    backend: str
    keep_only_hashed: bool = False

    def settings(self) -> str:
        return SETTINGS.format(
            apps=self.apps, backend=self.backend, keep_only_hashed=self.keep_only_hashed
        )


CONTENDERS = (
    Contender(
        "staticserve ManifestStorage",
        "ours",
        ["staticserve.integrations.django", *APPS],
        "staticserve.integrations.django.ManifestStorage",
    ),
    Contender(
        "WhiteNoise CompressedManifestStaticFilesStorage",
        "whitenoise_default",
        APPS,
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ),
    Contender(
        "WhiteNoise, KEEP_ONLY_HASHED_FILES",
        "whitenoise_hashed_only",
        APPS,
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        keep_only_hashed=True,
    ),
)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    busy_cores_before: float


def run(project: Path, module: str, static_root: Path, command: list[str]) -> Run:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "BENCH_STATIC_ROOT": str(static_root),
        "PYTHONPATH": os.pathsep.join([str(project), str(REPO_DIR)]),
    }
    busy = wait_for_quiet().busy_cores
    cpu = child_cpu_seconds()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    cpu = child_cpu_seconds() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{module}: {' '.join(command[2:])} failed:\n{done.stderr[-2000:]}")
    return Run(seconds, cpu, busy)


COLLECTSTATIC = [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"]
STARTUP = [sys.executable, "-c", "import django; django.setup()"]


def measure(rounds: int) -> dict[str, dict[str, list[Run]]]:
    project = Path(tempfile.mkdtemp(prefix="staticserve-django-bench-"))
    try:
        for contender in CONTENDERS:
            (project / f"{contender.module}.py").write_text(contender.settings())
        runs: dict[str, dict[str, list[Run]]] = {
            c.name: {"full": [], "noop": [], "startup": []} for c in CONTENDERS
        }
        for number in range(rounds):
            order = CONTENDERS if number % 2 == 0 else tuple(reversed(CONTENDERS))
            for contender in order:
                root = project / "static_root" / contender.module
                shutil.rmtree(root, ignore_errors=True)
                timed = runs[contender.name]
                timed["full"].append(run(project, contender.module, root, COLLECTSTATIC))
                timed["noop"].append(run(project, contender.module, root, COLLECTSTATIC))
                timed["startup"].append(run(project, contender.module, root, STARTUP))
                print(
                    f"round {number + 1}: {contender.name}: full {timed['full'][-1].seconds:.2f} s,"
                    f" no-op {timed['noop'][-1].seconds:.2f} s",
                    flush=True,
                )
        files = sum(1 for p in (project / "static_root/ours").rglob("*") if p.is_file())
        print(f"(staticserve's STATIC_ROOT holds {files} files)", flush=True)
        return runs
    finally:
        shutil.rmtree(project, ignore_errors=True)


def corpus() -> tuple[int, int]:
    """Files and bytes the finders list for the admin and DRF."""
    import django
    import rest_framework

    folders = [
        Path(django.__file__).parent / "contrib/admin/static",
        Path(rest_framework.__file__).parent / "static",
    ]
    files = [p for folder in folders for p in folder.rglob("*") if p.is_file()]
    files = [p for p in files if not p.name.startswith(".")]
    return len(files), sum(p.stat().st_size for p in files)


def best(runs: list[Run]) -> float:
    return min(r.seconds for r in runs)


def render(runs: dict[str, dict[str, list[Run]]], machine: dict[str, object]) -> str:
    ours = runs[CONTENDERS[0].name]
    count, size = corpus()
    lines = [
        "# collectstatic: staticserve's ManifestStorage vs WhiteNoise",
        "",
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        "`python bench/django_collectstatic.py`.",
        "",
        f"- Files: the static files of django.contrib.admin and Django REST framework, {count} "
        f"files, {size / 1e6:.1f} MB, found by Django's finders in a temporary project.",
        f"- Machine: {machine['nproc']} x {machine['cpu_model']}; load average before the run "
        f"{', '.join(str(v) for v in machine['load_average_before'])} "  # type: ignore[attr-defined]
        "(a shared machine: other work ran alongside, so the absolute figures are noisy; the "
        "ratios, from interleaved rounds, hold better).",
        "- Versions: "
        + ", ".join(
            f"{name} {_version(name)}"
            for name in ("django", "whitenoise", "djangorestframework", "brotli")
        )
        + f", python {sys.version.split()[0]}",
        f"- {len(ours['full'])} interleaved rounds; each figure is the best round (median in "
        "brackets), wall seconds of `manage.py collectstatic --noinput -v 0` in a fresh process; "
        "CPU: user + system seconds of that process and its threads (the best round), which "
        "other people's work on the machine disturbs less than wall time.",
        "",
        "| contender | full | no-op | no-op / full | Django start | CPU full | CPU no-op |",
        "|---|---|---|---|---|---|---|",
    ]
    for contender in CONTENDERS:
        timed = runs[contender.name]
        lines.append(
            f"| {contender.name} | {_cell(timed['full'])} | {_cell(timed['noop'])} | "
            f"{best(timed['noop']) / best(timed['full']):.0%} | {_cell(timed['startup'])} | "
            f"{_cpu(timed['full']):.1f} s | {_cpu(timed['noop']):.1f} s |"
        )
    lines.append("")
    for contender in CONTENDERS[1:]:
        timed = runs[contender.name]
        lines.append(
            f"- Full run: {contender.name} takes {best(timed['full']) / best(ours['full']):.2f}x "
            f"staticserve's time ({best(timed['full']):.2f} s vs {best(ours['full']):.2f} s); "
            f"CPU {_cpu(timed['full']):.1f} s vs {_cpu(ours['full']):.1f} s."
        )
    startup = best(ours["startup"])
    lines.append(
        f"- staticserve's no-op run is {best(ours['noop']) / best(ours['full']):.0%} of its full "
        f"run; {startup:.2f} s of its {best(ours['noop']):.2f} s is the Django process start."
    )
    return "\n".join(lines) + "\n"


def _cell(runs: list[Run]) -> str:
    return f"{best(runs):.2f} s ({statistics.median(r.seconds for r in runs):.2f})"


def _cpu(runs: list[Run]) -> float:
    return min(r.cpu_seconds for r in runs)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    options = parser.parse_args()
    machine = describe()
    runs = measure(options.rounds)
    RESULTS.write_text(render(runs, machine), encoding="utf-8")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(
        json.dumps(
            {
                "machine": machine,
                "runs": {
                    name: {kind: [r.__dict__ for r in rs] for kind, rs in timed.items()}
                    for name, timed in runs.items()
                },
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"wrote {RESULTS} and {RESULTS_JSON}")


if __name__ == "__main__":
    main()
