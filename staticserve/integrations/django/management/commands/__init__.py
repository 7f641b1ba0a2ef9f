"""``collectstatic``: see :mod:`.collectstatic`."""
