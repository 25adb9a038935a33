"""Settings from the environment (and an optional `.env` file), via pydantic-settings.

Each area owns a small settings class derived from `AppSettings`; every class registers itself so that the
README's configuration table can be generated from the code (`python -m bot config-table`) and never drifts.
Secrets only ever come from the environment (or Key Vault references resolved by App Service)."""
from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

_REGISTERED: list[type["AppSettings"]] = []

T = TypeVar("T", bound="AppSettings")


class AppSettings(BaseSettings):
    """Base class: reads the environment, ignores unknown variables, case-sensitive names as documented."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False, populate_by_name=True)
    section: ClassVar[str] = "general"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTERED.append(cls)


def registered_settings() -> list[type[AppSettings]]:
    return list(_REGISTERED)


@lru_cache(maxsize=None)
def _cached(cls: type[T]) -> T:
    return cls()


def get(cls: type[T]) -> T:
    """The process-wide instance of a settings class (read once). Tests build instances directly instead."""
    return _cached(cls)


def clear_cache() -> None:
    _cached.cache_clear()


def csv_list(value: str | None) -> list[str]:
    """Split a comma/space separated environment value into a clean list."""
    if not value:
        return []
    return [p.strip() for p in value.replace("\n", ",").replace(" ", ",").split(",") if p.strip()]


class Settings:
    """The settings of one app, each class read from the environment once (on first use) and then shared: the
    composition root builds one and hands it to every skill through `services.settings`. Tests put their own
    instances with `put` (or pass them to the constructor)."""

    def __init__(self, *instances: AppSettings) -> None:
        self._by_class: dict[type, AppSettings] = {type(i): i for i in instances}

    def get(self, cls: type[T]) -> T:
        inst = self._by_class.get(cls)
        if inst is None:
            inst = cls()
            self._by_class[cls] = inst
        return inst  # type: ignore[return-value]

    def put(self, instance: AppSettings) -> None:
        self._by_class[type(instance)] = instance
