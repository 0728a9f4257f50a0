"""What ``animate`` shows: the live display or a line per outcome, the ``--json`` records,
the summary and the exit code it makes."""

from .display import Display
from .statuses import Duplicate, status_of
from .summary import Tally, exit_code, nothing_left_line

__all__ = ["Display", "Duplicate", "Tally", "exit_code", "nothing_left_line", "status_of"]
