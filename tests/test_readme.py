"""Every fenced block of README.md, executed or checked exactly as printed.

Project rule: a snippet that only looks right is how the Python API example came to crash, so
each block is one test case (id ``README.md:LINE-lang``) run through the handler that matches it
in ``HANDLERS``. A new block that no handler matches fails ``test_every_block_has_one_handler``
(and its own case), so the rule keeps holding as the README grows.

What "as printed" means per kind of block:

- ``sh``: each command line runs with ``shell=True`` in a fresh copy of a small project (an
  ``assets/`` tree and ``vendor/bootstrap/dist``); ``staticserve build`` lines must publish every
  source file. Commands that set up the machine itself are checked, not run (``SETUP_COMMANDS``
  says why for each); any other ``pip``/``apt-get`` line fails until it gets such a check.
- bare blocks after an ``sh`` block: that command's output; the real output must match it line
  by line, numbers and sizes aside.
- ``python``: whole files are written verbatim as modules and served by real servers on
  127.0.0.1 (uvicorn, gunicorn); fragments run in a subprocess with the smallest preamble the
  README implies (the imports and the ``app`` it names). Expression statements followed by a
  ``# 'value'`` comment must evaluate to a value of that shape.
- the Django section (handlers ``django*``, ``-k django``): one real project whose settings.py,
  wsgi.py/asgi.py and template hold the blocks verbatim, ``python manage.py collectstatic`` run
  as printed (its ``text`` block is its real output), ``manage.py check`` clean, served by
  gunicorn and uvicorn; the WhiteNoise ``diff`` applied to WhiteNoise's quick-start settings
  and the result built and served (tests/readme_django.py).
- ``html+jinja`` / ``html+django``: rendered through the integration they belong to; the result
  must be what the README says (the hashed URL and integrity value of the real build).
- ``toml``: loaded with ``load_config`` and built; ``json``: the manifest example must have the
  real manifest's keys and value types.
- ``yaml`` (GitHub Actions) and ``dockerfile``: parsed and checked (the cache step keeps the
  folder the build names; the mount's target is the build's ``--cache-dir``), and the build
  command run as printed in two clean checkouts sharing the cache: the second compresses nothing.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import staticserve
from staticserve.manifest import MANIFEST_NAME, Manifest
from staticserve.pipeline import build, load_config

from . import readme_django
from .conftest import server_process
from .pipeline.conftest import write_tree

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
IMMUTABLE = "public, max-age=31536000, immutable"
HASHED = re.compile(r"\.[0-9a-f]{12}\.")


# -- the blocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str  # the fence's info string; "" for a bare block
    text: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line}-{self.lang or 'text'}"


_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^`\s]*)\s*$")


def parse_blocks(markdown: str) -> list[Block]:
    """Every fenced code block (CommonMark: a closing fence of the same character, as long)."""
    lines = markdown.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(fence) and set(lines[end].strip()) == {fence[0]}
        ):
            end += 1
        if end == len(lines):
            raise AssertionError(f"README.md:{index + 1}: the fenced block is never closed")
        text = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(index + 1, opening["info"], text))
        index = end + 1
    return blocks


README_TEXT = README.read_text(encoding="utf-8")
BLOCKS = parse_blocks(README_TEXT)


def readme_pattern(example: str) -> re.Pattern[str]:
    """A README example value as a pattern: its example hash (12 hex digits between dots) stands
    for any hash, and an ellipsis ``…`` for the rest of a base64 or hex value."""
    parts = re.split(r"((?<=\.)[0-9a-f]{12}(?=\.)|…)", example)
    pattern = "".join(
        "[0-9a-f]{12}"
        if re.fullmatch("[0-9a-f]{12}", part)
        else "[A-Za-z0-9+/=]+"
        if part == "…"
        else re.escape(part)
        for part in parts
    )
    return re.compile(pattern)


# -- the project the blocks run in ------------------------------------------------------------

APP_CSS = '@import "base.css";\n.logo { background: url(../img/dot.png) no-repeat; }\n' + "".join(
    f".rule-{i} {{ margin: {i % 9}px; color: #{i * 4099 % 0xFFFFFF:06x}; }}\n" for i in range(60)
)
SOURCES: dict[str, str | bytes] = {
    "assets/css/app.css": APP_CSS,
    "assets/css/base.css": "html { font-family: sans-serif; line-height: 1.4; }\n" * 30,
    "assets/img/dot.png": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "assets/js/app.js": 'import { greet } from "./util.js";\n\ndocument.title = greet("README");\n'
    + "console.log('the README example module');\n" * 20,
    "assets/js/util.js": "export function greet(name) {\n  return `Hello, ${name}!`;\n}\n" * 10,
    "vendor/bootstrap/dist/css/bootstrap.css": ".btn { padding: 4px 8px; border: 0; }\n" * 80,
    "vendor/bootstrap/dist/js/bootstrap.js": "export const version = '5';\n" * 40,
    # What the README's project holds: a pyproject.toml whose [tool.staticserve] lists assets/
    # ("staticserve.build()  # [tool.staticserve] of ./pyproject.toml", development mode).
    "pyproject.toml": '[project]\nname = "app"\nversion = "1"\n\n'
    '[tool.staticserve]\nsources = ["assets"]\n',
}


def subprocess_env(*paths: Path, **extra: str) -> dict[str, str]:
    """The environment with this checkout's staticserve first on the import path."""
    python_path = [str(p) for p in (*paths, REPO)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(python_path), **extra}


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def only_block(marker: str) -> Block:
    """The one block that the handler named ``marker`` owns."""
    handler = next(h for h in HANDLERS if h.name == marker)
    (block,) = [b for b in BLOCKS if handler.matches(b)]
    return block


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``fresh(name)``: a new copy of the sources, for a block that writes."""

    def make(name: str) -> Path:
        return write_tree(tmp_path_factory.mktemp(name), SOURCES)

    return make


@pytest.fixture(scope="module")
def site(fresh: Callable[[str], Path]) -> Path:
    """The project the serving blocks share: sources built into static_build/, the FastAPI
    block as main.py, the Flask block as flask_app.py, the Jinja2 block as templates/page.html."""
    root = fresh("site")
    (root / "main.py").write_text(only_block("fastapi").text, encoding="utf-8")
    (root / "flask_app.py").write_text(only_block("flask").text, encoding="utf-8")
    (root / "templates").mkdir()
    (root / "templates/page.html").write_text(only_block("jinja").text, encoding="utf-8")
    staticserve.build(load_config(root / "pyproject.toml"))
    return root


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, timeout=10)


def check_hashed_asset(base_url: str, root: Path, logical: str) -> None:
    """The build's hashed URL of ``logical`` is served by ``base_url`` as the README promises."""
    manifest = Manifest.load(root / "static_build")
    reply = get(base_url + manifest.static_url(logical), **{"accept-encoding": "identity"})
    assert reply.status_code == 200, reply.text
    assert reply.content == (root / "static_build" / manifest.assets[logical].path).read_bytes()
    assert reply.headers["cache-control"] == IMMUTABLE
    assert "expires" in reply.headers
    assert get(base_url + "/static/" + logical).headers["cache-control"] == "public, max-age=60"


# -- sh blocks, and the output shown after them -----------------------------------------------


def check_demo_command(line: str, request: pytest.FixtureRequest) -> None:
    """``pip install -e '.[demo]' && python -m demo_app``."""
    assert "demo" in pyproject()["project"]["optional-dependencies"]
    run = subprocess.run(
        [sys.executable, "-m", "demo_app", "--help"],
        cwd=REPO,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    for option in ("--host", "--port", "--wsgi", "--dev", "127.0.0.1", "8000"):
        assert option in run.stdout  # "serves the demo on http://127.0.0.1:8000 (--host, --port)"
    # A copy of the demo's sources and configuration, so that the repository stays as it is.
    copy = request.getfixturevalue("tmp_path")
    for name in ("assets", "theme_overrides", "vendor"):
        shutil.copytree(REPO / "demo_app" / name, copy / name)
    shutil.copy(REPO / "demo_app/staticserve.toml", copy / "staticserve.toml")
    env = subprocess_env(STATICSERVE_DEMO_CONFIG=str(copy / "staticserve.toml"))

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "demo_app", "--port", str(port)]

    with server_process(command, "/", cwd=REPO, env=env) as url:
        page = get(url + "/")
        assert page.status_code == 200
        links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert links
        assert all(get(url + link).status_code == 200 for link in links)


def _words(line: str) -> list[str]:
    """A shell line's words; a line continued on the next (a trailing backslash) is no command."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return []


def check_test_command(line: str, request: pytest.FixtureRequest) -> None:
    """``apt-get … chromium nginx … varnish && pip install -e '.[test]' && python -m pytest``:
    what CI runs."""
    steps = [shlex.split(step) for step in line.split("&&")]
    assert "test" in pyproject()["project"]["optional-dependencies"]
    ci = (REPO / ".ci/run").read_text(encoding="utf-8")
    ci_commands = [_words(c) for c in ci.splitlines()]
    # The same test command: the interpreter (python or python3), then the same arguments.
    ci_pytest = [c for c in ci_commands if c[1:] == steps[-1][1:]]
    assert len(ci_pytest) == 1, "CI runs the README's test command"
    assert steps[-1][0].startswith("python")
    assert ci_pytest[0][0].startswith("python")
    # The same system packages (Chromium for the browser tests, nginx and its brotli_static
    # module for tests/test_nginx.py, Varnish for the publish tests), and the test extra among
    # CI's extras.
    assert steps[1][:3] == ["apt-get", "install", "-y"]
    (ci_packages,) = re.findall(r'^system_packages="([^"]+)"$', ci, re.M)
    assert set(steps[1][3:]) == set(ci_packages.split())
    assert {"chromium", "nginx", "libnginx-mod-http-brotli-static", "varnish"} <= set(steps[1][3:])
    assert re.search(r"apt-get install .*\$system_packages", ci)
    (readme_extras,) = re.findall(r"\.\[([\w,]+)\]", line)
    ci_extras = re.findall(r"pip install .*-e '\.\[([\w,]+)\]'", ci)
    assert ci_extras
    assert set(readme_extras.split(",")) <= set(ci_extras[0].split(","))


def check_install_name(line: str, request: pytest.FixtureRequest) -> None:
    """``pip install staticserve-assets``: the distribution's name, and the command it installs."""
    project = pyproject()["project"]
    assert shlex.split(line)[-1] == project["name"]
    # "staticserve" on the package index is an unrelated project of 2013: installing it by that
    # name would give the user somebody else's code.
    assert project["name"] != "staticserve"
    assert "staticserve" in project["scripts"]


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


# Commands whose effect is the set-up of the machine: running them from a test would install
# packages (or run the whole suite from inside itself, or serve until stopped), so a property a
# user can check stands in for each. Any other set-up-looking line fails until it is listed here.
SETUP_COMMANDS: dict[str, Callable[[str, pytest.FixtureRequest], None]] = {
    # Installs into the running environment, then serves on port 8000 until Ctrl+C: the extra
    # must exist and the demo must serve when started (on a free port, with --port).
    "pip install -e '.[demo]' && python -m demo_app": check_demo_command,
    # Installs system packages as root and runs the suite this test belongs to: the test
    # command must be the one .ci/run runs, with the same Chromium package and extra.
    "apt-get update && apt-get install -y chromium nginx libnginx-mod-http-brotli-static varnish && pip install -e '.[test]' && python -m pytest": check_test_command,
    # Downloads from PyPI: the name must be the one pyproject.toml publishes.
    "pip install staticserve-assets": check_install_name,
}
_SETUP_LOOKING = re.compile(r"\b(pip|apt-get|apt)\b|python3? -m (pytest|demo_app)")


def command_lines(block: Block) -> list[str]:
    joined = block.text.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shell_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ``PATH`` on which ``staticserve`` is this checkout's command."""
    path = os.environ.get("PATH", "")
    if shutil.which("staticserve") is None:  # not installed: the same command from this checkout
        script = tmp_path_factory.mktemp("bin") / "staticserve"
        bin_dir = script.parent
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m staticserve "$@"\n')
        script.chmod(0o755)
        path = f"{bin_dir}{os.pathsep}{path}"
    return path


@pytest.fixture(scope="module")
def run_command(fresh: Callable[[str], Path], shell_path: str) -> Callable[[str], tuple[Path, str]]:
    """``run_command(line)``: run a README command line once in a fresh copy of the sources;
    the copy and the standard output (the same for every caller)."""
    done: dict[str, tuple[Path, str]] = {}
    path = shell_path

    def run(line: str) -> tuple[Path, str]:
        if line not in done:
            cwd = fresh("command")
            result = subprocess.run(
                line,
                shell=True,
                cwd=cwd,
                env=subprocess_env(PATH=path),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
            done[line] = (cwd, result.stdout)
        return done[line]

    return run


def check_build_command(line: str, cwd: Path) -> None:
    """Every file of every ``--source DIR[=PREFIX]`` is in the manifest under PREFIX."""
    words = shlex.split(line.partition("#")[0])
    output = cwd / words[words.index("--output") + 1]
    manifest = Manifest.load(output)
    for flag, spec in itertools.pairwise(words):
        if flag != "--source":
            continue
        folder, _, prefix = spec.partition("=")
        for file in (cwd / folder).rglob("*"):
            if file.is_file():
                logical = "/".join(
                    p for p in (prefix, file.relative_to(cwd / folder).as_posix()) if p
                )
                assert logical in manifest.assets, f"{line}: {logical} was not published"
                assert HASHED.search(manifest.assets[logical].path)


def handle_sh(block: Block, request: pytest.FixtureRequest) -> None:
    run: Callable[[str], tuple[Path, str]] = request.getfixturevalue("run_command")
    for line in command_lines(block):
        if line in SETUP_COMMANDS:
            SETUP_COMMANDS[line](line, request)
            continue
        assert not _SETUP_LOOKING.search(line), f"{line!r}: add a check to SETUP_COMMANDS"
        cwd, _ = run(line)
        if line.startswith("staticserve build"):
            check_build_command(line, cwd)


_NUMBER = r"(\d+(?:\.\d+)? (?:B|KB|MB|GB)\b|\d+(?:\.\d+)?)"


def output_line_pattern(line: str) -> re.Pattern[str]:
    """A line of example output, any figure (a number or a size) standing for any other."""
    parts = re.split(_NUMBER, line)
    pattern = "".join(
        r"\d+(?:\.\d+)? (?:B|KB|MB|GB)"
        if " " in part and re.fullmatch(_NUMBER, part)
        else r"\d+(?:\.\d+)?"
        if re.fullmatch(_NUMBER, part)
        else re.escape(part)
        for part in parts
    )
    return re.compile(pattern)


def handle_output(block: Block, request: pytest.FixtureRequest) -> None:
    """A bare block right after an ``sh`` block shows what its command prints."""
    position = BLOCKS.index(block)
    assert position > 0, "output without a command before it"
    before = BLOCKS[position - 1]
    assert before.lang == "sh", "output without a command before it"
    (line,) = command_lines(before)
    run: Callable[[str], tuple[Path, str]] = request.getfixturevalue("run_command")
    _, stdout = run(line)
    shown, real = block.text.splitlines(), stdout.splitlines()
    assert len(real) == len(shown), f"real output:\n{stdout}"
    for example, actual in zip(shown, real, strict=True):
        assert output_line_pattern(example).fullmatch(actual), f"{example!r}\nreal: {actual!r}"


# -- CI and Docker set-ups (yaml, dockerfile) -------------------------------------------------

_COUNTS = re.compile(r"^  compressed (\d+), reused (\d+), restored (\d+) variants; ", re.M)


def build_in_two_clean_checkouts(command: str, request: pytest.FixtureRequest, **env: str) -> None:
    """``command`` run as printed, by the shell, in two fresh copies of the project (two CI
    runs, two image builds) sharing the home folder and so the cache: the second compresses
    nothing and publishes the same variants."""
    fresh: Callable[[str], Path] = request.getfixturevalue("fresh")
    home = request.getfixturevalue("tmp_path") / "home"
    home.mkdir()
    counts, outputs = [], []
    for _ in range(2):
        checkout = fresh("checkout")
        result = subprocess.run(
            command,
            shell=True,
            cwd=checkout,
            env=subprocess_env(PATH=request.getfixturevalue("shell_path"), HOME=str(home), **env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
        found = _COUNTS.search(result.stdout)
        assert found, result.stdout
        counts.append(tuple(int(n) for n in found.groups()))
        outputs.append(checkout / "static_build")
    (compressed, _, restored), again = counts
    assert compressed > 0
    assert restored == 0
    assert again == (0, 0, compressed)
    variants = [{p.relative_to(o): p.read_bytes() for p in o.rglob("*.br")} for o in outputs]
    assert variants[0]
    assert variants[0] == variants[1]


def handle_github_actions(block: Block, request: pytest.FixtureRequest) -> None:
    """The cache step keeps the folder the build step names, under a key that changes with the
    project's sources; the build step works from a clean checkout as printed."""
    import yaml  # the test extra's pyyaml

    cache_step, build_step = yaml.safe_load(block.text)
    assert re.fullmatch(r"actions/cache@v\d+", cache_step["uses"])
    settings = cache_step["with"]
    folder = settings["path"]
    assert settings["key"].startswith(settings["restore-keys"])
    (hashed,) = re.findall(r"\$\{\{ hashFiles\('([^']+)/\*\*'\) \}\}", settings["key"])
    assert hashed in tomllib.loads(str(SOURCES["pyproject.toml"]))["tool"]["staticserve"]["sources"]
    words = shlex.split(build_step["run"])
    assert words[:2] == ["staticserve", "build"]
    assert words[words.index("--cache-dir") + 1] == folder
    assert folder.startswith("~/")  # the shell expands it to $HOME, as the action does
    build_in_two_clean_checkouts(build_step["run"], request)
    assert (request.getfixturevalue("tmp_path") / "home" / folder[2:] / "CACHEDIR.TAG").is_file()


# BuildKit's options of a cache mount (Dockerfile reference, RUN --mount=type=cache).
_CACHE_MOUNT_OPTIONS = {"type", "id", "target", "dst", "destination", "ro", "readonly", "sharing", "from", "source", "mode", "uid", "gid"}  # fmt: skip


def handle_dockerfile(block: Block, request: pytest.FixtureRequest) -> None:
    """One RUN with a cache mount whose target is the build's --cache-dir; the command run as
    printed, the mount's target standing in a temporary folder (not this machine's /root)."""
    words = shlex.split(block.text.replace("\\\n", " "))
    assert words[0] == "RUN"
    kind, _, spec = words[1].partition("=")
    assert kind == "--mount"
    mount = dict(option.split("=", 1) for option in spec.split(","))
    assert set(mount) <= _CACHE_MOUNT_OPTIONS
    assert mount["type"] == "cache"
    command = words[2:]
    assert command[:2] == ["staticserve", "build"]
    assert command[command.index("--cache-dir") + 1] == mount["target"]
    stand_in = request.getfixturevalue("tmp_path") / "mount"
    line = shlex.join(command).replace(mount["target"], str(stand_in))
    build_in_two_clean_checkouts(line, request)
    assert (stand_in / "CACHEDIR.TAG").is_file()


# -- python blocks ---------------------------------------------------------------------------

# Runs a README snippet statement by statement, like the interpreter runs the file, and prints
# the value of each expression statement (a REPL would show it), so that ``# 'value'`` comments
# can be checked. Line numbers in tracebacks are README.md's.
_RUNNER = """
import ast, sys
preamble, snippet, first_line, epilogue = sys.argv[1:5]
namespace = {"__name__": "__main__"}
exec(compile(preamble, "<preamble>", "exec"), namespace)
tree = ast.parse(snippet)
ast.increment_lineno(tree, int(first_line) - 1)
for node in tree.body:
    if isinstance(node, ast.Expr):
        value = eval(compile(ast.Expression(node.value), "README.md", "eval"), namespace)
        print(f"@@{node.lineno} {value!r}", flush=True)
    else:
        exec(compile(ast.Module([node], type_ignores=[]), "README.md", "exec"), namespace)
exec(compile(epilogue, "<epilogue>", "exec"), namespace)
"""


@dataclass
class SnippetRun:
    stdout: str
    values: dict[int, str]  # README line -> repr of the expression statement's value
    printed: list[str]  # other lines of output


def run_snippet(
    code: str, first_line: int, cwd: Path, *, preamble: str = "", epilogue: str = ""
) -> SnippetRun:
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, preamble, code, str(first_line), epilogue],
        cwd=cwd,
        env=subprocess_env(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"the snippet at README.md:{first_line} failed\n{result.stderr}"
    values, printed = {}, []
    for line in result.stdout.splitlines():
        if match := re.fullmatch(r"@@(\d+) (.*)", line):
            values[int(match[1])] = match[2]
        else:
            printed.append(line)
    return SnippetRun(result.stdout, values, printed)


def check_value_comments(block: Block, run: SnippetRun) -> int:
    """``expression  # 'value'``: the expression's repr has the shape of the comment's."""
    checked = 0
    for offset, line in enumerate(block.text.splitlines()):
        code, _, comment = line.partition("  #")
        if not comment.strip().startswith(("'", '"')) or not code.strip():
            continue
        number = block.line + 1 + offset
        assert number in run.values, f"README.md:{number}: {code.strip()} printed no value"
        assert readme_pattern(comment.strip()).fullmatch(run.values[number]), (
            f"README.md:{number}: {code.strip()} is {run.values[number]}, the README says {comment}"
        )
        checked += 1
    return checked


def handle_fastapi(block: Block, request: pytest.FixtureRequest) -> None:
    """Written as main.py and served the way its last comment says: ``uvicorn main:static``."""
    pytest.importorskip("fastapi", reason="fastapi is a test dependency: pip install -e '.[test]'")
    root: Path = request.getfixturevalue("site")
    assert "`uvicorn main:static`" in block.text

    def command(port: int) -> list[str]:
        command = [sys.executable, "-m", "uvicorn", "main:static", "--host", "127.0.0.1"]
        return [*command, "--port", str(port), "--log-level", "warning"]

    with server_process(command, "/", cwd=root, env=subprocess_env()) as url:
        check_hashed_asset(url, root, "css/app.css")
        check_hashed_asset(url, root, "js/app.js")
        other = get(url + "/elsewhere")  # everything else is the app's: FastAPI's 404
        assert (other.status_code, other.json()) == (404, {"detail": "Not Found"})


def handle_flask(block: Block, request: pytest.FixtureRequest) -> None:
    """Written as flask_app.py and served by gunicorn, a WSGI server."""
    root: Path = request.getfixturevalue("site")

    def command(port: int) -> list[str]:
        command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
        return [*command, "--workers", "1", "--log-level", "warning", "flask_app:app"]

    with server_process(command, "/", cwd=root, env=subprocess_env()) as url:
        check_hashed_asset(url, root, "css/app.css")
        other = get(url + "/elsewhere")
        assert other.status_code == 404
        assert "Not Found" in other.text


def promised_rendering(block: Block) -> str:
    """The README's "renders `…`" right after a template block."""
    end = README_TEXT.splitlines()[block.line + block.text.count("\n") :]
    following = " ".join(end[:4])
    match = re.search(r"renders `([^`]+)`", following)
    assert match, f"{block.id}: no 'renders `…`' after the block"
    return match[1]


def handle_jinja(block: Block, request: pytest.FixtureRequest) -> None:
    """templates/page.html rendered by the FastAPI block's ``templates`` and Flask's
    ``app.jinja_env``, both set up by ``install`` as the README's blocks do."""
    pytest.importorskip("fastapi", reason="fastapi is a test dependency: pip install -e '.[test]'")
    root: Path = request.getfixturevalue("site")
    script = (
        "import flask, main, flask_app\n"
        "print(main.templates.get_template('page.html').render())\n"
        "print('@@@')\n"
        "with flask_app.app.app_context():\n"
        "    print(flask.render_template('page.html'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    promised = readme_pattern(promised_rendering(block))
    manifest = Manifest.load(root / "static_build")
    expected = (
        f'href="{manifest.static_url("css/app.css")}" '
        f'integrity="{manifest.integrity("css/app.css")}"'
    )
    for rendered in result.stdout.split("@@@"):
        flat = " ".join(rendered.split())
        found = promised.search(flat)
        assert found, f"rendered {flat!r}; the README says {promised_rendering(block)!r}"
        assert found[0] == expected


# -- the Django section (tests/readme_django.py holds the project and its checks) --------------


def _collectstatic_line() -> str:
    (line,) = command_lines(only_block("django-collectstatic"))
    return line


@pytest.fixture(scope="module")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> readme_django.DjangoProject:
    """A project whose settings.py, template and wsgi.py hold the section's blocks verbatim."""
    pytest.importorskip("django", reason="django is a test dependency: pip install -e '.[test]'")
    settings = only_block("django").text
    project = readme_django.make_project(
        tmp_path_factory.mktemp("django"), settings, only_block("django-template").text
    )
    readme_django.add_fast_path(project, settings, only_block("django-wsgi").text)
    return project


@pytest.fixture(scope="module")
def django_servers(django_project: readme_django.DjangoProject) -> Iterator[dict[str, str]]:
    django_project.collect(_collectstatic_line())
    with readme_django.servers(django_project) as urls:
        yield urls


def handle_django(block: Block, request: pytest.FixtureRequest) -> None:
    """settings.py as printed: ``check`` finds nothing after ``collectstatic``; the middleware
    serves the admin's hashed files immutable (and its login page links only those); with
    DEBUG the finders' files as they are, ``no-cache``."""
    project: readme_django.DjangoProject = request.getfixturevalue("django_project")
    servers: dict[str, str] = request.getfixturevalue("django_servers")
    project.shell("python manage.py check --fail-level WARNING")
    readme_django.check_served_hashed(servers["middleware"], project, "admin/css/base.css")
    readme_django.check_admin_page(servers["middleware"], project)
    import django.contrib.admin

    source = Path(django.contrib.admin.__file__).parent / "static/admin/css/base.css"
    dev = get(servers["dev"] + "/static/admin/css/base.css")
    assert (dev.status_code, dev.headers["cache-control"]) == (200, "no-cache")
    assert dev.content == source.read_bytes()


def handle_django_wsgi(block: Block, request: pytest.FixtureRequest) -> None:
    """The wsgi.py lines (gunicorn) and their asgi.py variant (uvicorn), with the settings
    block minus its MIDDLEWARE line: assets served by the wrapper, the rest by Django."""
    project: readme_django.DjangoProject = request.getfixturevalue("django_project")
    servers: dict[str, str] = request.getfixturevalue("django_servers")
    for name in ("wsgi", "asgi"):
        readme_django.check_served_hashed(servers[name], project, "admin/js/core.js")
        readme_django.check_admin_page(servers[name], project)
        assert get(servers[name] + "/elsewhere").status_code == 404  # Django's own 404


def handle_django_collectstatic(block: Block, request: pytest.FixtureRequest) -> None:
    """Run as printed in the project: every file the finders find is in the build, hashed."""
    project: readme_django.DjangoProject = request.getfixturevalue("django_project")
    project.collect(_collectstatic_line())
    found = project.python(
        "from django.contrib.staticfiles.finders import get_finders\n"
        "for finder in get_finders():\n"
        "    for path, _ in finder.list([]):\n"
        "        print(path)\n"
    )
    manifest = project.manifest
    assert found.split()
    for logical in found.split():
        assert logical in manifest.assets, f"{logical} was not published"
        if "." in logical.rpartition("/")[2]:  # a name without a suffix keeps it (LICENSE)
            assert HASHED.search(manifest.assets[logical].path), logical


def handle_django_collectstatic_output(block: Block, request: pytest.FixtureRequest) -> None:
    """What the command before prints on a first run, STATIC_ROOT's path aside."""
    assert BLOCKS[BLOCKS.index(block) - 1] == only_block("django-collectstatic")
    project: readme_django.DjangoProject = request.getfixturevalue("django_project")
    stdout = project.collect(_collectstatic_line())
    real = stdout.strip().replace(str(project.root / "staticfiles"), "/srv/app/staticfiles")
    shown = block.text.splitlines()
    assert len(real.splitlines()) == len(shown), f"real output:\n{stdout}"
    for example, actual in zip(shown, real.splitlines(), strict=True):
        assert output_line_pattern(example).fullmatch(actual), f"{example!r}\nreal: {actual!r}"


def handle_django_template(block: Block, request: pytest.FixtureRequest) -> None:
    """The page.html of the project: in production what the README says it renders, with the
    live build's URL and the integrity of the bytes served there; with DEBUG the plain URL."""
    project: readme_django.DjangoProject = request.getfixturevalue("django_project")
    servers: dict[str, str] = request.getfixturevalue("django_servers")
    promised = readme_pattern(promised_rendering(block))
    manifest = project.manifest
    for name in ("middleware", "wsgi", "asgi"):
        flat = " ".join(get(servers[name] + "/").text.split())
        found = promised.search(flat)
        assert found, f"{name} rendered {flat!r}"
        url = manifest.static_url("admin/css/base.css")
        assert found[0] == f'href="{url}" integrity="{manifest.integrity("admin/css/base.css")}"'
        assert manifest.integrity("admin/css/base.css") == sri(
            get(servers[name] + url, **{"accept-encoding": "identity"}).content
        )
    import django.contrib.admin

    source = Path(django.contrib.admin.__file__).parent / "static/admin/css/base.css"
    flat = " ".join(get(servers["dev"] + "/").text.split())
    assert f'href="/static/admin/css/base.css" integrity="{sri(source.read_bytes())}"' in flat


def handle_django_options(block: Block, request: pytest.FixtureRequest) -> None:
    """Appended to the settings block: ``check`` passes, ``collectstatic`` builds, and what each
    option says shows (unknown names link plain URLs, max_age, no CORS field)."""
    project: readme_django.DjangoProject = request.getfixturevalue("django_project")
    settings = project.root / "proj/settings_options.py"
    settings.write_text((project.root / "proj/settings.py").read_text() + block.text)
    env = {"DJANGO_SETTINGS_MODULE": "proj.settings_options"}
    project.shell("python manage.py collectstatic --noinput -v 0", **env)
    project.shell("python manage.py check --fail-level WARNING", **env)
    effects = json.loads(
        project.python(readme_django.OPTIONS_EFFECTS, settings="proj.settings_options")
    )
    assert effects["missing"] == "/static/no/such.css"  # manifest_strict False
    assert effects["plain"] == "public, max-age=300"
    assert effects["plain_origin"] is None  # allow_origin None
    assert (effects["status"], effects["hashed"]) == (200, IMMUTABLE)


def handle_whitenoise_diff(block: Block, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("django", reason="django is a test dependency: pip install -e '.[test]'")
    readme_django.check_whitenoise_diff(block.text, request.getfixturevalue("tmp_path"))
    section = README_TEXT.partition("### Moving from WhiteNoise")[2].partition("\n## ")[0]
    assert block.text in section
    readme_django.check_whitenoise_mapping(section)


# A request through the middleware the snippet made, from inside the snippet's process.
DEV_EPILOGUE = """
import asyncio, base64, hashlib, json, httpx
url = static.static_url("css/app.css")
if isinstance(static, StaticServeWSGI):
    with httpx.Client(transport=httpx.WSGITransport(app=static), base_url="http://t") as c:
        reply = c.get(url)
else:
    async def fetch():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=static), base_url="http://t") as c:
            return await c.get(url)
    reply = asyncio.run(fetch())
print(json.dumps({"url": url, "integrity": static.integrity("css/app.css"),
                  "status": reply.status_code, "cache_control": reply.headers.get("cache-control"),
                  "body": reply.text}))
"""
DEV_CSS = "/* config/staticserve.toml's own source */\nbody { color: teal; }\n"


def handle_dev(block: Block, request: pytest.FixtureRequest) -> None:
    """Each line runs on its own after the imports and an ``app`` of the kind it wraps (ASGI
    for StaticServe, WSGI for StaticServeWSGI); a request then goes through ``static``."""
    root: Path = request.getfixturevalue("site")
    write_tree(
        root,
        {
            "config/staticserve.toml": '[tool.staticserve]\nsources = ["../dev_assets"]\n',
            "dev_assets/css/app.css": DEV_CSS,
        },
    )
    lines = [line for line in block.text.splitlines() if line.strip()]
    assert len(lines) == 2
    for offset, line in enumerate(block.text.splitlines()):
        if not line.strip():
            continue
        wsgi = "StaticServeWSGI(" in line
        preamble = "from staticserve import StaticServe, StaticServeWSGI\n" + (
            "def app(environ, start_response):\n"
            "    start_response('404 Not Found', [('Content-Type', 'text/plain')])\n"
            "    return [b'app']\n"
            if wsgi
            else "async def app(scope, receive, send):\n    raise AssertionError('not reached')\n"
        )
        number = block.line + 1 + offset
        run = run_snippet(line, number, root, preamble=preamble, epilogue=DEV_EPILOGUE)
        reply = json.loads(run.printed[-1])
        # Without config: "[tool.staticserve] of ./pyproject.toml" (assets/); with it, that file.
        expected = DEV_CSS if "config=" in line else APP_CSS
        assert reply["url"] == "/static/css/app.css", number  # plain, unhashed
        assert (reply["status"], reply["cache_control"]) == (200, "no-cache"), number
        assert reply["body"] == expected, number
        assert reply["integrity"] == sri(expected.encode()), number


def handle_python_api(block: Block, request: pytest.FixtureRequest) -> None:
    """Runs as printed in a project whose ./pyproject.toml has a [tool.staticserve] table."""
    root = request.getfixturevalue("fresh")("python-api")
    write_tree(root, {"vendor/dist/lib.js": "export const lib = 1;\n"})  # the second source
    run = run_snippet(block.text, block.line + 1, root)
    assert (root / "static_build" / MANIFEST_NAME).is_file()  # build(): the table's output
    assert (root / "dist/static" / MANIFEST_NAME).is_file()  # build(output="dist/static")
    assert re.match(r"\d+ \d+ \(.*\) \{'output': ", run.printed[0]), run.printed
    assert check_value_comments(block, run) == 2
    manifest = Manifest.load(root / "static_build")
    *_, url, integrity = (run.values[line] for line in sorted(run.values))
    assert url == repr(manifest.static_url("css/app.css"))
    assert integrity == repr(manifest.integrity("css/app.css"))


# -- configuration and manifest --------------------------------------------------------------


def handle_fingerprinted_toml(block: Block, request: pytest.FixtureRequest) -> None:
    """Vite's names kept as they are, other names hashed, with the table as printed."""
    root = request.getfixturevalue("fresh")("fingerprinted")
    vite_js = "export const lazy = 1;\n" * 40
    write_tree(
        root,
        {
            "pyproject.toml": block.text + 'sources = ["assets"]\n',
            "assets/assets/index-B7x9Qz1k.js": vite_js,
            "assets/fonts/roboto-latin400.css": "body { font-weight: 400 }\n",
        },
    )
    config = load_config(root / "pyproject.toml")
    report = build(config)
    manifest = Manifest.load(report.output)
    assert manifest.assets["assets/index-B7x9Qz1k.js"].path == "assets/index-B7x9Qz1k.js"
    assert manifest.assets["fonts/roboto-latin400.css"].path != "fonts/roboto-latin400.css"


def handle_toml(block: Block, request: pytest.FixtureRequest) -> None:
    """As the pyproject.toml of a project with every folder and package it names."""
    root = request.getfixturevalue("fresh")("toml")
    write_tree(
        root,
        {
            "pyproject.toml": block.text,
            "assets/css/theme.scss": "$accent: teal;\n",
            "myapp/__init__.py": "",
            "myapp/static/myapp/widget.js": "export const widget = 1;\n" * 30,
            "myapp/static/css/app.css": "/* shadowed by assets/css/app.css */\n",
        },
    )
    table = tomllib.loads(block.text)["tool"]["staticserve"]
    script = (
        "import dataclasses, json\n"
        "from staticserve.pipeline import build, load_config\n"
        "config = load_config('pyproject.toml')\n"
        "report = build(config)\n"
        "settings = {f.name: str(getattr(config, f.name)) for f in dataclasses.fields(config)}\n"
        "print(json.dumps({'config': settings, 'output': str(report.output),\n"
        "                  'duplicates': [d.logical for d in report.duplicates]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=subprocess_env(root),  # myapp importable, as an installed package would be
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    config = facts["config"]
    assert Path(facts["output"]) == root.resolve() / table["output"]
    assert config["prefix"] == table["prefix"]
    assert config["encodings"] == str(tuple(table["encodings"]))
    assert config["ignore"] == str(tuple(table["ignore"]))  # added to the defaults
    for key in ("keep", "strict", "jobs", "rewrite_js", "min_size", "cache_max_size"):
        assert config[key] == str(table[key]), key
    assert config["cache_dir"] == table["cache_dir"]  # relative to the file's folder:
    assert (root / table["cache_dir"] / "CACHEDIR.TAG").is_file()
    assert facts["duplicates"] == ["css/app.css"]  # "myapp/static/ comes after the folders"
    manifest = Manifest.load(Path(facts["output"]))
    assert "bootstrap/css/bootstrap.css" in manifest.assets  # the {path, prefix} source
    assert "myapp/widget.js" in manifest.assets  # the package
    assert "css/theme.scss" not in manifest.assets  # ignore = ["*.scss"]
    assert "shadowed" not in (Path(facts["output"]) / "css/app.css").read_text()


def json_type(value: Any) -> str:
    return type(value).__name__


def handle_manifest_json(block: Block, request: pytest.FixtureRequest) -> None:
    """The example against a real manifest with a current and a retained css/app.css."""
    example = json.loads(block.text)
    root = request.getfixturevalue("fresh")("manifest")
    config = load_config(root / "pyproject.toml")
    staticserve.build(config)
    (root / "assets/css/app.css").write_text(APP_CSS + "p { margin: 0; }\n", encoding="utf-8")
    staticserve.build(config)
    text = (root / "static_build" / MANIFEST_NAME).read_text(encoding="utf-8")
    real = json.loads(text)
    assert set(example) == set(real)
    assert {k: json_type(v) for k, v in example.items()} == {
        k: json_type(v) for k, v in real.items()
    }
    assert (example["version"], example["prefix"]) == (real["version"], real["prefix"])
    created = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert created.fullmatch(example["created"])
    assert created.fullmatch(real["created"])
    # The retained build stopped being live when the current one was published.
    assert real["superseded"] == {
        str(g["generation"]): real["created"] for g in real["retained"].values()
    }
    assert all(created.fullmatch(t) for t in example["superseded"].values())
    # Values the example cuts short with "…": a start of the same alphabet as the real value.
    assert re.fullmatch(r"[0-9a-f]{64}", real["content_hash"])
    assert re.fullmatch(r"[0-9a-f]+…", example["content_hash"])

    (shown,) = example["assets"].values()
    current = real["assets"]["css/app.css"]
    assert set(shown) == set(current)
    assert {k: json_type(v) for k, v in shown.items()} == {
        k: json_type(v) for k, v in current.items()
    }
    assert re.fullmatch(r"[0-9a-f]{64}", current["sha256"])
    assert re.fullmatch(r"[0-9a-f]{12,}…", shown["sha256"])
    assert re.fullmatch(r"sha384-[A-Za-z0-9+/]{64}", current["integrity"])
    assert re.fullmatch(r"sha384-[A-Za-z0-9+/]+…", shown["integrity"])
    for record in (shown, current):
        assert record["path"] == f"css/app.{record['sha256'][:12]}.css"
        assert set(record["encodings"]) <= {"br", "gzip", "zstd"}
        assert all(isinstance(size, int) for size in record["encodings"].values())
    assert current["generation"] == real["generation"]  # changed in this build, as shown
    assert shown["generation"] == example["generation"]

    ((shown_key, shown_old),) = example["retained"].items()
    ((real_key, real_old),) = real["retained"].items()
    # "same fields plus logical"; the example elides some of them as "…": "…".
    assert set(real_old) == set(current) | {"logical"}
    assert set(shown_old) - {"…"} <= set(real_old)
    for key, old, record in ((shown_key, shown_old, shown), (real_key, real_old, current)):
        assert key == old["path"]
        assert old["logical"] == "css/app.css"
        assert old["generation"] < record["generation"]
    # "Keys are sorted": in the real file (the example puts version first, for reading).
    pairs: list[list[str]] = []
    json.loads(text, object_pairs_hook=lambda items: pairs.append([k for k, _ in items]) or {})
    assert all(keys == sorted(keys) for keys in pairs)


# -- scaling out -------------------------------------------------------------------------------

_ELIDED = re.compile(r"^\s*# …")


def handle_nginx_conf(block: Block, request: pytest.FixtureRequest) -> None:
    """An excerpt of what the ``staticserve nginx-conf`` command just before it prints: each
    run of lines between ``# …`` lines appears, whole and in order, in the real output."""
    before = BLOCKS[BLOCKS.index(block) - 1]
    assert before.lang == "sh", "the nginx block follows the command that prints it"
    (line,) = command_lines(before)
    assert line.startswith("staticserve nginx-conf ")
    run: Callable[[str], tuple[Path, str]] = request.getfixturevalue("run_command")
    _, stdout = run(line)
    assert stdout == staticserve.nginx_conf("/srv/static_build", "/static/")
    real = stdout.splitlines()
    chunks: list[list[str]] = [[]]
    for shown in block.text.splitlines():
        if _ELIDED.match(shown):
            chunks.append([])
        else:
            chunks[-1].append(shown)
    position = 0
    for chunk in filter(None, chunks):
        found = next(
            (i for i in range(position, len(real)) if real[i : i + len(chunk)] == chunk), None
        )
        assert found is not None, "not in the output (in this order):\n" + "\n".join(chunk)
        position = found + len(chunk)
    assert real[0].startswith("# Generated by `staticserve nginx-conf`")
    assert block.text.splitlines()[-1] == real[-1] == "}"


URL_BASE_EPILOGUE = """
import asyncio, httpx
async def fetch():
    transport = httpx.ASGITransport(app=static)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(static.static_url("css/app.css").replace(
            "https://cdn.example.com", ""))
reply = asyncio.run(fetch())
print(reply.status_code, reply.headers["cache-control"])
"""


def handle_url_base(block: Block, request: pytest.FixtureRequest) -> None:
    """Runs after the import and an ASGI ``app``, over the README project's build; the CDN's
    path is then served locally (origin mode)."""
    root: Path = request.getfixturevalue("site")
    preamble = (
        "from staticserve import StaticServe\n"
        "async def app(scope, receive, send):\n    raise AssertionError('not reached')\n"
    )
    run = run_snippet(
        block.text, block.line + 1, root, preamble=preamble, epilogue=URL_BASE_EPILOGUE
    )
    assert check_value_comments(block, run) == 1
    manifest = Manifest.load(root / "static_build")
    (url,) = run.values.values()
    assert url == repr("https://cdn.example.com" + manifest.static_url("css/app.css"))
    assert run.printed[-1] == f"200 {IMMUTABLE}"


# -- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handler:
    name: str
    lang: str  # the fence's info string this handler takes
    marker: str  # a regex the block must contain: which block of that language it owns
    check: Callable[[Block, pytest.FixtureRequest], None]
    xfail: str | None = None  # a README bug not fixed yet: strict, so a fix shows

    def matches(self, block: Block) -> bool:
        return block.lang == self.lang and re.search(self.marker, block.text, re.M) is not None


HANDLERS = [
    Handler("sh", "sh", r"\A(?!python manage\.py )", handle_sh),
    Handler("output", "", r"", handle_output),
    Handler("fastapi", "python", r"^from fastapi import FastAPI$", handle_fastapi),
    Handler("flask", "python", r"^from flask import Flask$", handle_flask),
    Handler("jinja", "html+jinja", r"", handle_jinja),
    Handler("django", "python", r"^# settings\.py$", handle_django),
    Handler("django-wsgi", "python", r"^# wsgi\.py ", handle_django_wsgi),
    Handler(
        "django-collectstatic",
        "sh",
        r"\Apython manage\.py collectstatic --noinput$",
        handle_django_collectstatic,
    ),
    Handler(
        "django-collectstatic-output",
        "text",
        r"static files copied to '",
        handle_django_collectstatic_output,
    ),
    Handler("django-template", "html+django", r"", handle_django_template),
    Handler(
        "django-options",
        "python",
        r'^STORAGES\["staticfiles"\]\["OPTIONS"\] = ',
        handle_django_options,
    ),
    Handler("django-whitenoise-diff", "diff", r"whitenoise", handle_whitenoise_diff),
    Handler("dev", "python", r"dev=True", handle_dev),
    Handler("python-api", "python", r"^import staticserve$", handle_python_api),
    Handler(
        "fingerprinted",
        "toml",
        r"\A\[tool\.staticserve\]\nfingerprinted = ",
        handle_fingerprinted_toml,
    ),
    Handler("toml", "toml", r"\A\[tool\.staticserve\]\nsources = ", handle_toml),
    Handler("manifest", "json", r'^ "version": 1,$', handle_manifest_json),
    Handler("nginx-conf", "nginx", r"^location \^~ /static/ \{$", handle_nginx_conf),
    Handler("url-base", "python", r'url_base="https://', handle_url_base),
    Handler("github-actions", "yaml", r"^- uses: actions/cache@", handle_github_actions),
    Handler("dockerfile", "dockerfile", r"^RUN --mount=type=cache,", handle_dockerfile),
]


def handlers_of(block: Block) -> list[Handler]:
    return [handler for handler in HANDLERS if handler.matches(block)]


def _case(block: Block) -> Any:
    found = handlers_of(block)
    marks = [
        pytest.mark.xfail(strict=True, reason=h.xfail) for h in found[:1] if h.xfail is not None
    ]
    # The handler's name too, so that ``-k django`` selects the Django section (tox's django envs).
    names = "+".join(h.name for h in found)
    return pytest.param(block, id=f"{block.id}:{names}", marks=marks)


def test_every_block_has_one_handler() -> None:
    """A new fenced block needs a handler in HANDLERS (so it is executed or checked too)."""
    orphans = [b.id for b in BLOCKS if len(handlers_of(b)) != 1]
    assert not orphans, f"blocks without exactly one handler: {orphans}"
    unused = [h.name for h in HANDLERS if not any(h.matches(b) for b in BLOCKS)]
    assert not unused, f"handlers that match no block (was it changed?): {unused}"


@pytest.mark.parametrize("block", [_case(b) for b in BLOCKS])
def test_readme_block(block: Block, request: pytest.FixtureRequest) -> None:
    found = handlers_of(block)
    assert len(found) == 1, (
        f"{block.id}: {len(found)} handlers; see test_every_block_has_one_handler"
    )
    found[0].check(block, request)


def test_the_readme_has_the_blocks_the_handlers_expect() -> None:
    """The parser itself: every fence opened is closed, and block ids are unique."""
    assert len(BLOCKS) >= 14
    assert len({b.id for b in BLOCKS}) == len(BLOCKS)
    fences = [line for line in README_TEXT.splitlines() if _FENCE.match(line)]
    assert len(fences) == 2 * len(BLOCKS)
