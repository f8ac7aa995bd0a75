"""A durable on-disk FIFO of line-protocol batches, used while InfluxDB is unreachable.

The ingester acknowledges an MQTT message only once its point is stored, and while InfluxDB is down
"stored" means appended here. So ``append`` returns only after fsync, and whatever cannot be made
durable raises instead, which leaves the message unacknowledged and with the broker.

Directory layout::

    lock                       flock'd while a Spool has the directory open (one owner at a time)
    00000000000000000000.seg   segment files, append-only; ids ascend, so the oldest sorts first
    cursor                     where replay resumes, replaced atomically on every commit

A segment is records back to back, without a file header. A record (integers little-endian)::

    u32 crc32    of the next 8 bytes and the payload
    u32 length   of the payload in bytes
    u32 lines    number of lines in the batch, at least 1
    payload      the batch's lines, UTF-8, joined by "\\n"

The cursor file is 24 bytes: ``b"PLSC"``, u64 segment id, u64 byte offset, u32 crc32 of the first 20.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

log = logging.getLogger(__name__)

MiB = 1024 * 1024

_HEADER = struct.Struct("<III")  # crc32, payload length, line count
_FIELDS = struct.Struct("<II")  # the part of the header the crc covers
_CURSOR = struct.Struct("<4sQQ")
_CRC = struct.Struct("<I")
_CURSOR_MAGIC = b"PLSC"
_MAX_PAYLOAD = 2**32 - 1

_SEGMENT_SUFFIX = ".seg"
_CURSOR_NAME = "cursor"
_CURSOR_TMP = "cursor.tmp"
_LOCK_NAME = "lock"


class SpoolError(Exception):
    """Base of every spool failure; the message is meant for a human."""


class SpoolFull(SpoolError):
    """The batch would take the spool past ``max_bytes``: stop acknowledging, the broker holds the rest."""

    def __init__(self, message: str, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


class SpoolCorrupt(SpoolError):
    """Damage that a crash cannot explain (unlike a torn final record, which opening repairs)."""


@dataclass(frozen=True, slots=True, order=True)
class SpoolPosition:
    """A byte offset in one segment file; always the start of a record or the end of the segment."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    """What ``peek`` returned: whole appended batches, oldest first. Hand it to ``commit`` once stored."""

    records: tuple[tuple[str, ...], ...]
    line_count: int
    nbytes: int
    start: SpoolPosition
    end: SpoolPosition

    @property
    def lines(self) -> list[str]:
        return [line for record in self.records for line in record]


@dataclass(slots=True)
class _Depth:
    nbytes: int = 0
    batches: int = 0
    lines: int = 0

    def add(self, nbytes: int, lines: int) -> None:
        self.nbytes += nbytes
        self.batches += 1
        self.lines += lines

    def remove(self, other: _Depth) -> None:
        self.nbytes -= other.nbytes
        self.batches -= other.batches
        self.lines -= other.lines


class Spool:
    """An append-only on-disk FIFO of batches of line-protocol lines, safe against SIGKILL and power loss.

    ``max_bytes`` bounds the un-replayed records (``depth_bytes``). Disk use can exceed it by up to
    one segment, the already-replayed start of the oldest segment, which is deleted once fully replayed.
    One thread may append while another peeks and commits; a lock serialises them.
    """

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 4 * MiB) -> None:
        if max_bytes <= 0 or segment_bytes <= 0:
            raise ValueError(
                f"max_bytes and segment_bytes must be positive, got {max_bytes}, {segment_bytes}"
            )
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._sizes: dict[int, int] = {}  # segment id -> bytes of whole records; ids ascending
        self._cursor = SpoolPosition(0, 0)
        self._depth = _Depth()
        self._tail_fd = -1
        self._failure: str | None = None
        self._closed = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock_directory(self.directory)
        try:
            self._recover()
        except BaseException:
            self._release()
            raise

    # ----------------------------------------------------------------------------------------- public

    def append(self, lines: Sequence[str]) -> None:
        """Add one batch at the end; it is on disk (fsync'd) when this returns. An empty batch is a no-op."""
        record = _encode(lines)  # outside the lock: it only validates and encodes
        if not lines:
            return  # nothing to make durable, and a zero-line record would read as a torn one
        with self._lock:
            self._check_writable()
            self._check_room(len(record))
            tail_size = self._sizes[self._tail]
            if tail_size and tail_size + len(record) > self.segment_bytes:
                self._roll()
            self._write(record)
            self._depth.add(len(record), len(lines))

    def peek(self, max_lines: int) -> SpoolBatch | None:
        """The oldest un-committed batches: at least one, else up to ``max_lines`` lines; None if empty."""
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, got {max_lines}")
        with self._lock:
            self._check_open()
            records: list[tuple[str, ...]] = []
            nbytes = 0
            at = self._cursor
            while True:
                at = self._skip_consumed(at)
                if at.offset >= self._sizes[at.segment]:
                    break  # the end of the tail: nothing newer
                budget = max_lines - sum(len(record) for record in records)
                got, end = self._read_from(at, budget, at_least_one=not records)
                records.extend(got)
                nbytes += end - at.offset
                at = SpoolPosition(at.segment, end)
                if end < self._sizes[at.segment]:
                    break  # stopped by the line budget, not by the end of the segment
            if not records:
                return None
            lines = sum(len(record) for record in records)
            return SpoolBatch(tuple(records), lines, nbytes, self._cursor, at)

    def commit(self, batch: SpoolBatch) -> None:
        """Remove a peeked batch for good (cursor fsync'd); batches must be committed in order, once each."""
        with self._lock:
            self._check_open()
            if batch.start != self._cursor:
                raise ValueError(
                    f"batch starts at {batch.start} but the spool's oldest record is at {self._cursor}: "
                    "commit each peeked batch once, in order"
                )
            cursor = self._skip_consumed(batch.end)
            self._save_cursor(cursor)
            self._cursor = cursor
            self._depth.remove(_Depth(batch.nbytes, len(batch.records), batch.line_count))
            self._delete_segments_before(cursor.segment)

    @property
    def depth_bytes(self) -> int:
        with self._lock:
            return self._depth.nbytes

    @property
    def depth_batches(self) -> int:
        with self._lock:
            return self._depth.batches

    @property
    def depth_lines(self) -> int:
        with self._lock:
            return self._depth.lines

    def is_empty(self) -> bool:
        return self.depth_batches == 0

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- appending

    @property
    def _tail(self) -> int:
        return next(reversed(self._sizes))

    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError(f"spool {self.directory} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self._failure is not None:
            raise SpoolError(self._failure)

    def _check_room(self, size: int) -> None:
        if size > self.max_bytes:
            raise SpoolFull(
                f"a batch of {size} bytes never fits in spool {self.directory}: max_bytes={self.max_bytes}",
                self.max_bytes,
            )
        if self._depth.nbytes + size > self.max_bytes:
            raise SpoolFull(
                f"spool {self.directory} is full: {self._depth.nbytes} bytes un-replayed, a batch of {size} "
                f"bytes would exceed max_bytes={self.max_bytes}",
                self.max_bytes,
            )

    def _roll(self) -> None:
        new = self._tail + 1
        fd = self._create_segment(new)
        os.close(self._tail_fd)
        self._tail_fd = fd
        self._sizes[new] = 0

    def _create_segment(self, segment: int) -> int:
        path = self._segment_path(segment)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            # Without this the new name may vanish after a power loss, and the records in it with it.
            _fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return fd

    def _write(self, record: bytes) -> None:
        # A raw fd rather than a buffered file: no user-space buffer that could keep a failed record
        # and write it later, behind our back. So "flush" is a no-op here; fsync is what matters.
        before = self._sizes[self._tail]
        try:
            _write_all(self._tail_fd, record)
            os.fsync(self._tail_fd)
        except OSError:
            self._undo_write(before)
            raise
        self._sizes[self._tail] = before + len(record)

    def _undo_write(self, size: int) -> None:
        # Remove a partial record now: the next append would otherwise land behind it and be lost
        # as part of a "torn tail" on the next open.
        try:
            os.ftruncate(self._tail_fd, size)
            os.fsync(self._tail_fd)
        except OSError as exc:
            self._failure = (
                f"spool {self.directory} refuses appends: a failed write left bytes it could not remove "
                f"({exc}); reopening the spool discards them"
            )
            log.error("%s", self._failure)

    # ------------------------------------------------------------------------------- peek and commit

    def _segment_path(self, segment: int) -> Path:
        return self.directory / f"{segment:020d}{_SEGMENT_SUFFIX}"

    def _next_segment(self, segment: int) -> int | None:
        return next((other for other in self._sizes if other > segment), None)

    def _skip_consumed(self, at: SpoolPosition) -> SpoolPosition:
        """The same place, moved past the ends of fully read segments that will get no more appends."""
        while at.offset >= self._sizes[at.segment] and at.segment != self._tail:
            following = self._next_segment(at.segment)
            assert following is not None  # only the tail has no successor
            at = SpoolPosition(following, 0)
        return at

    def _read_from(
        self, at: SpoolPosition, max_lines: int, *, at_least_one: bool
    ) -> tuple[list[tuple[str, ...]], int]:
        """Whole records of one segment from ``at`` within the line budget; and the offset after them."""
        path = self._segment_path(at.segment)
        end = self._sizes[at.segment]
        records: list[tuple[str, ...]] = []
        lines = 0
        offset = at.offset
        with path.open("rb") as f:
            while offset < end:
                header = _read_header(f, offset, end)
                if header is None:
                    raise SpoolCorrupt(f"{path}: record at offset {offset} is damaged (bad header)")
                _crc, length, count = header
                if lines + count > max_lines and not (at_least_one and not records):
                    break
                records.append(_read_lines(f, path, offset, header))
                lines += count
                offset += _HEADER.size + length
        return records, offset

    def _save_cursor(self, cursor: SpoolPosition) -> None:
        # Temp file + fsync + rename + fsync of the directory: a crash leaves the old cursor or the
        # new one, never a torn mix. The old one only means replaying some batches twice.
        body = _CURSOR.pack(_CURSOR_MAGIC, cursor.segment, cursor.offset)
        tmp = self.directory / _CURSOR_TMP
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            _write_all(fd, body + _CRC.pack(zlib.crc32(body)))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / _CURSOR_NAME)
        _fsync_dir(self.directory)

    def _delete_segments_before(self, segment: int) -> None:
        # The cursor already points past these, durably; a file that survives a failed unlink or a
        # crash is deleted by the next open, so a failure here only costs disk space for a while.
        for old in [other for other in self._sizes if other < segment]:
            del self._sizes[old]
            try:
                self._segment_path(old).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not delete replayed spool segment %s: %s", self._segment_path(old), exc)

    # ------------------------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """Rebuild the in-memory state from the directory, repairing what a crash can leave behind."""
        (self.directory / _CURSOR_TMP).unlink(missing_ok=True)  # a commit that never happened
        saved = self._load_cursor()
        segments = self._list_segments()
        cursor = saved if saved is not None else SpoolPosition(segments[0] if segments else 0, 0)
        segments = self._drop_segments_before(segments, cursor.segment)
        if not segments:
            # An id after the cursor's, so nothing new can sort before what it says was replayed.
            first = cursor.segment + 1 if saved is not None else cursor.segment
            self._tail_fd = self._create_segment(first)
            self._sizes[first] = 0
            self._cursor = SpoolPosition(first, 0)
            return
        if cursor.segment != segments[0]:
            log.warning(
                "spool cursor points at missing segment %d; replaying from %d", cursor.segment, segments[0]
            )
            cursor = SpoolPosition(segments[0], 0)
        depth = _Depth()
        for segment in segments:
            self._sizes[segment] = self._recover_segment(segment, depth, last=segment == segments[-1])
        self._cursor = self._align_cursor(cursor, depth)
        self._depth = depth
        self._tail_fd = os.open(self._segment_path(self._tail), os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _load_cursor(self) -> SpoolPosition | None:
        path = self.directory / _CURSOR_NAME
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(raw) == _CURSOR.size + _CRC.size:
            body, (crc,) = raw[: _CURSOR.size], _CRC.unpack(raw[_CURSOR.size :])
            magic, segment, offset = _CURSOR.unpack(body)
            if magic == _CURSOR_MAGIC and crc == zlib.crc32(body):
                return SpoolPosition(segment, offset)
        # Replaying from the oldest segment duplicates points (InfluxDB overwrites them) but loses none.
        log.warning("spool cursor %s is unreadable; replaying from the oldest segment", path)
        return None

    def _list_segments(self) -> list[int]:
        return sorted(
            int(path.stem)
            for path in self.directory.iterdir()
            if path.suffix == _SEGMENT_SUFFIX and path.stem.isascii() and path.stem.isdigit()
        )

    def _drop_segments_before(self, segments: list[int], segment: int) -> list[int]:
        # Left over when a crash came between saving the cursor and deleting what it had consumed.
        for old in (other for other in segments if other < segment):
            log.info("deleting replayed spool segment %s", self._segment_path(old))
            self._segment_path(old).unlink(missing_ok=True)
        return [other for other in segments if other >= segment]

    def _recover_segment(self, segment: int, depth: _Depth, *, last: bool) -> int:
        """Bytes of whole records in a segment, which are added to ``depth``; truncates a torn tail."""
        path = self._segment_path(segment)
        on_disk = path.stat().st_size
        # Only the last segment can end in an append cut short by a crash, so only it pays for
        # reading every payload to check its crc; peek checks the others as it reads them.
        end = 0
        with contextlib.closing(_walk(path, on_disk, verify=last)) as records:
            for size, lines in records:
                end += size
                depth.add(size, lines)
        if end == on_disk:
            return end
        if not last:
            raise SpoolCorrupt(
                f"{path}: record at offset {end} is damaged ({on_disk - end} bytes unreadable); this is "
                "not the newest segment, so not a torn append: inspect it, or move it away to drop it"
            )
        log.warning(
            "%s: discarding %d bytes of a torn record at offset %d, an append cut short by a crash "
            "(never acknowledged, so the broker still has it)",
            path,
            on_disk - end,
            end,
        )
        _truncate(path, end)
        return end

    def _align_cursor(self, cursor: SpoolPosition, depth: _Depth) -> SpoolPosition:
        """The cursor, and ``depth`` reduced by what lies before it; replays its segment if misaligned."""
        path = self._segment_path(cursor.segment)
        consumed = _Depth()
        with contextlib.closing(_walk(path, self._sizes[cursor.segment], verify=False)) as records:
            for size, lines in records:
                if consumed.nbytes >= cursor.offset:
                    break
                consumed.add(size, lines)
        if consumed.nbytes == cursor.offset:
            depth.remove(consumed)
            return cursor
        log.warning("spool cursor %s is not at a record boundary; replaying segment %s", cursor, path)
        return SpoolPosition(cursor.segment, 0)

    def _release(self) -> None:
        if self._tail_fd >= 0:
            os.close(self._tail_fd)
            self._tail_fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # also releases the flock
            self._lock_fd = -1


# ---------------------------------------------------------------------------------------- records


def _encode(lines: Sequence[str]) -> bytes:
    if isinstance(lines, str):  # a str is a Sequence[str] too; storing it letter by letter is a bug
        raise TypeError("append takes a sequence of lines, not one str")
    for line in lines:
        if "\n" in line:  # the payload joins lines with "\n", so one inside a line would split it
            raise ValueError(f"a line-protocol line must not contain a newline: {line[:80]!r}")
    payload = "\n".join(lines).encode("utf-8")
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"a batch of {len(payload)} bytes is too large for one spool record")
    fields = _FIELDS.pack(len(payload), len(lines))
    return _CRC.pack(zlib.crc32(payload, zlib.crc32(fields))) + fields + payload


def _read_header(f: BinaryIO, offset: int, end: int) -> tuple[int, int, int] | None:
    """(crc, payload length, line count) of the record at ``offset``, or None if it cannot be whole."""
    f.seek(offset)
    raw = f.read(_HEADER.size)
    if len(raw) < _HEADER.size:
        return None
    crc, length, lines = _HEADER.unpack(raw)
    # Zero lines is never written; it is what a zero-filled tail after a power loss looks like.
    if lines == 0 or offset + _HEADER.size + length > end:
        return None
    return crc, length, lines


def _read_payload(f: BinaryIO, header: tuple[int, int, int]) -> bytes | None:
    """The payload following a header just read, or None if it is short or fails its crc."""
    crc, length, lines = header
    payload = f.read(length)
    if len(payload) < length or zlib.crc32(payload, zlib.crc32(_FIELDS.pack(length, lines))) != crc:
        return None
    return payload


def _read_lines(f: BinaryIO, path: Path, offset: int, header: tuple[int, int, int]) -> tuple[str, ...]:
    payload = _read_payload(f, header)
    if payload is None:
        raise SpoolCorrupt(f"{path}: record at offset {offset} is damaged (crc mismatch)")
    lines = tuple(payload.decode("utf-8").split("\n"))
    if len(lines) != header[2]:
        raise SpoolCorrupt(
            f"{path}: record at offset {offset} has {len(lines)} lines, its header {header[2]}"
        )
    return lines


def _walk(path: Path, end: int, *, verify: bool) -> Generator[tuple[int, int]]:
    """(record size, line count) of each whole record from a segment's start, up to the first torn one."""
    with path.open("rb") as f:
        offset = 0
        while offset < end:
            header = _read_header(f, offset, end)
            if header is None or (verify and _read_payload(f, header) is None):
                return
            size = _HEADER.size + header[1]
            yield size, header[2]
            offset += size


# ------------------------------------------------------------------------------------- filesystem


def _lock_directory(directory: Path) -> int:
    # Two processes appending to one spool would interleave records; refuse the second one.
    fd = os.open(directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolError(f"spool directory {directory} is already open in another Spool") from None
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
