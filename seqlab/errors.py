"""The one exception type for user errors, and how its messages quote what the user gave."""

SHOWN_CHARS = 80  # a value quoted in a message is cut here (a hostile value may be huge)


def shown(value, limit: int = SHOWN_CHARS, plain: bool = False) -> str:
    """How a message quotes a value the user gave: its repr (``plain``: as it is), cut to
    ``limit`` characters with an ellipsis, so a huge value cannot make a huge message."""
    text = str(value) if plain else repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shown_path(path, limit: int = 200) -> str:
    """A path as a message names it: whole, or (past ``limit`` characters) its start and its
    end, which holds the file's name, around an ellipsis."""
    text = str(path)
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "…" + text[-half:]


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
