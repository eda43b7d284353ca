"""Where the CLI finds the deployment and its key: COHORT_URL and COHORT_API_KEY, else the file
~/.config/cohort/config.toml (or $COHORT_CONFIG):

    url = "https://abc123.execute-api.eu-west-3.amazonaws.com/api"
    api_key = "ck_..."

The environment wins over the file, so one shell can point at another deployment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


class MissingSettings(Exception):
    """Neither the environment nor the config file says where to go."""


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str


def config_path() -> Path:
    explicit = os.environ.get("COHORT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "cohort" / "config.toml"


def load(url: str | None = None, api_key: str | None = None) -> Settings:
    """Explicit values, then the environment, then the config file."""
    path = config_path()
    stored: dict[str, str] = {}
    if path.is_file():
        with path.open("rb") as handle:
            stored = {k: str(v) for k, v in tomllib.load(handle).items()}
    url = url or os.environ.get("COHORT_URL") or stored.get("url")
    api_key = api_key or os.environ.get("COHORT_API_KEY") or stored.get("api_key")
    if not url or not api_key:
        raise MissingSettings(f"set COHORT_URL and COHORT_API_KEY, or write url and api_key in {path}")
    return Settings(url.rstrip("/"), api_key)
