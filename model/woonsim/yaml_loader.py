"""The one YAML loader of woonsim: every file (scenario, experiment, calibration,
national) is read by `read_yaml`, in one dialect.

Besides YAML syntax it refuses, with a one-line `ScenarioError` naming the key:
- a key given twice in one mapping (YAML would keep the last one silently);
- a number that is not finite (`.inf`, `.nan`, `1e400`);
- nesting deeper than `MAX_DEPTH` levels, documents of more than `MAX_NODES` values
  (aliases counted at each use) and files larger than `MAX_BYTES`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from woonsim.errors import ScenarioError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "parse_yaml", "read_yaml"]

MAX_DEPTH = 32  # levels of nesting (the deepest woonsim file has 4)
MAX_NODES = 200_000  # values in a document, an alias counted at each use
MAX_BYTES = 4_000_000  # bytes of one file


class _Refused(Exception):
    """A well-formed document woonsim does not accept (`where: problem`)."""


# --- YAML with a friendlier float syntax -----------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e5` and `2E-3` as floats (YAML 1.1 wants `1.0e5`),
    refuses duplicate keys, and bounds the nesting depth while composing (before
    Python's recursion limit is reached)."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
            return Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, ScalarNode):
                    continue  # a complex key: the constructor says why it is refused
                key = self.construct_object(key_node)
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    raise _Refused(
                        f"{key}: key given twice in one mapping (lines "
                        f"{seen[key] + 1} and {key_node.start_mark.line + 1})"
                    )
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


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


def _size(node, memo: dict) -> int:
    """Values in a node, an alias (a node reached twice) counted at each use; a node
    that contains itself (a recursive alias) is refused."""
    key = id(node)
    if key in memo:
        if memo[key] is None:
            raise _Refused(f"line {node.start_mark.line + 1}: a recursive alias")
        return memo[key]
    memo[key] = None  # in progress
    n = 1
    if isinstance(node, SequenceNode):
        n += sum(_size(x, memo) for x in node.value)
    elif isinstance(node, MappingNode):
        n += sum(_size(k, memo) + _size(v, memo) for k, v in node.value)
    memo[key] = n
    return n


def _non_finite(data: Any, path: str = "") -> str | None:
    """The path of the first number that is not finite, or None."""
    stack = [(data, path)]
    while stack:
        x, where = stack.pop()
        if isinstance(x, float) and not math.isfinite(x):
            return where or "document"
        if isinstance(x, dict):
            stack += [(v, f"{where}.{k}" if where else str(k)) for k, v in x.items()]
        elif isinstance(x, list):
            stack += [(v, f"{where}[{i}]") for i, v in enumerate(x)]
    return None


def parse_yaml(text: str, where: str = "input") -> Any:
    """Parse YAML text; a syntax error, a duplicate key, a number that is not finite or
    a document too deep or too large becomes a one-line `ScenarioError`."""
    loader = None
    try:
        loader = _Loader(text)  # reads the text: refuses control characters at once
        node = loader.get_single_node()
        if node is not None and _size(node, {}) > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES:,} values (aliases counted at each use)")
        data = loader.construct_document(node) if node is not None else None
    except _Refused as err:
        raise ScenarioError(f"{where}: {err}") from None
    except ConstructorError as err:
        mark = err.problem_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{where}: invalid YAML{at}: {err.problem}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise ScenarioError(f"{where}: invalid YAML{at}: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()
    bad = _non_finite(data)
    if bad is not None:
        raise ScenarioError(f"{bad}: input should be a finite number")
    return data


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file; a missing, unreadable, too large or malformed file is a
    `ScenarioError`."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ScenarioError(f"{path}: larger than {MAX_BYTES:,} bytes, not a woonsim file")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read file ({err.__class__.__name__})") from None
    return parse_yaml(text, str(path))
