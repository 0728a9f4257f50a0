"""What ``animate`` shows: the live display or a line per outcome, the ``--json`` records,
the summary and the exit code it makes."""

from .display import Display
from .statuses import Duplicate, status_of
from .summary import Tally, exit_code

__all__ = ["Display", "Duplicate", "Tally", "exit_code", "status_of"]
