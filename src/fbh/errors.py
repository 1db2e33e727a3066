"""What ``fbh`` exits with, and the errors that carry an exit code.

Documented exit codes (README, "Exit codes and recovery"):

====  ======================================================================
0     success
1     an audit found a mismatch, or a model failed verification
2     bad input: an option, a file, or an unusable run directory
3     the run was interrupted (Ctrl-C, a killed chain node, a crash); it can
      be continued with ``fbh run --resume RUN_DIR``
====  ======================================================================

Every error the command line reports is one or two lines: what is wrong
and what to do about it.  Tracebacks are shown only with ``fbh --debug``.
"""

from __future__ import annotations

import enum

__all__ = [
    "BadInput",
    "ExitCode",
    "FbhError",
    "RunInterrupted",
    "UnusableRunDir",
    "VerificationFailed",
]


class ExitCode(enum.IntEnum):
    """Process exit status of every ``fbh`` command."""

    OK = 0
    VERIFICATION_FAILED = 1
    BAD_INPUT = 2
    INTERRUPTED = 3


class FbhError(Exception):
    """A failure the user can act on: a message, a hint and an exit code.

    Args:
      message: what is wrong (one line).
      hint: what to do about it (one line; optional).
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def lines(self) -> list[str]:
        return [self.message] + ([self.hint] if self.hint else [])


class BadInput(FbhError):
    """An option or input file is invalid (exit 2)."""


class UnusableRunDir(FbhError):
    """A run directory is missing, incomplete or corrupt for what was asked (exit 2)."""


class VerificationFailed(FbhError):
    """An audit or model verification failed (exit 1)."""

    exit_code = ExitCode.VERIFICATION_FAILED


class RunInterrupted(FbhError):
    """A run stopped before it finished; ``fbh run --resume`` continues it (exit 3)."""

    exit_code = ExitCode.INTERRUPTED


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def describe(exc: BaseException, command: str) -> tuple[ExitCode, list[str]]:
    """The exit code and the one or two lines ``fbh COMMAND`` prints for ``exc``.

    Errors of the libraries fbh drives (chain state, datasets, files, the OS)
    are user-facing: a missing manifest, a corrupt dataset file or a full
    disk is bad input (2).  Anything else is unexpected: an interrupted run
    (3, resumable) for ``run``, bad input otherwise.
    """
    import errno

    from fbh.chain.errors import ChainConfigError, ChainStateError, RevertError
    from fbh.data import ChecksumError, CorruptFileError, DatasetNotFoundError, DownloadError

    if isinstance(exc, FbhError):
        return exc.exit_code, exc.lines()
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, ["interrupted"]
    if isinstance(exc, (ChainStateError, ChainConfigError)):
        return ExitCode.BAD_INPUT, [_one_line(exc)]
    if isinstance(exc, (DatasetNotFoundError, DownloadError, ChecksumError, CorruptFileError)):
        return ExitCode.BAD_INPUT, [_one_line(exc), "check --data-dir / $FBH_DATA_DIR (see README, Data)"]
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES):
        where = f" ({exc.filename})" if exc.filename else ""
        return ExitCode.BAD_INPUT, [f"cannot write{where}: {exc.strerror}", "free space or fix permissions"]
    if isinstance(exc, (ValueError, OSError)) and not isinstance(exc, RevertError):
        return ExitCode.BAD_INPUT, [_one_line(exc)]
    code = ExitCode.INTERRUPTED if command == "run" else ExitCode.BAD_INPUT
    return code, [f"unexpected {type(exc).__name__}: {_one_line(exc)}",
                  "rerun with `fbh --debug ...` for the traceback"]
