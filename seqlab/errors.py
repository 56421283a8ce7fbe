"""The one exception type for user errors."""


class SeqlabError(Exception):
    """A user error: a bad file, config key, argument or model path.

    The message names the file and line, or the config key, and what was expected.
    The CLI prints it as one red line on stderr and exits with status 2; bugs still
    raise ordinary exceptions with tracebacks.

    Args:
        message: the one line to show.
        argument: the library argument that would fix it (``encoding``, ``max_length``...),
            when there is one; the CLI adds the flag or config key that sets it.
    """

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class Interrupted(SeqlabError):
    """Training stopped by Ctrl-C after ``epoch`` finished epochs (0: none yet, nothing to
    resume). The CLI says how to go on; exit status 130."""

    def __init__(self, epoch: int, output, message: str | None = None) -> None:
        done = f"after epoch {epoch}" if epoch else "before the first epoch ended"
        super().__init__(message or f"interrupted {done}")
        self.epoch = epoch
        self.output = output
