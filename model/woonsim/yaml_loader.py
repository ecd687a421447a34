"""The one YAML loader of woonsim: every file (scenario, experiment, calibration,
national) is read by `read_yaml`, in one dialect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from woonsim.errors import ScenarioError

__all__ = ["parse_yaml", "read_yaml"]


# --- YAML with a friendlier float syntax -----------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e5` and `2E-3` as floats (YAML 1.1 wants `1.0e5`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, where: str = "input") -> Any:
    """Parse YAML text; a syntax error becomes a one-line `ScenarioError`."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise ScenarioError(f"{where}: invalid YAML{at}: {problem}") from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file; a missing, unreadable or malformed file is a `ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read file ({err.__class__.__name__})") from None
    return parse_yaml(text, str(path))
