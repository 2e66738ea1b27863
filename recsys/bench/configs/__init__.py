"""The benchmark configs that ship with recsys, as package data, found by name.

``recsys bench --config quick`` reads ``quick.toml`` from this folder wherever recsys is
installed (the folder is declared as package data, so a non-editable install has it too);
``recsys bench --list`` prints every config here with its one-line description.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import NamedTuple

__all__ = ["CONFIG_DIR", "ShippedConfig", "shipped_configs", "shipped_config"]

#: The folder of the shipped ``*.toml`` configs (this package).
CONFIG_DIR = Path(__file__).resolve().parent


class ShippedConfig(NamedTuple):
    """A shipped config: the name ``--config`` takes, its file, and its one-line description."""

    name: str
    path: Path
    description: str


def shipped_configs() -> list[ShippedConfig]:
    """Every shipped config, by name."""
    return [ShippedConfig(p.stem, p, _description(p))
            for p in sorted(CONFIG_DIR.glob("*.toml"), key=lambda p: p.stem)]


def shipped_config(name_or_path: str | Path) -> Path:
    """The config file ``name_or_path`` means: the file itself if it exists, else, for a bare
    name (``quick`` or ``quick.toml``), the shipped config of that name.

    Raises :class:`~recsys.bench.config.ConfigError` when there is neither, naming the shipped
    configs for a bare name.
    """
    from recsys.bench.config import ConfigError

    p = Path(name_or_path)
    if p.is_file():
        return p
    bare = len(p.parts) == 1
    if bare:
        for candidate in (CONFIG_DIR / p.name, CONFIG_DIR / f"{p.name}.toml"):
            if candidate.is_file():
                return candidate
        names = ", ".join(c.name for c in shipped_configs())
        raise ConfigError(str(p), "", f"no such config file, and no shipped config of that "
                          f"name (shipped: {names}; see recsys bench --list)")
    raise ConfigError(str(p), "", "no such config file")


def _description(path: Path) -> str:
    """``[bench].description``, else the first comment line, else ""."""
    text = path.read_text(encoding="utf-8")
    try:
        description = tomllib.loads(text).get("bench", {}).get("description")
    except (tomllib.TOMLDecodeError, AttributeError):
        description = None
    if isinstance(description, str) and description.strip():
        return " ".join(description.split())
    for line in text.splitlines():
        if line.startswith("#") and line.lstrip("#").strip():
            return line.lstrip("#").strip()
    return ""
