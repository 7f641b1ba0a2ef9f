"""``manage.py collectstatic`` with ``ManifestStorage``: the finders' files go to staticserve's
build -- Django's precedence, duplicates reported, prefixes, custom finders -- and the options
Django users know behave as they expect. Each test makes a real project and runs the command
in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from staticserve.manifest import Manifest

from .conftest import check_live_build
from .django_project import APP_CSS, Project, make_project

HASHED = r"[0-9a-f]{12}"

# A finder whose storage is not a folder: its files live in a dict (a database, a bucket...).
MEMORY_FINDER = """
import io
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

FILES = {"memo/hello.css": b"p { margin: 0 }", "memo/img/dot.png": b"\\x89PNG" + bytes(2000)}

class MemoryStorage(Storage):
    def open(self, name, mode="rb"):
        return ContentFile(FILES[name], name=name)
    def listdir(self, path):
        return [], []
    def path(self, name):
        raise NotImplementedError("not on disk")

class MemoryFinder(BaseFinder):
    def check(self, **kwargs):
        return []
    def find(self, path, find_all=False, **kwargs):
        return []
    def list(self, ignore_patterns):
        for name in FILES:
            yield name, MemoryStorage()
"""

FINDERS = """
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "memofinder.MemoryFinder",
]
"""


def manifest(project: Project) -> Manifest:
    return Manifest.load(project.static_root)


def built_bytes(project: Project, logical: str) -> bytes:
    return (project.static_root / manifest(project).assets[logical].path).read_bytes()


def test_collectstatic_builds_the_finders_files_into_static_root(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = project.collectstatic()
    assert re.fullmatch(rf"shop/app\.{HASHED}\.css", manifest(project).assets["shop/app.css"].path)
    assert built_bytes(project, "shop/app.css") == APP_CSS.encode()
    assert (project.static_root / (manifest(project).assets["shop/app.css"].path + ".gz")).exists()
    assert f"1 static file copied to '{project.static_root}', 1 post-processed." in done.stdout
    check_live_build(project.static_root)


def test_a_staticfiles_dirs_file_shadows_an_apps_file_and_the_duplicate_is_reported(
    tmp_path: Path,
) -> None:
    project = make_project(
        tmp_path,
        settings='STATICFILES_DIRS = [BASE_DIR / "assets"]',
        files={"assets/shop/app.css": "/* the project's own */\n"},
    )
    done = project.collectstatic()
    assert built_bytes(project, "shop/app.css") == b"/* the project's own */\n"
    app_copy = tmp_path / "shop/static/shop/app.css"
    assert (
        "Found another file with the destination path 'shop/app.css' "
        f"({app_copy}); it is ignored: the first one found ({tmp_path / 'assets/shop/app.css'}) "
        "is collected." in done.stdout
    )


def test_staticfiles_dirs_prefixes_and_hostile_names(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        settings='STATICFILES_DIRS = [("vendor lib", BASE_DIR / "vendor"), BASE_DIR / "my assets"]',
        files={
            "vendor/ünï €.css": 'a { background: url("my logo.png") }',
            "vendor/my logo.png": b"\x89PNG" + bytes(100),
            "my assets/a b/c#d.js": "export const x = 1;\n",
        },
    )
    project.collectstatic()
    assets = manifest(project).assets
    assert {"vendor lib/ünï €.css", "vendor lib/my logo.png", "a b/c#d.js"} <= set(assets)
    logo = assets["vendor lib/my logo.png"].path.rsplit("/", 1)[1]
    assert (
        built_bytes(project, "vendor lib/ünï €.css")
        == f'a {{ background: url("{logo}") }}'.encode()
    )
    [css, js] = project.static("vendor lib/ünï €.css", "a b/c#d.js")
    assert re.fullmatch(rf"/static/vendor%20lib/%C3%BCn%C3%AF%20%E2%82%AC\.{HASHED}\.css", css)
    assert re.fullmatch(rf"/static/a%20b/c%23d\.{HASHED}\.js", js)


def test_a_custom_finder_whose_storage_is_not_a_folder_is_collected(tmp_path: Path) -> None:
    project = make_project(tmp_path, settings=FINDERS, files={"memofinder.py": MEMORY_FINDER})
    project.collectstatic()
    assert built_bytes(project, "memo/hello.css") == b"p { margin: 0 }"
    assert built_bytes(project, "memo/img/dot.png") == b"\x89PNG" + bytes(2000)


def test_ignore_patterns_and_no_default_ignore(tmp_path: Path) -> None:
    files = {"shop/static/shop/.keep": "", "shop/static/shop/src.scss": "$x: 1;"}
    project = make_project(tmp_path, files=files)
    project.collectstatic("--ignore", "*.scss")
    assert set(manifest(project).assets) == {"shop/app.css"}
    project.collectstatic("--no-default-ignore")
    assert set(manifest(project).assets) == {"shop/.keep", "shop/app.css", "shop/src.scss"}


def test_a_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.collectstatic()
    before = project.snapshot()
    time.sleep(0.01)  # a file rewritten would show a newer mtime
    done = project.collectstatic()
    assert project.snapshot() == before
    assert f"0 static files copied to '{project.static_root}', 1 unmodified." in done.stdout


def test_verbosity_0_prints_nothing_and_2_names_each_file(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    quiet = project.collectstatic("-v", "0")
    assert (quiet.stdout, quiet.stderr) == ("", "")
    project.write({"shop/static/shop/app.css": "body { color: #456; }\n"})
    loud = project.collectstatic("-v", "2")
    hashed = manifest(project).assets["shop/app.css"].path
    assert f"Post-processed 'shop/app.css' as '{hashed}'" in loud.stdout


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    first = project.collectstatic("--dry-run")
    assert not project.static_root.exists()
    assert "Pretending to write 'shop/app." in first.stdout
    assert "would be written" in first.stdout  # a dry run writes no variant
    assert "variants written" not in first.stdout
    project.collectstatic()
    before = project.snapshot()
    project.write({"shop/static/shop/new.css": "b { }"})
    project.collectstatic("--dry-run", "--clear")
    assert project.snapshot() == before


def test_clear_builds_afresh_and_drops_earlier_builds(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.collectstatic()
    old = project.static_root / manifest(project).assets["shop/app.css"].path
    project.write({"shop/static/shop/app.css": "body { color: #789; }\n"})
    project.collectstatic()
    assert old.exists()  # kept for pages cached with the earlier build
    project.collectstatic("--clear")
    assert not old.exists()
    assert manifest(project).retained == {}
    check_live_build(project.static_root)


def test_an_earlier_collectstatics_copies_are_refused_then_cleared(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.write({"collected/admin/css/base.css": "old copy", "collected/staticfiles.json": "{}"})
    refused = project.collectstatic(check=False)
    assert refused.returncode == 1
    assert "holds files but no staticserve build" in refused.stderr
    assert "collectstatic --clear" in refused.stderr
    assert "Traceback" not in refused.stderr
    project.collectstatic("--clear")
    assert not (project.static_root / "admin").exists()
    assert not (project.static_root / "staticfiles.json").exists()
    check_live_build(project.static_root)


def test_link_is_refused_with_a_reason(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = project.collectstatic("--link", check=False)
    assert done.returncode == 1
    assert "--link: staticserve's build publishes fingerprinted, compressed copies" in done.stderr
    assert "Traceback" not in done.stderr
    assert not project.static_root.exists()


def test_a_build_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    project = make_project(tmp_path, storage_options='{"strict": True}')
    project.write({"shop/static/shop/app.css": "a { background: url(missing.png) }"})
    done = project.collectstatic(check=False)
    assert done.returncode == 1
    assert "CommandError: 1 broken reference(s); nothing was published" in done.stderr
    assert "Traceback" not in done.stderr


# A finder listed last that stalls before it lists its one file: collectstatic is killed while
# it waits, after every other file has been found (Django's own command has copied them all).
BLOCKING_FINDER = """
import os, time
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

class BlockingFinder(BaseFinder):
    def check(self, **kwargs):
        return []
    def find(self, path, find_all=False, **kwargs):
        return []
    def list(self, ignore_patterns):
        open(os.environ["BLOCK_MARKER"], "w").close()
        time.sleep(120)
        yield "zz/last.css", FileSystemStorage(location=os.environ["BLOCK_DIR"])
"""


@pytest.mark.parametrize("storage", ["staticserve", "django"])
def test_a_collectstatic_killed_midway_leaves_the_live_build_whole_and_no_plain_copies(
    tmp_path: Path, storage: str
) -> None:
    """With Django's ManifestStaticFilesStorage, STATIC_ROOT holds plain copies of every file
    found before the kill (the control); with staticserve's it holds the previous build, whole."""
    backend = {
        "staticserve": "staticserve.integrations.django.ManifestStorage",
        "django": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    }[storage]
    project = make_project(
        tmp_path,
        storage_options="{}",
        settings=(
            f'STORAGES["staticfiles"] = {{"BACKEND": "{backend}"}}\n'
            'STATICFILES_DIRS = [BASE_DIR / "assets"]'
        ),
        files={"assets/new/added.css": "i { }", "block/zz/last.css": "z { }"},
    )
    if storage == "staticserve":
        (tmp_path / "assets/new/added.css").rename(tmp_path / "added.css")
        project.collectstatic()  # the live build, without new/added.css
        (tmp_path / "added.css").rename(tmp_path / "assets/new/added.css")
        live = (project.static_root / "staticserve.json").read_bytes()
    project.write({"blockfinder.py": BLOCKING_FINDER})
    project.write(
        {
            "proj/settings.py": (tmp_path / "proj/settings.py").read_text()
            + 'STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder",'
            ' "django.contrib.staticfiles.finders.AppDirectoriesFinder",'
            ' "blockfinder.BlockingFinder"]\n'
        }
    )
    marker = tmp_path / "reading-last"
    env = {**project.env(), "BLOCK_MARKER": str(marker), "BLOCK_DIR": str(tmp_path / "block")}
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "collectstatic", "--noinput"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, "collectstatic ended before reading the last file"
            assert time.monotonic() < deadline, "collectstatic never reached the last file"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    plain = project.static_root / "new/added.css"
    if storage == "django":
        assert plain.exists()  # the control: Django's command copies first
        return
    assert not plain.exists()
    assert not list(project.static_root.glob("new/added.*"))
    assert (project.static_root / "staticserve.json").read_bytes() == live
    check_live_build(project.static_root)


def test_under_djangos_own_command_the_storage_still_builds_without_copies(
    tmp_path: Path,
) -> None:
    """The integration listed after django.contrib.staticfiles: Django's command runs; the
    storage writes no plain copy and builds from post_process; --clear still starts afresh."""
    project = make_project(tmp_path)
    settings = (tmp_path / "proj/settings.py").read_text()
    installed = '["django.contrib.staticfiles", "shop", "staticserve.integrations.django"]'
    project.write({"proj/settings.py": settings + f"INSTALLED_APPS = {installed}\n"})
    done = project.collectstatic()
    assert "post-processed" in done.stdout
    hashed = manifest(project).assets["shop/app.css"].path
    assert built_bytes(project, "shop/app.css") == APP_CSS.encode()
    project.write({"shop/static/shop/app.css": "body { color: #abc; }\n"})
    project.collectstatic()
    assert (project.static_root / hashed).exists()  # the earlier build kept
    project.collectstatic("--clear")
    assert not (project.static_root / hashed).exists()
    check_live_build(project.static_root)


def test_the_build_settings_come_from_the_storage_options(tmp_path: Path) -> None:
    project = make_project(tmp_path, storage_options='{"encodings": ["gzip"], "keep": 1}')
    project.write({"shop/static/shop/app.css": "body { color: #123; }\n" * 50})
    project.collectstatic()
    asset = manifest(project).assets["shop/app.css"]
    assert set(asset.encodings) == {"gzip"}
    bad = make_project(tmp_path / "bad", storage_options='{"encodigns": ["br"]}')
    done = bad.collectstatic(check=False)
    assert done.returncode == 1
    assert "unknown option 'encodigns'" in done.stderr


def test_standalone_staticserve_build_still_works_next_to_a_django_project(tmp_path: Path) -> None:
    """Standalone ``staticserve build`` keeps working next to a Django project."""
    project = make_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "staticserve", "build", "--source", "shop/static", "--json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["files"] == 1
    assert (project.root / "static_build/staticserve.json").exists()


def test_finder_files_lists_the_winning_file_of_each_path_in_finder_order(tmp_path: Path) -> None:
    """What the development mode serves: the files collectstatic would collect, on disk."""
    project = make_project(
        tmp_path,
        settings=FINDERS + 'STATICFILES_DIRS = [("pre", BASE_DIR / "dirs"), BASE_DIR / "own"]',
        files={"memofinder.py": MEMORY_FINDER, "dirs/a.js": "a", "own/shop/app.css": "mine"},
    )
    listed = project.python(
        "from staticserve.integrations.django.finders import finder_files\n"
        "result = [[logical, str(path)] for logical, path in finder_files()]"
    )
    assert listed == [
        ["pre/a.js", str(tmp_path / "dirs/a.js")],
        ["shop/app.css", str(tmp_path / "own/shop/app.css")],  # the app's copy shadowed
    ]  # and the memory finder's files, on no disk, are not listed


def test_a_dry_run_over_earlier_copies_says_what_the_real_run_says(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.write({"collected/admin/css/base.css": "old copy"})
    refused = project.collectstatic("--dry-run", check=False)
    assert refused.returncode == 1
    assert "holds files but no staticserve build" in refused.stderr
    assert "collectstatic --clear" in refused.stderr
