"""The Django app: system checks registered when Django starts."""

from __future__ import annotations

from django.apps import AppConfig


class StaticServeConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    name = "staticserve.integrations.django"
    label = "staticserve"
    verbose_name = "staticserve"

    def ready(self) -> None:
        from django.core import checks
        from django.core.signals import setting_changed

        from .checks import check_settings

        checks.register(check_settings)
        setting_changed.connect(_settings_changed, dispatch_uid="staticserve-settings")


def _settings_changed(setting: str, **kwargs: object) -> None:
    from .conf import forget

    if setting in {"STATICSERVE", "STATIC_ROOT", "STATIC_URL", "DEBUG", "STATICFILES_DIRS"}:
        forget()
