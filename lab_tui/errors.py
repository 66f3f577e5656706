"""The one error family users see: a problem they can fix, with a message that says what and how.

Raise a subclass where the problem is found. The CLI (`cli.main`) prints its message on stderr and
exits with its `exit_code`; the app's one worker-error handler shows its `title` and message as a
notification; neither shows a traceback for it. A subclass that other code also catches as a
built-in kind (`FlowError` as a ValueError) lists that kind as a second base.
"""

EXIT_FAILED = 1
"""What could not be done or completed (README: a run that could not complete, a missing run)."""
EXIT_USAGE = 2
"""What was asked cannot be done as asked, found before anything is stored (README: usage errors)."""


class UserError(Exception):
    """A message for a person (already in plain words); not a bug."""

    title = "lab-tui"
    """A few words saying what went wrong, shown above the message (the app's notification title)."""
    exit_code = EXIT_FAILED
