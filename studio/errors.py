"""The one exception type for mistakes a user can make and fix."""


class StudioError(Exception):
    """A user-facing error: the message names the input and the fix, and is printed on one line."""

    exit_code = 2
