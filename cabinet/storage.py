"""The file store: uploaded documents live outside the database, addressed by their SHA-256.

A blob's name is the hash of its content, so a file uploaded twice is stored once, a stored file
can never be silently replaced by different bytes, and the database keeps only the hash.

Writing is in two steps, so that a caller can inspect an upload before it is kept:

    with store.stage(request_stream, max_size=limit) as staged:   # hashed while streamed to a temp file
        check(staged.path)                                          # type, PDF structure…
        store.commit(staged)                                        # now it is in the store
    # leaving the block removes the temp file, committed or not (an exception included)

``put()`` does both at once. To add another backend (an S3-compatible object store), subclass
:class:`BlobStore` and implement ``commit``, ``open``, ``exists`` and ``size``; staging stays on
the local disk (``staging_dir``), ``local_path`` returns None, and callers that need a file on disk
(the PDF tools) use :meth:`BlobStore.as_local_file`, which downloads to a temp file when needed.

Settings: ``CABINET_STORAGE_DIR`` (application setting, or environment variable) — the folder of the
local store; by default ``<instance>/blobs``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from flask import Flask, current_app

CHUNK_SIZE = 1024 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobTooLarge(Exception):
    """The stream was longer than the size limit; nothing was kept."""

    def __init__(self, limit: int):
        super().__init__(f"blob larger than {limit} bytes")
        self.limit = limit


class BlobNotFound(Exception):
    """No blob with this hash in the store."""


@dataclass
class StagedBlob:
    """An upload written to a local temp file and hashed, not yet in the store."""

    path: Path
    sha256: str
    size: int
    committed: bool = field(default=False)


def check_sha256(sha256: str) -> str:
    """Refuse anything but a lower-case hex SHA-256: a blob name must never become a path trick."""
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class BlobStore(ABC):
    """Content-addressed storage of immutable files.

    Subclasses implement :meth:`commit`, :meth:`open`, :meth:`exists` and :meth:`size`; they may
    override :meth:`local_path` when the blob is a file on this machine (then it can be served with
    ``sendfile`` and read by tools without a copy).
    """

    def __init__(self, staging_dir: Path):
        self.staging_dir = Path(staging_dir)

    # --- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def stage(self, stream: BinaryIO, *, max_size: int | None = None) -> Iterator[StagedBlob]:
        """Stream ``stream`` to a temp file, hashing it; raise :class:`BlobTooLarge` past ``max_size``.

        The temp file is removed when the block ends, whether or not it was committed and
        whether or not an exception is raised: no orphan is left behind.
        """
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=self.staging_dir)
        path = Path(name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    size += len(chunk)
                    if max_size is not None and size > max_size:
                        raise BlobTooLarge(max_size)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            yield StagedBlob(path=path, sha256=digest.hexdigest(), size=size)
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @abstractmethod
    def commit(self, staged: StagedBlob) -> bool:
        """Keep a staged blob under its hash. Returns False when the store already had it."""

    def put(self, stream: BinaryIO, *, max_size: int | None = None) -> tuple[str, int]:
        """Store a whole stream; returns ``(sha256, size)``."""
        with self.stage(stream, max_size=max_size) as staged:
            self.commit(staged)
            return staged.sha256, staged.size

    # --- reading ---------------------------------------------------------------------------
    @abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """A binary file object reading the blob; raise :class:`BlobNotFound` if it is missing."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """True when the blob is in the store."""

    @abstractmethod
    def size(self, sha256: str) -> int:
        """The blob's size in bytes."""

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def local_path(self, sha256: str) -> Path | None:
        """The blob as a file on this machine, if the backend keeps it so; otherwise None."""
        return None

    @contextlib.contextmanager
    def as_local_file(self, sha256: str) -> Iterator[Path]:
        """A path to the blob on the local disk for as long as the block runs."""
        path = self.local_path(sha256)
        if path is not None:
            yield path
            return
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="read-", dir=self.staging_dir)
        try:
            with os.fdopen(fd, "wb") as out, self.open(sha256) as src:
                shutil.copyfileobj(src, out, CHUNK_SIZE)
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)


class LocalBlobStore(BlobStore):
    """Blobs as read-only files ``<root>/ab/cd/<sha256>``; staging in ``<root>/tmp``.

    The temp file and the final place are on the same file system, so keeping a blob is an
    atomic rename: a reader never sees half a file, even if the server dies mid-upload.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        super().__init__(self.root / "tmp")

    def _path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def commit(self, staged: StagedBlob) -> bool:
        target = self._path(staged.sha256)
        if target.exists():
            staged.committed = True
            return False  # same content already kept: deduplicated
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.path, 0o440)
        # os.replace is atomic; two uploads of the same bytes at once both end with the same file.
        os.replace(staged.path, target)
        _fsync_dir(target.parent)
        staged.committed = True
        return True

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self._path(sha256), "rb")  # noqa: SIM115 (the caller closes it)
        except FileNotFoundError as exc:
            raise BlobNotFound(sha256) from exc

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def size(self, sha256: str) -> int:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(sha256) from exc

    def local_path(self, sha256: str) -> Path | None:
        path = self._path(sha256)
        return path if path.is_file() else None


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def storage_dir(app: Flask) -> Path:
    """``CABINET_STORAGE_DIR`` from the app's settings, else the environment, else instance/blobs."""
    configured = app.config.get("CABINET_STORAGE_DIR") or os.environ.get("CABINET_STORAGE_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "blobs"


def blob_store(app: Flask | None = None) -> BlobStore:
    """The application's store (built once per application)."""
    app = app or current_app._get_current_object()
    store = app.extensions.get("cabinet_blob_store")
    if store is None:
        store = LocalBlobStore(storage_dir(app))
        app.extensions["cabinet_blob_store"] = store
    return store
