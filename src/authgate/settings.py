"""The settings' older import path: the very objects of `authgate.conf`, re-exported."""

from .conf import (
    DEFAULTS,
    DURATIONS,
    IMPORT_STRINGS,
    NESTED,
    RELOADING_SETTINGS,
    REMOVED_SETTINGS,
    APISettings,
    api_settings,
)

__all__ = [
    "DEFAULTS",
    "DURATIONS",
    "IMPORT_STRINGS",
    "NESTED",
    "RELOADING_SETTINGS",
    "REMOVED_SETTINGS",
    "APISettings",
    "api_settings",
]
