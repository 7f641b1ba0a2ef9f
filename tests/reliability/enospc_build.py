"""``staticserve build`` on a simulated disk that is full after ``RELIAB_DISK_FREE`` bytes.

``python -m tests.reliability.enospc_build build ...`` is the fallback of the full-disk tests
when no small filesystem can be mounted (mounting a tmpfs needs root): every ``os.write`` (the
only call the build writes files with) past the budget fails with ENOSPC, as the kernel would.
Once the file named by ``RELIAB_DISK_FULL_FLAG`` exists (a test creates it while the build is
frozen, see :mod:`tests.paused_build`), nothing more fits.
"""

from __future__ import annotations

import errno
import os
import sys

_write = os.write


def install_full_disk() -> None:
    """Make this process's ``os.write`` run out of space as the environment says."""
    free = [int(os.environ["RELIAB_DISK_FREE"])]
    flag = os.environ.get("RELIAB_DISK_FULL_FLAG")

    def limited_write(fd: int, data: bytes | memoryview, /) -> int:
        if flag and os.path.exists(flag):
            free[0] = 0
        if len(data) > free[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = _write(fd, data)
        free[0] -= written
        return written

    os.write = limited_write


if __name__ == "__main__":
    install_full_disk()
    from staticserve.cli import main

    sys.argv[0] = "staticserve"
    main()
