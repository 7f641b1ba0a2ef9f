"""``manage.py collectstatic`` that builds, when ``ManifestStorage`` is the staticfiles storage.

The finders' files go straight to staticserve's build -- fingerprinted, rewritten, compressed
and published into ``STATIC_ROOT`` with the manifest last -- and no plain copy is written
first. With any other storage this is Django's own command. Django runs the command of the
first app in ``INSTALLED_APPS`` that has one, so ``"staticserve.integrations.django"`` goes
before ``"django.contrib.staticfiles"`` (after it, Django's command runs and the storage still
builds, from ``post_process``, but Django's messages count copies that were never made).

The options are Django's. ``--clear`` builds afresh (no earlier build kept for cached pages,
no compression reused) and, in a ``STATIC_ROOT`` that holds no staticserve build, first
deletes what is there (an earlier collectstatic's copies). ``--link`` is refused: a build
publishes processed copies, which cannot be links to the sources.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.contrib.staticfiles.management.commands import collectstatic
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from .....errors import StaticServeError
from .....manifest import MANIFEST_NAME, Manifest
from ...finders import found_files
from ...storage import ManifestStorage

if TYPE_CHECKING:
    from ..... import BuildReport


class Command(collectstatic.Command):  # type: ignore[misc]  # django is untyped
    help = (
        "Collect static files into STATIC_ROOT; with staticserve's ManifestStorage, as one "
        "build: fingerprinted, compressed and published atomically."
    )

    def handle(self, **options: Any) -> str | None:
        if not isinstance(self.storage, ManifestStorage):
            result: str | None = super().handle(**options)
            return result
        self.set_options(**options)
        if self.symlink:
            raise CommandError(
                "--link: staticserve's build publishes fingerprinted, compressed copies, which "
                "cannot be links to the source files; run collectstatic without --link"
            )
        if not options["post_process"]:
            raise CommandError(
                "--no-post-process: with staticserve's ManifestStorage, collecting is the build "
                "(there are no unprocessed copies to leave); run collectstatic without it"
            )
        try:
            output = Path(self.storage.path("")).absolute()
        except ImproperlyConfigured as exc:  # no STATIC_ROOT: Django's words, without a traceback
            raise CommandError(str(exc)) from None
        if self.interactive and _holds_files(output):
            self._confirm(output)
        if self.clear and not (output / MANIFEST_NAME).exists():
            self._empty(output)
        elif _holds_files(output) and not (output / MANIFEST_NAME).exists():
            raise CommandError(
                f"STATIC_ROOT ({output}) holds files but no staticserve build (an earlier "
                "collectstatic's copies?); run `manage.py collectstatic --clear` to delete them "
                "and build"
            )
        before = self.storage.current_manifest()
        try:
            report = self.storage.build(
                found_files(self.ignore_patterns),
                clear=self.clear,
                dry_run=self.dry_run,
                notice=lambda message: self.log(message, level=1),
            )
        except StaticServeError as exc:
            raise CommandError(str(exc)) from None
        self._report(report, before)
        if self.verbosity < 1:
            return None
        return _summary(report)

    def _confirm(self, output: Path) -> None:
        what = (
            "build the static files afresh into"
            if self.clear
            else "publish a new build of the static files into"
        )
        question = f"\nstaticserve will {what}\n\n    {output}\n\n"
        if self.clear and not (output / MANIFEST_NAME).exists():
            question += "after deleting every file that is there now.\n"
        question += "\nType 'yes' to continue, or 'no' to cancel: "
        if input(question) != "yes":
            raise CommandError("collectstatic cancelled; nothing was changed.")

    def _empty(self, output: Path) -> None:
        """Delete what an earlier collectstatic left in an output that is not a build."""
        if not output.is_dir():
            return
        for folder, dirs, files in os.walk(output, topdown=False):
            for name in files:
                path = Path(folder, name)
                if self.dry_run:
                    self.log(f"Pretending to delete '{path}'", level=1)
                    continue
                self.log(f"Deleting '{path}'", level=1)
                path.unlink()
            for name in dirs:
                path = Path(folder, name)
                if not self.dry_run:
                    path.rmdir() if not path.is_symlink() else path.unlink()

    def _report(self, report: BuildReport, before: Manifest | None) -> None:
        for duplicate in report.duplicates:
            self.log(
                f"Found another file with the destination path '{duplicate.logical}' "
                f"({duplicate.shadowed}); it is ignored: the first one found "
                f"({duplicate.winner}) is collected.",
                level=1,
            )
        for warning in report.warnings:
            if self.verbosity >= 1:
                self.stderr.write(f"Warning: {warning}")
        if report.dry_run:
            for name in report.planned:
                self.log(f"Pretending to write '{name}'", level=1)
            return
        after = self.storage.current_manifest()
        if after is None or self.verbosity < 2:
            return
        for logical, asset in sorted(after.assets.items()):
            earlier = before.assets.get(logical) if before else None
            if earlier is None or earlier.path != asset.path or self.clear:
                self.log(f"Post-processed '{logical}' as '{asset.path}'", level=2)
            else:
                self.log(f"Skipping '{logical}' (not modified)", level=2)


def _holds_files(output: Path) -> bool:
    try:
        return any(output.iterdir())
    except FileNotFoundError:
        return False


def _summary(report: BuildReport) -> str:
    """Django's closing line, counted truthfully: the files written (each fingerprinted and
    compressed), those already in place, then staticserve's own figures."""
    written = report.written
    unmodified = report.files - written
    line = f"\n{written} static file{'' if written == 1 else 's'} "
    line += f"{'would be copied' if report.dry_run else 'copied'} to '{report.output}'"
    if unmodified:
        line += f", {unmodified} unmodified"
    if written:
        line += f", {written} post-processed"
    variants = report.written_variants
    state = "checked (dry run)" if report.dry_run else f"build {report.generation} live"
    verb = "would be written" if report.dry_run else "written"
    return (
        f"{line}.\nstaticserve: {state}, {report.files} files, {variants} compressed "
        f"variant{'' if variants == 1 else 's'} {verb}, {report.pruned} old files pruned, "
        f"in {report.seconds:.2f} s."
    )
