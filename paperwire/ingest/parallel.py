"""Parsing in a child process, so a large import uses two cores.

The child (``python -c CHILD FORMAT PATH START CHUNK DB``, which calls ``child_main``) reads
and parses the file and prepares each paper (fingerprint, display text, links, the rows of a new
paper: ``paperwire.store.papers.prepare``); this process only merges what is already stored and
writes. SQLite releases the GIL while it works, but a parser thread would still fight the
writer for it, so it is a process. A plain subprocess rather than multiprocessing: nothing of
the caller's main module is re-imported, so any script can call ``import_file``.

The child writes length-prefixed messages of ``(position, item)`` chunks to its stdout (marshal
when they hold only plain values, as prepared papers are: cheaper to write than pickle; pickle
for anything else, such as a Problem); the pipe is the bounded queue (the child waits while
this process writes, so memory stays flat whatever the file's size). Problems come through as
they are, with their positions. If this process dies, the child's next write fails and it
exits; if the child dies, the import fails with an error instead of waiting.
"""

from __future__ import annotations

import marshal
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import paperwire
from paperwire.ingest.formats import parser_for
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.store.papers import has_papers, prepare, stored_ids

CHUNK = 100  # records per message: few enough that their objects stay in the CPU's cache while the
#             child marshals them (larger messages cost more per record)
DEPTH = 160  # messages read ahead: up to 16,000 prepared records, more than one bulk batch,
#             so the child parses the next batch while this process writes the last one
_LEN = struct.Struct("<Q")
# `python -c`, not `-m paperwire.ingest.parallel`: the package imports this module, and running a
# module the package has already imported as __main__ loads it twice (runpy warns)
CHILD = "import sys; from paperwire.ingest.parallel import child_main; child_main(*sys.argv[1:])"
last_parser_peak_kb = 0  # the last parser process's peak resident memory (for bench/ingest.py)


def parse_in_child(fmt: str, path: str | Path, start: int = 0, chunk: int = CHUNK,
                   db: str | None = None) -> Iterator[tuple[int, object]]:
    """The file's ``(position, item)`` pairs as ``parser_for(fmt)(path, start)`` gives them, with
    each plain Paper replaced by its prepared tuple, parsed in a child process. With ``db`` (the
    store's file) the child reads which papers are stored and prepares those lightly: re-importing
    a file does not compute display text and links only to find the records unchanged."""
    proc = _start_child(fmt, path, start, chunk, db)
    out = proc.stdout
    # A thread drains the pipe into a bounded queue, so the child works ahead while this
    # process is busy in SQLite (a pipe alone holds 64 KB, a fraction of one chunk).
    chunks: queue.Queue = queue.Queue(maxsize=DEPTH)
    stop = threading.Event()
    reader = threading.Thread(target=_drain, args=(out, chunks, stop), name="paperwire-parse-reader", daemon=True)
    reader.start()
    finished = False
    try:
        while True:
            data = chunks.get()
            if not data:
                break
            kind, payload = marshal.loads(memoryview(data)[1:]) if data[:1] == b"m" else pickle.loads(memoryview(data)[1:])
            if kind == "items":
                yield from payload
            elif kind == "error":
                raise payload
            else:
                global last_parser_peak_kb
                last_parser_peak_kb = payload.get("peak_rss_kb", 0)
                finished = True
                break
        if not finished:
            raise RuntimeError(f"the parser process stopped (exit code {proc.wait()})")
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(timeout=5)
        out.close()


def _start_child(fmt: str, path: str | Path, start: int, chunk: int, db: str | None) -> subprocess.Popen:
    root = str(Path(paperwire.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(x for x in (root, os.environ.get("PYTHONPATH")) if x))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, fmt, str(path), str(start), str(chunk), db or ""],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
    try:  # 1 MB instead of 64 KB: a message crosses in one or two writes, not twenty wake-ups
        import fcntl

        fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, 2**20)
    except (ImportError, AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass
    return proc


def _drain(out, chunks: queue.Queue, stop: threading.Event) -> None:
    """Move the child's messages from the pipe to `chunks` until the pipe ends or `stop` is set;
    then an empty message (never a real one) marks the end of input."""
    def hand_over(data: bytes) -> bool:
        while not stop.is_set():
            try:
                chunks.put(data, timeout=0.5)
                return True
            except queue.Full:
                pass
        return False

    try:
        while True:
            head = out.read(_LEN.size)
            if len(head) < _LEN.size:
                return
            size = _LEN.unpack(head)[0]
            data = out.read(size)
            if len(data) < size or not hand_over(data):  # the child died mid-message, or we stopped
                return
    except (OSError, ValueError):  # the pipe was closed under us: we are finishing
        pass
    finally:
        hand_over(b"")


def _peak_rss_kb() -> int:
    try:
        with open("/proc/self/status") as fh:
            return next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def child_main(fmt: str, path: str, start: str, chunk: str, db: str = "") -> None:
    """The child's side: parse, prepare and send; the arguments as parse_in_child passes them."""
    start, chunk = int(start), int(chunk)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    out = os.fdopen(os.dup(1), "wb")  # the pipe to the parent; anything printed goes to stderr
    os.dup2(2, 1)

    def put(msg) -> None:
        try:
            data = b"m" + marshal.dumps(msg)
        except ValueError:  # an object marshal does not take
            data = b"p" + pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_LEN.pack(len(data)))
        out.write(data)
        out.flush()

    try:
        store = None
        if db:
            store = Store(db, migrate=False, read_only=True)  # must not switch the journal mode
            if not has_papers(store):
                # an empty store (a first import): nothing to ask about; a paper twice in this
                # file is merged by the writer, which decides from the store in any case
                store.close()
                store = None

        def send(buf) -> None:
            known = stored_ids(store, [x.id for _, x in buf if type(x) is Paper]) if store else ()
            put(("items", [(pos, prepare(x, x.id in known) if type(x) is Paper else x) for pos, x in buf]))

        buf = []
        for pos, item in parser_for(fmt)(path, start=start):
            buf.append((pos, item))
            if len(buf) >= chunk:
                send(buf)
                buf = []
        if buf:
            send(buf)
        if store:
            store.close()
        put(("done", {"peak_rss_kb": _peak_rss_kb()}))
    except BrokenPipeError:
        os._exit(0)  # the parent is gone
    except Exception as exc:  # handed to the parent, which raises it
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{exc.__class__.__name__}: {exc}")
        put(("error", exc))

