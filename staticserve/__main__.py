"""``python -m staticserve`` is the ``staticserve`` command."""

from .cli import main

main()
