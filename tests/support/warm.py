"""`python -m consolescrape …` as its own process, forked from an interpreter that has already
imported what a run and a sync import.

A new interpreter spends ~0.4 s of CPU importing Selenium, requests, typer and the package
before a `run` does anything (~0.2 s before a `sync`), and the suite starts a few hundred of
them. Each test worker starts one `Warm` server, which imports those modules once and forks a
child per command. The child is a process of its own, as `subprocess.run` gives: its own pid,
the test's environment, working directory and standard streams (pipes, as `capture_output`),
the signal dispositions of a fresh interpreter (the server changes none), `__main__` run by
runpy as `-m` runs it, atexit handlers and non-daemon threads waited for at its end, and its
exit code or the signal that ended it. What it cannot be is a fresh interpreter: what a command
imports is already imported, and the interpreter's start-up settings (locale, `PYTHON*`
variables) are the server's. `needs_exec` sends those cases, and what a test measures of
start-up, to a real `exec`; tests that send signals and kill runs start real ones themselves
(`spawn`, `runs.start_run`).

Protocol, one Unix-socket connection per command: the client sends one JSON line (argv, env,
cwd) with the three fds of the child's stdin, stdout and stderr (SCM_RIGHTS); the server
answers with a line holding the child's pid, then, once it has ended, a line holding its
returncode (negative: the signal that ended it, as subprocess reports it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: What `run`, `sync` and `login` import between them (the rest is imported when used).
PRELOAD = (
    "consolescrape.cli",
    "consolescrape.commands.run",
    "consolescrape.commands.sync",
    "consolescrape.commands.login",
    "consolescrape.browser.scrape",
    "consolescrape.browser.login",
)

#: How often an idle server checks that the test worker that started it is still there, s.
PARENT_CHECK = 2.0


def needs_exec(env: dict[str, str]) -> bool:
    """Whether settings read only at an interpreter's start differ from the server's."""
    return any(
        (name.startswith(("PYTHON", "LC_")) or name == "LANG") and os.environ.get(name) != value
        for name, value in env.items()
    )


# -- the server (a process of its own: `python warm.py SOCKET`) --


def serve(path: str) -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    listener.settimeout(PARENT_CHECK)
    parent = os.getppid()
    print("ready", flush=True)
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:
                return  # the test worker is gone (killed): no server outlives it
            continue
        connection.settimeout(None)
        with connection:
            message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                listener.close()
                connection.close()
                _child(request, fds)  # never returns
            for fd in fds:
                os.close(fd)
            connection.sendall(f"{pid}\n".encode())
            _, status = os.waitpid(pid, 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            with contextlib.suppress(OSError):  # the client gave up on it (its timeout)
                connection.sendall(f"{code}\n".encode())


def _child(request: dict[str, object], fds: list[int]) -> None:
    import atexit
    import runpy
    import traceback

    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        cwd = str(request["cwd"])
        os.chdir(cwd)
        sys.path[0] = cwd  # what `-m` puts first
        _fresh_streams(sys.stdout.encoding, sys.stdout.errors)
        argv = request["argv"]
        assert isinstance(argv, list)
        sys.argv = ["-m", *map(str, argv)]
        try:
            runpy.run_module("consolescrape", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            # As Python ends on an unhandled KeyboardInterrupt: killed by SIGINT.
            _finish()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        except BaseException:  # reported as the interpreter reports it
            traceback.print_exc()
            code = 1
        threading._shutdown()  # type: ignore[attr-defined]  # non-daemon threads, as at exit
        atexit._run_exitfuncs()
        _finish()
    finally:
        os._exit(code)


def _fresh_streams(encoding: str, errors: str | None) -> None:
    """sys.stdin, stdout and stderr on fds 0-2, buffered as a new interpreter's would be."""
    import io

    def text(fd: int, mode: str, errors: str | None, *, line: bool) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding, errors, line_buffering=line)

    streams = {
        "stdin": text(0, "r", errors, line=False),
        "stdout": text(1, "w", errors, line=os.isatty(1)),
        "stderr": text(2, "w", "backslashreplace", line=True),
    }
    for name, stream in streams.items():
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _finish() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


# -- the client (in the test worker) --


class Warm:
    """One server for this process; `run` is `subprocess.run(…, capture_output=True)`."""

    def __init__(self, workdir: Path) -> None:
        self.socket = str(Path(tempfile.mkdtemp(prefix="warm-", dir="/tmp")) / "s")
        log = (workdir / "warm-server.log").open("w")
        self.server = subprocess.Popen(
            [sys.executable, __file__, self.socket],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert self.server.stdout is not None
        ready = self.server.stdout.readline()
        if ready.strip() != "ready":
            self.server.kill()
            raise RuntimeError(f"the warm server did not start: see {workdir / 'warm-server.log'}")

    def close(self) -> None:
        self.server.kill()
        self.server.wait()
        Path(self.socket).unlink(missing_ok=True)
        os.rmdir(Path(self.socket).parent)

    def run(
        self, args: list[str], *, env: dict[str, str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        in_read, in_write = os.pipe() if stdin is not None else (os.dup(0), None)
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self.socket)
            request = {"argv": args, "env": env, "cwd": os.getcwd()}
            socket.send_fds(
                connection, [json.dumps(request).encode()], [in_read, out_write, err_write]
            )
        finally:
            for fd in (in_read, out_write, err_write):
                os.close(fd)
        with connection, connection.makefile("r") as replies:
            pid = int(replies.readline())
            outputs = _communicate(in_write, stdin, out_read, err_read, timeout)
            if outputs is None:
                os.kill(pid, signal.SIGKILL)
                replies.readline()
                raise subprocess.TimeoutExpired(["consolescrape", *args], timeout)
            code = int(replies.readline())
        return subprocess.CompletedProcess(["consolescrape", *args], code, *outputs)


def executed(
    args: list[str], *, env: dict[str, str], stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """The same command in a new interpreter (`python -m consolescrape`), as `Warm.run`."""
    return subprocess.run(
        [sys.executable, "-m", "consolescrape", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _communicate(
    in_write: int | None, stdin: str | None, out_read: int, err_read: int, timeout: float
) -> tuple[str, str] | None:
    """Write `stdin` and read both outputs to their end (stdout, stderr), as subprocess's
    communicate does; None when `timeout` came first. Takes the fds over."""
    read: dict[int, bytes] = {}

    def drain(fd: int) -> None:
        with open(fd, "rb") as stream:
            read[fd] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(fd,), daemon=True) for fd in (out_read, err_read)
    ]
    for reader in readers:
        reader.start()
    if in_write is not None:
        with open(in_write, "wb") as stream, contextlib.suppress(BrokenPipeError):
            stream.write((stdin or "").encode())
    deadline = time.monotonic() + timeout
    for reader in readers:
        reader.join(max(0.0, deadline - time.monotonic()))
    if any(reader.is_alive() for reader in readers):
        return None  # the readers end when the killed child's pipes close
    return _text(read[out_read]), _text(read[err_read])


def _text(data: bytes) -> str:
    """As `subprocess.run(text=True)` reads an output: universal newlines."""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    serve(sys.argv[1])
