"""The one exception type the CLI turns into a clear message (no traceback)."""


class RobustclapError(Exception):
    """A user-facing error: bad input, an unreachable model, a refused configuration."""
