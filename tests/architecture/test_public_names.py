"""The package's public names: one table (``kling_async._WHERE``) loads them on first use; the
imports type checkers read and ``__all__`` say the same; ``import kling_async`` loads nothing
else, so the command line starts (and takes a Ctrl-C) in a moment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import kling_async

from .._helpers import python_output

INIT = Path(kling_async.__file__)


def _type_checking_imports() -> dict[str, str]:
    tree = ast.parse(INIT.read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {
        alias.name: "." * node.level + (node.module or "")
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_table_the_typed_imports_and_all_agree() -> None:
    table = kling_async._WHERE  # the package's own table, read by its test
    assert _type_checking_imports() == table
    assert set(kling_async.__all__) == {"__version__", *table}
    for name in kling_async.__all__:  # every name loads, from the module the table says
        value = getattr(kling_async, name)
        if name != "__version__" and hasattr(value, "__module__"):
            assert value.__module__.startswith("kling_async"), name


def test_importing_the_package_loads_nothing_else() -> None:
    code = (
        "import sys, kling_async\n"
        "print(sorted(m for m in sys.modules if m.startswith('kling_async')))\n"
        "print('aiohttp' in sys.modules, 'attrs' in sys.modules)\n"
    )
    assert python_output(code).splitlines() == [
        "['kling_async', 'kling_async._version']",
        "False False",
    ]


def test_a_ctrl_c_while_the_command_line_loads_is_one_line_and_exit_130() -> None:
    """The entry point catches a KeyboardInterrupt raised while ``kling_async.cli`` loads
    (made certain here by an import hook, rather than by racing a signal)."""
    code = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'kling_async.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from kling_async._main import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert done.stderr == "interrupted while starting: nothing was done\n"
    assert done.stdout == ""
