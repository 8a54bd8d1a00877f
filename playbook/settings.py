"""Settings: the handbook's rules of thumb as overridable defaults.

The defaults live in ``playbook/settings_default.toml`` (90 days to dormant, 48 hours to ship,
bad-review rate under 5%, fraud under 0.3%, ROI under 1 cut, ABC at 80% / 95% ...). A user's TOML
file overrides any of them, and a run can override single keys with dotted names. A key the
defaults do not know is an error that names the key, so a typo never silently falls back.
"""
from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import PlaybookError

DEFAULTS_PATH = Path(__file__).with_name("settings_default.toml")


class SettingsError(PlaybookError):
    """A settings file or override that the playbook cannot use."""


class Settings(Mapping):
    """Read-only nested settings; ``settings["lifecycle"]["dormant_days"]`` or
    ``settings.get_path("lifecycle.dormant_days")``."""

    def __init__(self, data: dict, sources: tuple[str, ...] = ()):
        self._data = data
        self.sources = sources

    def __getitem__(self, key):
        value = self._data[key]
        return Settings(value, self.sources) if isinstance(value, dict) else copy.deepcopy(value)

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f"Settings({self._data!r})"

    def get_path(self, dotted: str) -> Any:
        """The value at a dotted key such as ``"inventory.abc_cutoffs"``."""
        node: Any = self
        for part in dotted.split("."):
            node = node[part]
        return node

    def to_dict(self) -> dict:
        return copy.deepcopy(self._data)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"Settings file {path} does not exist.") from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"Settings file {path} is not valid TOML: {e}.") from None


def _merge(base: dict, override: Mapping, where: str, prefix: str = "") -> None:
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(f"{prefix}{k}" for k in base))
            raise SettingsError(f"Unknown setting {dotted!r} in {where}. Known keys here: {known}. "
                                "Check the spelling against playbook/settings_default.toml.")
        current = base[key]
        if isinstance(current, dict) and not _is_free_table(dotted):
            if not isinstance(value, Mapping):
                raise SettingsError(f"Setting {dotted!r} in {where} must be a table of keys, not {value!r}.")
            _merge(current, value, where, dotted + ".")
        else:
            if not isinstance(current, dict) and not _same_kind(current, value):
                raise SettingsError(f"Setting {dotted!r} in {where} should be like {current!r} "
                                    f"({type(current).__name__}), got {value!r}.")
            base[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)


def _is_free_table(dotted: str) -> bool:
    # tables whose keys are data (class names), not settings: overriding them replaces them whole
    return dotted in {"inventory.service_level"}


def _same_kind(default, value) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _dotted_to_nested(overrides: Mapping[str, Any]) -> dict:
    nested: dict = {}
    for dotted, value in overrides.items():
        node = nested
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def load_settings(path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """The defaults, updated by a user's TOML file and then by dotted per-run overrides.

    Parameters
    ----------
    path : a TOML file with any subset of the default keys, e.g. ``[lifecycle] dormant_days = 60``.
    overrides : ``{"lifecycle.dormant_days": 60}``.

    Raises
    ------
    SettingsError
        on a missing or malformed file, an unknown key or a value of the wrong kind.

    Examples
    --------
    >>> load_settings(overrides={"lifecycle.dormant_days": 60})["lifecycle"]["dormant_days"]
    60
    """
    data = _read_toml(DEFAULTS_PATH)
    sources = [str(DEFAULTS_PATH.name)]
    if path is not None:
        _merge(data, _read_toml(Path(path)), f"settings file {path}")
        sources.append(str(path))
    if overrides:
        _merge(data, _dotted_to_nested(overrides), "the run's overrides")
        sources.append("overrides")
    return Settings(data, tuple(sources))
