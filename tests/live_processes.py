"""Real servers and real Socket.IO clients for the tests that need them.

:class:`ServerProcess` runs ``python app.py`` (gevent, websockets: what ``python app.py`` serves in
the embedded mode) in a subprocess on a free port, against the database and environment a test
gives it; it can be killed with SIGKILL and started again on the same port and database.

:class:`Tablet` is python-socketio's own client with an API token, recording every event it
receives in the order the server sent them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import engineio
import socketio

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python app.py`` in a subprocess, listening on ``127.0.0.1:<port>``.

    ``env`` is added to this process's environment; keys set to None are removed from it (so a
    test's ``REDIS_URL`` or ``DATABASE_URL`` never leaks into a server by accident). Output goes
    to ``log_path``, whose tail is shown when the server fails to start.
    """

    def __init__(self, env: dict[str, str | None], log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.env = {key: value for key, value in os.environ.items()
                    if key not in {"DATABASE_URL", "REDIS_URL", "CABINET_ASYNC_MODE", "CABINET_PORT",
                                   "CABINET_HOST"}}
        for key, value in env.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        self.env.update({"CABINET_HOST": "127.0.0.1", "CABINET_PORT": str(self.port),
                         "PYTHONUNBUFFERED": "1"})
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the server and return once it answers HTTP on its port."""
        if self.running:
            raise RuntimeError("the server is already running")
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts} on port {self.port} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own entry point
                [sys.executable, "app.py"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/login", timeout=2) as answer:  # noqa: S310 - loopback
                return answer.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 500
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine's power goes or the OOM killer strikes."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, timeout: float = 30.0) -> ServerProcess:
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


# --- clients ---------------------------------------------------------------------------------------


class _InOrderEngineIO(engineio.Client):
    """Hands each message to Socket.IO on the reading thread, in the order it arrived.

    The stock client starts a thread per message, so two broadcasts (or a broadcast and an
    acknowledgement) could be seen in either order; a test of ordering needs wire order.
    Relies on ``_trigger_event``'s ``run_async`` keyword (python-engineio 4.x).
    """

    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return _InOrderEngineIO


class Tablet:
    """A participant's device: a real Socket.IO client over a websocket, with an API token.

    Every event from the server is kept in ``received`` (name, payload) in arrival order. With
    ``reconnect=True`` the client reconnects by itself when the connection drops (then the test
    re-joins the room, as the tablet's page does on ``connect``).
    """

    def __init__(self, url: str, token: str | None, name: str = "", *, reconnect: bool = False):
        self.url = url
        self.token = token
        self.name = name
        self.sio = _InOrderClient(reconnection=reconnect, reconnection_delay=0.2, reconnection_delay_max=0.5,
                                  randomization_factor=0, request_timeout=5)
        self.received: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self.connects = 0
        self.disconnects = 0
        self._changed = threading.Condition()
        self.sio.on("*", self._on_event)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("connect_error", self._on_connect_error)

    def __repr__(self) -> str:
        return f"<Tablet {self.name}>"

    # handlers (run on the client's reading thread)

    def _on_event(self, event: str, *args) -> None:
        with self._changed:
            self.received.append((event, args[0] if len(args) == 1 else list(args)))
            self._changed.notify_all()

    def _on_connect(self) -> None:
        with self._changed:
            self.connects += 1
            self._changed.notify_all()

    def _on_disconnect(self, *_reason) -> None:
        with self._changed:
            self.disconnects += 1
            self._changed.notify_all()

    def _on_connect_error(self, data=None) -> None:
        with self._changed:
            self.refusal = data
            self._changed.notify_all()

    # what a test does

    def connect(self) -> Tablet:
        auth = {"token": self.token} if self.token is not None else None
        self.sio.connect(self.url, auth=auth, transports=["websocket"], wait_timeout=10)
        return self

    def call(self, event: str, data: dict | None = None, timeout: float = 10) -> Any:
        """Emit and wait for the acknowledgement."""
        return self.sio.call(event, data if data is not None else {}, timeout=timeout)

    def sync(self) -> None:
        """Return once every message the server sent this tablet before now has been recorded:
        the answer to ``session.whoami`` travels behind them on the same connection."""
        assert self.call("session.whoami")["ok"]

    def events(self, name: str) -> list[Any]:
        with self._changed:
            return [payload for event, payload in self.received if event == name]

    def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _p: True, timeout: float = 10) -> Any:
        """The first ``name`` event (received already or later) whose payload matches."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event, payload in self.received:
                    if event == name and match(payload):
                        return payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [event for event, _ in self.received]
                    raise AssertionError(f"{self.name}: no matching {name!r} within {timeout} s; got {seen}")
                self._changed.wait(remaining)

    def wait_connected(self, times: int, timeout: float = 15) -> None:
        """Wait until the client has connected ``times`` times (reconnections included)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.connects < times or not self.sio.connected:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: connected {self.connects} times, expected {times}")
                self._changed.wait(min(remaining, 0.1))

    def drop_network(self) -> None:
        """Cut the connection under the client, as a tablet leaving the Wi-Fi does (no goodbye)."""
        transport = self.sio.eio.ws
        with contextlib.suppress(OSError):
            transport.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.sio.reconnection = False
        with contextlib.suppress(Exception):
            self.sio.disconnect()


def close_all(tablets: list[Tablet]) -> None:
    """Disconnect every tablet at once: each disconnect waits up to 3 s for the server's websocket
    close frame (websocket-client's default), which adds up when done one by one."""
    threads = [threading.Thread(target=tablet.close, daemon=True) for tablet in tablets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
