"""Run the ``aigc`` command in-process and capture what it prints (for plugin authors' tests).

``run_aigc("plugins", "--json")`` returns a :class:`CliResult` with the exit code and the
captured output, whatever way the command ended: a returned code, ``sys.exit`` (argparse's
usage errors exit with 2) or an error the command reports on one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io


@dataclasses.dataclass(frozen=True)
class CliResult:
    """Outcome of one in-process ``aigc`` invocation."""

    ret: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        """The ``aigc ...: error: ...`` lines written to stderr."""
        return [line for line in self.stderr.splitlines() if ": error: " in line]


def run_aigc(*args: str) -> CliResult:
    """Run ``aigc ARGS...`` in this process, using the current default registry."""
    from aigc_sdk.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ret = main(list(args))
        except SystemExit as exc:  # argparse --help / usage errors
            code = exc.code
            ret = code if isinstance(code, int) else (0 if code is None else 1)
    return CliResult(int(ret), out.getvalue(), err.getvalue())
