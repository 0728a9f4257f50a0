"""``python -m kling_async.emulator``: the same as ``kling-async emulator``."""

from kling_async.cli import emulator_command

if __name__ == "__main__":
    emulator_command(prog_name="python -m kling_async.emulator")
