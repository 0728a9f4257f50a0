"""``python -m kling_async``: the same as the ``kling-async`` command."""

from kling_async.cli import main

if __name__ == "__main__":
    main(prog_name="kling-async")
