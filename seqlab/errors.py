"""The one exception type for user errors."""


class SeqlabError(Exception):
    """A user error: a bad file, config key, argument or model path.

    The message names the file and line, or the config key, and what was expected.
    The CLI prints it as one red line on stderr and exits with status 2; bugs still
    raise ordinary exceptions with tracebacks.
    """


class Interrupted(SeqlabError):
    """Training stopped by Ctrl-C; the message says how to resume. Exit status 130."""
