"""Ctrl-C that is not lost.

Python delivers SIGINT as a KeyboardInterrupt raised wherever the interpreter happens to be.
When that is a finaliser — numba's compiler runs llvmlite's ``__del__`` methods while it
compiles a kernel — the exception is printed as "Exception ignored" and dropped, and the run
goes on as if nothing was pressed (CI saw ``fpsim train`` finish with exit 0 after a Ctrl-C).

:func:`remembered_sigint` installs a handler that raises as usual *and* remembers the request;
the training and evaluation loops call :func:`checkpoint`, which raises again if a request is
pending, so a swallowed interrupt stops the run at the next step instead of never.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

_pending = False


def _request(signum, frame):
    global _pending
    _pending = True
    raise KeyboardInterrupt


def checkpoint() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C arrived (inside :func:`remembered_sigint`) and was
    swallowed on its way; otherwise do nothing (one global read)."""
    if _pending:
        raise KeyboardInterrupt


def pending() -> bool:
    return _pending


@contextmanager
def remembered_sigint():
    """While inside, SIGINT raises KeyboardInterrupt and is remembered for :func:`checkpoint`.
    Outside the main thread (where signals cannot be handled), or where SIGINT is ignored, it
    changes nothing."""
    global _pending
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        # a process started to ignore Ctrl-C (nohup, a background job of a script) keeps
        # ignoring it, as Python itself does
        yield
        return
    _pending = False
    old = signal.signal(signal.SIGINT, _request)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        _pending = False
