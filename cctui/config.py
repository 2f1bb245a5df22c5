"""Where cctui keeps things, and the user's config file.

Data directory: ``--data-dir``, else ``$CCTUI_DATA_DIR``, else platformdirs' user data dir
+ ``/cctui``. Config: ``$CCTUI_CONFIG``, else the user config dir + ``/cctui/config.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from cctui.errors import InputError


def resolve_data_dir(option: str | os.PathLike | None = None) -> Path:
    """The data directory to use, created if missing."""
    raw = option or os.environ.get("CCTUI_DATA_DIR") or Path(platformdirs.user_data_dir("cctui"))
    path = Path(raw).expanduser()
    if path.is_symlink() and not path.exists():
        raise InputError(f"data directory {path}: it is a symbolic link to {os.readlink(path)}, "
                         "which does not exist.")
    try:
        # 0700: the data may hold credentials (only the last part; parents as usual)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"data directory {path}: it exists and is not a directory.") from None
    except NotADirectoryError:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a directory" if blocker else "a part of the path is a file"
        raise InputError(f"data directory {path}: cannot create it ({reason}).") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"data directory {path}: cannot create it ({reason.lower()}).") from None
    return path


def config_path() -> Path:
    raw = os.environ.get("CCTUI_CONFIG")
    if raw:
        return Path(raw).expanduser()
    return Path(platformdirs.user_config_dir("cctui")) / "config.toml"


@dataclass
class Config:
    """The parsed config file. Unknown keys are kept so that saving never drops them."""

    path: Path
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def theme(self) -> str | None:
        return self.raw.get("theme")

    @property
    def keymap(self) -> dict[str, str]:
        return dict(self.raw.get("keymap", {}))

    @property
    def saved_filters(self) -> dict[str, str]:
        """Named filter queries (``[filters]``), shown in the sidebar and palette."""
        return dict(self.raw.get("filters", {}))

    @property
    def base_url(self) -> str | None:
        """Base of the ``((url))`` tag: a link to a record is ``base_url + id``."""
        return self.raw.get("base_url")

    @property
    def records(self) -> dict[str, Any]:
        """``[records]``: optional ``feedback_types``, ``statuses``, ``severities``."""
        return dict(self.raw.get("records", {}))

    @property
    def delivery(self) -> dict[str, Any]:
        """``[delivery]``: optional ``retry_schedule`` (seconds), ``breaker_threshold``."""
        return dict(self.raw.get("delivery", {}))

    @property
    def themes_dir(self) -> Path:
        """User themes (``*.toml``) live beside the config file."""
        return self.path.parent / "themes"

    def set(self, key: str, value: Any) -> None:
        """Set a top-level key and write the file atomically."""
        self.raw[key] = value
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(self.raw), encoding="utf-8")
        os.replace(tmp, self.path)


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file is an empty config, a broken one an error."""
    path = path or config_path()
    if not path.exists():
        return Config(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: the config file is not valid TOML ({exc}).") from None
    return Config(path, raw)
