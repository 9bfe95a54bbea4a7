"""Errors a user can fix: reported as one line on stderr, exit code 2, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, with the fix.

    `str(err)` is a single line: "<problem>; <fix>". The CLI prints it as `error: ...` and exits
    with code 2; anything that is not a UserError is a bug and keeps its traceback.
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        text = problem if fix is None else f"{problem}; {fix}"
        super().__init__(" ".join(text.split()))


class TrainingDiverged(UserError):
    """The loss became NaN/inf: training stopped, the last good checkpoint is kept."""

    exit_code = 3
