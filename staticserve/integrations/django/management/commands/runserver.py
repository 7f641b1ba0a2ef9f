"""``manage.py runserver`` that serves static files through staticserve.

``django.contrib.staticfiles`` replaces Django's ``runserver`` with one that serves
``STATIC_URL`` from the finders itself, bypassing whatever the project serves with. Django
takes a command from the first app in ``INSTALLED_APPS`` that has one, so with
``staticserve.integrations.django`` listed before ``django.contrib.staticfiles`` this command
wins: Django's own ``runserver``, with the project's application served by staticserve — as
it is when ``StaticServeMiddleware`` is in ``MIDDLEWARE`` or ``WSGI_APPLICATION`` is already
wrapped with ``wrap_wsgi``, else wrapped here. With ``DEBUG = True`` that serves the finders'
files as they are, as staticfiles' ``runserver`` did, with staticserve's HTTP.

``--nostatic`` serves no static files (the project's application alone); ``--insecure`` is
accepted for scripts written for staticfiles' command and changes nothing: staticserve serves
whatever ``DEBUG`` is.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.runserver import Command as RunserverCommand

from ... import wrap_wsgi


class Command(RunserverCommand):  # type: ignore[misc]  # Django ships no type hints
    help = (
        "Starts a lightweight web server for development, static files served by staticserve "
        "(from the finders' folders when DEBUG is True)."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--nostatic",
            action="store_false",
            dest="use_static_handler",
            help="Do not serve static files with staticserve.",
        )
        parser.add_argument(
            "--insecure",
            action="store_true",
            dest="insecure_serving",
            help="Accepted for compatibility; staticserve serves static files whatever DEBUG is.",
        )

    def get_handler(self, *args: Any, **options: Any) -> Any:
        from django.conf import settings

        from .....wsgi import StaticServeWSGI

        handler = super().get_handler(*args, **options)
        if not options.get("use_static_handler", True) or isinstance(handler, StaticServeWSGI):
            return handler
        middleware = [str(entry) for entry in getattr(settings, "MIDDLEWARE", None) or ()]
        if any(entry.endswith("StaticServeMiddleware") for entry in middleware):
            return handler
        return wrap_wsgi(handler)
