"""Ctrl-C that stops a running DuckDB query within a moment and leaves no half step.

Python runs a SIGINT handler only when the main thread is between bytecodes, and a DuckDB query
keeps the main thread inside C++ for as long as it runs (a fetch into Arrow never looks at
signals at all). So `install()`, which the CLI calls, sets up two things:

- a SIGINT handler that records the request and raises KeyboardInterrupt in the main thread, so
  the step's transaction rolls back and `ops.runs` says the step was interrupted;
- a watcher thread woken by the signal itself (`signal.set_wakeup_fd`), which calls `interrupt()`
  on every open warehouse connection (thread-safe in DuckDB): the running query ends at once with
  an InterruptException instead of running to completion.

A COMMIT is never interrupted (`deferred()`): a Ctrl-C during one takes effect right after it, so
a step is either wholly written or not at all.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import weakref
from typing import Any, Iterator

log = logging.getLogger(__name__)

_connections: weakref.WeakSet[Any] = weakref.WeakSet()  # a connection nobody closed may still go
_lock = threading.Lock()
_state = {"requested": False, "deferred": 0, "pending": False}
_installed: dict[str, Any] = {}


def register(connection: Any) -> None:
    """Interrupt this DuckDB connection's running query on Ctrl-C (until `unregister`)."""
    with _lock:
        _connections.add(connection)


def unregister(connection: Any) -> None:
    with _lock:
        _connections.discard(connection)


def requested() -> bool:
    """True once Ctrl-C was pressed in this invocation: whatever error follows is its consequence."""
    return _state["requested"]


def _interrupt_all() -> None:
    with _lock:
        connections = list(_connections)
    for con in connections:
        with contextlib.suppress(Exception):
            con.interrupt()


def _handler(signum: int, frame: object) -> None:
    _state["requested"] = True
    if _state["deferred"]:
        _state["pending"] = True
        return
    raise KeyboardInterrupt


def _watch(sock: socket.socket) -> None:
    while True:
        try:
            data = sock.recv(64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data:
            _state["requested"] = True
            if not _state["deferred"]:
                _interrupt_all()


def install() -> None:
    """Take over SIGINT for this process (main thread only; elsewhere it does nothing)."""
    _state.update(requested=False, pending=False, deferred=0)
    if threading.current_thread() is not threading.main_thread() or _installed:
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        previous_handler = signal.signal(signal.SIGINT, _handler)
    except (ValueError, OSError) as exc:  # not the main interpreter, or no signals here
        log.debug("Ctrl-C handling not installed: %s", exc)
        reader.close(), writer.close()
        return
    threading.Thread(target=_watch, args=(reader,), name="martops-interrupt-watcher", daemon=True).start()
    _installed.update(fd=previous_fd, handler=previous_handler, reader=reader, writer=writer)


def uninstall() -> None:
    """Give SIGINT back to whoever had it (tests run the CLI in-process, many times)."""
    if not _installed:
        return
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, _installed["handler"])
        signal.set_wakeup_fd(_installed["fd"])
    _installed["writer"].close()
    with contextlib.suppress(OSError):
        _installed["reader"].shutdown(socket.SHUT_RDWR)
    _installed["reader"].close()
    _installed.clear()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """No interrupt inside the block (a COMMIT); a Ctrl-C pressed meanwhile raises right after it."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1
    if not _state["deferred"] and _state["pending"]:
        _state["pending"] = False
        raise KeyboardInterrupt
