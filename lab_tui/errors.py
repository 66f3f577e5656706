"""The one error family users see: a problem they can fix, with a message that says what and how.

The CLI prints it on stderr and exits 1, the app shows it as a notification; neither shows a
traceback for it. Raise a subclass where the problem is found.
"""


class UserError(Exception):
    """A message for a person (already in plain words); not a bug."""
