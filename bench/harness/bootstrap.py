"""Make the machine ready: Debian tools, the benchmark venv, then re-run inside that venv."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.paths import REPO_DIR, REQUIREMENTS, VENV_DIR, VENV_PYTHON

APT_PACKAGES = ("wrk", "nginx", "libnginx-mod-http-brotli-static")
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
_STAMP = VENV_DIR / ".bench-requirements"


def tools_missing() -> list[str]:
    missing = [name for name in ("wrk", "nginx", "taskset") if shutil.which(name) is None]
    if not BROTLI_MODULE.exists():
        missing.append(str(BROTLI_MODULE))
    return missing


def ensure_tools() -> None:
    """Install wrk and nginx with its brotli_static module from Debian when missing."""
    if not tools_missing():
        return
    print(f"installing {' '.join(APT_PACKAGES)} with apt-get", flush=True)
    command = ["apt-get", "install", "-y", "-q", *APT_PACKAGES]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(command, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    still = tools_missing()
    if still:
        raise SystemExit(f"Error: still missing after apt-get: {', '.join(still)}")


def _requirements_stamp() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update((REPO_DIR / "pyproject.toml").read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Create bench/.venv and install the peers and staticserve (editable) into it."""
    stamp = _requirements_stamp()
    if VENV_PYTHON.exists() and _STAMP.exists() and _STAMP.read_text() == stamp:
        return
    if not VENV_PYTHON.exists():
        print(f"creating {VENV_DIR}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    print("installing the peers and staticserve into the benchmark venv", flush=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS), "-e", str(REPO_DIR)], check=True)
    _STAMP.write_text(stamp)


def running_in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def reexec_in_venv(script: Path, argv: list[str]) -> None:
    """Replace this process with the same command run by the venv's interpreter."""
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(script), *argv])
