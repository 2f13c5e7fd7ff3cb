"""Errors the user sees. Each message is one line: what is wrong, and what to do."""


class CoregError(Exception):
    """A problem with the input or the data that the user can act on (exit code 2, no traceback)."""


class CoregCancelledError(Exception):
    """The run was cancelled through the cancel callback."""
