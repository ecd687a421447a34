"""The errors woonsim raises on purpose, in one hierarchy.

Every message of a `WoonsimError` is one line that names the field (or file) and the
problem; the command line prints it as `woonsim: error: <message>` and exits with status 2.
"""

from __future__ import annotations

__all__ = ["DataError", "InvariantError", "ScenarioError", "WoonsimError"]


class WoonsimError(Exception):
    """Base of every error woonsim raises on purpose."""


class ScenarioError(WoonsimError, ValueError):
    """An input file (scenario, experiment, calibration or national file) that cannot be
    used; the message is one line: `field: problem`."""


class DataError(WoonsimError, ValueError):
    """Calibration data that are missing or inconsistent; the message is one line naming
    the file, and the row and column where one is at fault."""


class InvariantError(WoonsimError, AssertionError):
    """A run broke an invariant (flow conservation, double letting, stock accounting)."""
