"""``staticserve build`` that freezes itself at a named moment, and what its output shows there.

``python -m tests.paused_build MOMENT[:N] build ...`` runs the real CLI; at the ``N``-th time
(default 1) the build reaches ``MOMENT`` it writes ``MOMENT`` to the file named by
``$STATICSERVE_PAUSE_MARKER`` and stops itself with SIGSTOP, which freezes every thread at once.
A test then reads a still output folder, checks that the build stands where it was aimed
(:func:`standing`, :func:`stands_at`) and sends SIGKILL -- exactly what a kill landing on that
line does -- or SIGCONT, to let it go on (after filling the disk, say).

The moments, in the order a build passes them (hooks on the publish stage's own functions, so a
renamed function makes these tests fail loudly rather than aim elsewhere):

``compressing``      a compression job starts after the staging journal is written (by the
                     first Stager.put that writes): files of this build are missing from the
                     disk, their compression not yet done
``writing-content``  a content-addressed file's bytes are complete under its temporary name,
                     not yet renamed into place
``publishing``       the publish step has journaled everything it may create or prune; every
                     content file is in place; the manifest is not yet written
``manifest-written`` the new manifest is complete under its temporary name, not yet renamed
                     over the live one (the next instruction is the switch)
``switched``         the new manifest is live; unhashed copies, pruning and the journal's
                     removal are still to come

With ``RELIAB_DISK_FREE`` set, the simulated full disk of :mod:`tests.reliability.enospc_build`
applies as well.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline.output_dir import STATE_DIR
from staticserve.pipeline.retention import files_on_disk

MARKER_ENV = "STATICSERVE_PAUSE_MARKER"
MOMENTS = ("compressing", "writing-content", "publishing", "manifest-written", "switched")
JOURNAL = Path(STATE_DIR) / "journal.json"
TEMP_SUFFIX = ".staticserve-tmp"
MANIFEST_TEMP = f".{MANIFEST_NAME}{TEMP_SUFFIX}"


# -- in the build process: the hooks -------------------------------------------------------------


class _Pauser:
    def __init__(self, moment: str, nth: int) -> None:
        self.moment, self.nth = moment, nth
        self.seen = 0
        self.lock = threading.Lock()

    def reached(self, detail: object = "") -> None:
        """One more pass through the moment: freeze on the ``nth``. ``detail`` (what the build
        was writing) goes on the marker's second line, for failure messages."""
        with self.lock:
            self.seen += 1
            if self.seen != self.nth:
                return
        text = f"{self.moment}\n{detail}"
        Path(os.environ[MARKER_ENV]).write_text(text, encoding="utf-8")
        # Sent to this very thread, it stops before its next instruction; the rest of the
        # process follows (a stop signal stops every thread). Sent to the process instead, the
        # kernel may hand it to another thread, and this one would run on for a moment.
        signal.pthread_kill(threading.get_ident(), signal.SIGSTOP)


def _install(moment: str, nth: int) -> None:
    import importlib

    atomic = importlib.import_module("staticserve.pipeline.atomic")
    publish = importlib.import_module("staticserve.pipeline.publish")
    variants = importlib.import_module("staticserve.pipeline.variants")
    pauser = _Pauser(moment, nth)

    def hook(module: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(module, name)  # AttributeError: the hook point was renamed
        setattr(module, name, make(original))

    if moment == "compressing":
        # Stager.put writes the journal before the first file it writes (Stager.begin only
        # names the files): a compression job counts once that journal is on disk.
        journaled = threading.Event()

        def journal_then_go(original: Any) -> Any:
            def write_journal(output: Path, names: Any, **options: Any) -> None:
                original(output, names, **options)
                if sys._getframe(1).f_code.co_name == "put":
                    journaled.set()

            return write_journal

        def compress(original: Any) -> Any:
            def compress_variants(data: Any, encodings: tuple[str, ...]) -> Any:
                journaled.wait(300)  # only jobs that run once the journal is on disk count
                pauser.reached()
                return original(data, encodings)

            return compress_variants

        hook(publish, "write_journal", journal_then_go)
        hook(variants, "compress_variants", compress)
    elif moment in ("writing-content", "manifest-written"):

        def write(original: Any) -> Any:
            def write_file(name: str | Path, data: bytes, **options: Any) -> None:
                original(name, data, **options)
                path = Path(name)
                is_manifest = path.name == MANIFEST_TEMP
                # (a new content file is written under its own name, with no temporary)
                is_content = STATE_DIR not in path.parts
                if is_manifest if moment == "manifest-written" else is_content and not is_manifest:
                    pauser.reached(path)

            return write_file

        hook(atomic, "write_file", write)
    elif moment == "publishing":

        def journal(original: Any) -> Any:
            def write_journal(output: Path, names: Any, **options: Any) -> None:
                original(output, names, **options)
                if sys._getframe(1).f_code.co_name == "publish":  # not Stager.put's
                    pauser.reached()

            return write_journal

        hook(publish, "write_journal", journal)
    elif moment == "switched":

        def unhashed(original: Any) -> Any:
            def write_unhashed(output: Path, asset: Any, *rest: Any) -> None:
                pauser.reached()
                original(output, asset, *rest)

            return write_unhashed

        hook(publish, "_write_unhashed", unhashed)
    else:
        raise SystemExit(f"unknown moment {moment!r}; one of {', '.join(MOMENTS)}")


def main() -> None:
    moment, _, nth = sys.argv[1].partition(":")
    if "RELIAB_DISK_FREE" in os.environ:
        from tests.reliability.enospc_build import install_full_disk

        install_full_disk()
    _install(moment, int(nth or 1))
    from staticserve.cli import main as cli

    sys.argv = ["staticserve", *sys.argv[2:]]
    cli()


# -- in the test: start, wait for the pause, read the output -------------------------------------


@dataclass(frozen=True)
class Standing:
    """What the output folder shows about a build frozen (or killed) in it."""

    generation: int  # the live manifest's
    live_files: frozenset[str]  # every name the live build put in the output
    journal: frozenset[str] | None  # the names the journal lists; None: no journal
    absent: frozenset[str]  # journaled names not on disk
    content_temps: frozenset[str]  # content files under their temporary names
    manifest_temp: int | None  # the generation in a complete temporary manifest

    def describe(self) -> str:
        journal = "none" if self.journal is None else f"{len(self.journal)} names"
        return (
            f"generation={self.generation} journal={journal} absent={len(self.absent)} "
            f"content temporaries={len(self.content_temps)} "
            f"temporary manifest of generation {self.manifest_temp}"
        )


def standing(out: Path) -> Standing:
    """Read ``out`` as it stands."""
    try:
        names = frozenset(json.loads((out / JOURNAL).read_text(encoding="utf-8")))
    except FileNotFoundError:
        names = None
    temps = frozenset(
        p.relative_to(out).as_posix()
        for p in out.rglob(f"*{TEMP_SUFFIX}")
        if STATE_DIR not in p.relative_to(out).parts and p.name != MANIFEST_TEMP
    )
    manifest_temp = None
    if (out / MANIFEST_TEMP).exists():
        try:
            manifest_temp = Manifest.loads((out / MANIFEST_TEMP).read_bytes()).generation
        except Exception:  # incomplete: not the moment just before the switch
            manifest_temp = None
    live = Manifest.load(out)
    return Standing(
        generation=live.generation,
        live_files=frozenset(files_on_disk(live)),
        journal=names,
        absent=frozenset(name for name in names or () if not (out / name).exists()),
        content_temps=temps,
        manifest_temp=manifest_temp,
    )


def _plans_pruning(now: Standing, before: Standing) -> bool:
    """The journal now lists the live build's files: the publish step's plan (what it may
    prune), which the journal written while compressing does not hold."""
    live = before.live_files - (before.journal or frozenset())
    return bool(live) and now.journal is not None and live <= now.journal


def stands_at(moment: str, now: Standing, before: Standing) -> bool:
    """Does the output read ``now`` show the build at ``moment``, given how it stood
    ``before`` the build started? The assertion that a kill lands where it was aimed."""
    journaled = now.journal is not None and now.generation == before.generation
    new_absent = now.absent - before.absent  # this build's files not on disk yet
    new_temps = now.content_temps - before.content_temps
    # this build's files on disk (a new one is written under its own name, with no temporary)
    new_written = (now.journal or frozenset()) - now.absent - before.live_files
    checks = {
        "compressing": journaled and bool(new_absent) and not _plans_pruning(now, before),
        "writing-content": journaled and bool(new_temps or new_written),
        "publishing": journaled
        and _plans_pruning(now, before)
        and not new_absent
        and not new_temps,
        "manifest-written": now.generation == before.generation
        and now.manifest_temp == before.generation + 1,
        "switched": now.generation == before.generation + 1 and now.journal is not None,
    }
    return checks[moment]


def start(
    moment: str, build_args: list[str], *, cwd: Path, env: dict[str, str], marker: Path
) -> subprocess.Popen[bytes]:
    """Start ``staticserve build_args...`` set to freeze at ``moment`` (``name`` or ``name:N``)."""
    marker.unlink(missing_ok=True)
    command = [sys.executable, "-m", "tests.paused_build", moment, *build_args]
    return subprocess.Popen(
        command, cwd=cwd, env={**env, MARKER_ENV: str(marker)}, stderr=subprocess.PIPE
    )


def wait_paused(process: subprocess.Popen[bytes], marker: Path, timeout: float = 300) -> str:
    """Wait until the build has frozen itself; return the moment it names. A build that ends
    first fails the test: it never reached its moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(
                f"the build ended ({process.returncode}) before reaching its moment: "
                + stderr.decode(errors="replace")[-2000:]
            )
        if marker.exists() and _stopped(process.pid):
            return marker.read_text(encoding="utf-8").partition("\n")[0]
        time.sleep(0.005)
    raise AssertionError(f"the build did not reach its moment within {timeout} s")


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL (a stopped process dies of it too) and reap."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, process.returncode


def resume(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Let a frozen build go on; its exit status and standard error once it ends."""
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr.decode(errors="replace")


def _stopped(pid: int) -> bool:
    """Every thread of ``pid`` is stopped: nothing in it can touch the disk any more."""
    try:
        states = [
            Path(f"/proc/{pid}/task/{task}/stat").read_text().rpartition(")")[2].split()[0]
            for task in os.listdir(f"/proc/{pid}/task")
        ]
    except OSError:
        return False
    return all(state in ("T", "t") for state in states)


if __name__ == "__main__":
    main()
