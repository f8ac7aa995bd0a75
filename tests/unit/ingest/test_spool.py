"""The on-disk spool: FIFO order, durability across reopen and SIGKILL, bounded size, torn-write repair."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ingest.spool import Spool, SpoolBatch, SpoolError, SpoolFull

ROOT = Path(__file__).resolve().parents[3]
HEADER_BYTES = 12  # crc32, payload length, line count


def record_bytes(lines: list[str]) -> int:
    return HEADER_BYTES + len("\n".join(lines).encode())


def batch(index: int, lines: int = 1) -> list[str]:
    return [f"bay,site=test,bay=b{index} occupied=true,line={j}i {index}" for j in range(lines)]


def drain(spool: Spool, max_lines: int = 1000) -> list[tuple[str, ...]]:
    """Every record left, oldest first, committing as it goes."""
    records: list[tuple[str, ...]] = []
    while (peeked := spool.peek(max_lines)) is not None:
        records.extend(peeked.records)
        spool.commit(peeked)
    return records


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def test_an_appended_batch_is_peeked_unchanged_and_gone_after_commit(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        spool.append(["a,x=1 v=1i 1", "a,x=2 v=2i 2", "ünïcode,x=3 v=3i 3"])

        peeked = spool.peek(100)
        assert peeked is not None
        assert peeked.lines == ["a,x=1 v=1i 1", "a,x=2 v=2i 2", "ünïcode,x=3 v=3i 3"]
        spool.commit(peeked)

        assert spool.is_empty()
        assert spool.peek(100) is None


def test_peek_leaves_the_batches_in_place(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        spool.append(batch(0))

        first, second = spool.peek(10), spool.peek(10)

        assert first is not None
        assert first == second
        assert spool.depth_batches == 1


def test_peek_returns_whole_batches_up_to_max_lines_and_always_at_least_one(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        for index, lines in enumerate([2, 2, 3, 5]):
            spool.append(batch(index, lines))

        sizes = []
        while (peeked := spool.peek(4)) is not None:
            sizes.append([len(record) for record in peeked.records])
            spool.commit(peeked)

        assert sizes == [[2, 2], [3], [5]]  # 2+2+3 > 4 stops early; 5 > 4 still comes alone


def test_batches_replay_in_append_order_across_several_segments(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20, segment_bytes=512) as spool:
        for index in range(60):
            spool.append(batch(index, lines=index % 3 + 1))
        assert len(segment_files(directory)) >= 5

        records = drain(spool, max_lines=7)

        assert records == [tuple(batch(index, lines=index % 3 + 1)) for index in range(60)]
        assert len(segment_files(directory)) == 1  # fully replayed segments are deleted


def test_a_reopened_spool_resumes_after_the_last_commit(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20, segment_bytes=256) as spool:
        for index in range(10):
            spool.append(batch(index))
        peeked = spool.peek(6)
        assert peeked is not None
        spool.commit(peeked)

    with Spool(directory, max_bytes=1 << 20, segment_bytes=256) as reopened:
        assert reopened.depth_batches == 4
        assert drain(reopened) == [tuple(batch(index)) for index in range(6, 10)]


def test_peeked_but_uncommitted_batches_replay_after_reopen(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        for index in range(3):
            spool.append(batch(index))
        assert spool.peek(10) is not None  # sent to InfluxDB, say, but the process died before commit

    with Spool(directory, max_bytes=1 << 20) as reopened:
        assert drain(reopened) == [tuple(batch(index)) for index in range(3)]


def test_a_full_spool_raises_spool_full_naming_the_limit_and_accepts_again_after_commit(
    directory: Path,
) -> None:
    size = record_bytes(batch(0))
    with Spool(directory, max_bytes=3 * size) as spool:
        for index in range(3):
            spool.append(batch(index))

        with pytest.raises(SpoolFull, match=f"max_bytes={3 * size}") as raised:
            spool.append(batch(3))
        assert raised.value.max_bytes == 3 * size
        assert spool.depth_batches == 3  # the refused batch left no trace

        peeked = spool.peek(1)
        assert peeked is not None
        spool.commit(peeked)
        spool.append(batch(3))

        assert drain(spool) == [tuple(batch(index)) for index in (1, 2, 3)]


def test_a_batch_larger_than_the_whole_spool_is_refused_even_when_empty(directory: Path) -> None:
    with Spool(directory, max_bytes=100) as spool, pytest.raises(SpoolFull, match="never fits"):
        spool.append(["x" * 200])


def test_depth_counts_uncommitted_batches_lines_and_bytes(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        spool.append(batch(0, lines=2))
        spool.append(batch(1, lines=3))

        assert (spool.depth_batches, spool.depth_lines) == (2, 5)
        assert spool.depth_bytes == record_bytes(batch(0, lines=2)) + record_bytes(batch(1, lines=3))


def _truncate_tail(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 3)


def _append_garbage(path: Path) -> None:
    with path.open("ab") as f:
        f.write(b"\x17garbage that is no record\xff\x00\x01")


def _append_zeros(path: Path) -> None:  # what some filesystems show after a power loss
    with path.open("ab") as f:
        f.write(bytes(64))


@pytest.mark.parametrize("damage", [_truncate_tail, _append_garbage, _append_zeros])
def test_a_torn_tail_record_is_discarded_with_a_warning_and_earlier_records_kept(
    directory: Path, damage: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        for index in range(5):
            spool.append(batch(index, lines=3))
    damage(segment_files(directory)[-1])

    with (
        caplog.at_level(logging.WARNING, logger="ingest.spool"),
        Spool(directory, max_bytes=1 << 20) as spool,
    ):
        records = drain(spool)

    kept = 4 if damage is _truncate_tail else 5
    assert records == [tuple(batch(index, lines=3)) for index in range(kept)]
    assert "torn record" in caplog.text


def test_appends_after_a_torn_tail_repair_are_kept(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        spool.append(batch(0))
    _append_garbage(segment_files(directory)[-1])

    with Spool(directory, max_bytes=1 << 20) as spool:
        spool.append(batch(1))
    with Spool(directory, max_bytes=1 << 20) as spool:
        assert drain(spool) == [tuple(batch(0)), tuple(batch(1))]


@pytest.mark.parametrize("content", [b"", b"PLSC\x01\x00", b"PLSC" + bytes(16) + b"\xde\xad\xbe\xef"])
def test_an_unreadable_cursor_file_replays_from_the_oldest_segment_rather_than_lose_data(
    directory: Path, content: bytes
) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        for index in range(4):
            spool.append(batch(index))
        peeked = spool.peek(2)
        assert peeked is not None
        spool.commit(peeked)
    (directory / "cursor").write_bytes(content)

    with Spool(directory, max_bytes=1 << 20) as spool:
        assert drain(spool) == [tuple(batch(index)) for index in range(4)]  # duplicates, no loss


def test_a_leftover_cursor_temp_file_from_a_crashed_commit_is_ignored(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        for index in range(3):
            spool.append(batch(index))
        peeked = spool.peek(1)
        assert peeked is not None
        spool.commit(peeked)
    (directory / "cursor.tmp").write_bytes(b"PLSC half-writ")

    with Spool(directory, max_bytes=1 << 20) as spool:
        assert drain(spool) == [tuple(batch(index)) for index in (1, 2)]
    assert not (directory / "cursor.tmp").exists()


@pytest.mark.parametrize("lines", [["a v=1i 1\nb v=2i 2"], "a v=1i 1"])
def test_a_line_with_a_newline_or_a_bare_string_is_refused(directory: Path, lines: Sequence[str]) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        with pytest.raises((ValueError, TypeError)):
            spool.append(lines)
        assert spool.is_empty()


def test_committing_the_same_batch_twice_is_refused(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20) as spool:
        spool.append(batch(0))
        spool.append(batch(1))
        peeked = spool.peek(1)
        assert peeked is not None
        spool.commit(peeked)

        with pytest.raises(ValueError, match="once, in order"):
            spool.commit(peeked)
        assert spool.depth_batches == 1


def test_a_second_spool_on_the_same_directory_is_refused(directory: Path) -> None:
    with Spool(directory, max_bytes=1 << 20), pytest.raises(SpoolError, match="already open"):
        Spool(directory, max_bytes=1 << 20)


def test_one_thread_can_append_while_another_drains(directory: Path) -> None:
    total = 400
    received: list[tuple[str, ...]] = []
    failures: list[BaseException] = []

    def produce(spool: Spool) -> None:
        try:
            for index in range(total):
                spool.append(batch(index, lines=2))
        except BaseException as exc:
            failures.append(exc)

    with Spool(directory, max_bytes=1 << 20, segment_bytes=2048) as spool:
        producer = threading.Thread(target=produce, args=(spool,))
        producer.start()
        deadline = time.monotonic() + 10
        while len(received) < total and not failures and time.monotonic() < deadline:
            if (peeked := spool.peek(16)) is not None:
                received.extend(peeked.records)
                spool.commit(peeked)
        producer.join(timeout=10)

    assert not failures
    assert received == [tuple(batch(index, lines=2)) for index in range(total)]


class SpoolMachine(RuleBasedStateMachine):
    """Any interleaving of append, peek, commit, reopen and torn appends keeps FIFO order, loses nothing."""

    MAX_BYTES = 700

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="spool-machine-"))
        self.spool = self._open()
        self.model: deque[tuple[str, ...]] = deque()
        self.peeked: SpoolBatch | None = None
        self.appended = 0

    def _open(self) -> Spool:
        return Spool(self.directory, max_bytes=self.MAX_BYTES, segment_bytes=160)

    def _model_bytes(self) -> int:
        return sum(record_bytes(list(record)) for record in self.model)

    @rule(line_count=st.integers(1, 4), padding=st.integers(0, 40))
    def append(self, line_count: int, padding: int) -> None:
        lines = [f"m,n={self.appended} j={j}i {'x' * padding}" for j in range(line_count)]
        self.appended += 1
        if self._model_bytes() + record_bytes(lines) > self.MAX_BYTES:
            with pytest.raises(SpoolFull):
                self.spool.append(lines)
        else:
            self.spool.append(lines)
            self.model.append(tuple(lines))

    @rule(max_lines=st.integers(1, 9))
    def peek(self, max_lines: int) -> None:
        self.peeked = self.spool.peek(max_lines)
        if not self.model:
            assert self.peeked is None
            return
        assert self.peeked is not None
        taken = len(self.peeked.records)
        assert self.peeked.records == tuple(list(self.model)[:taken])
        assert taken == 1 or self.peeked.line_count <= max_lines
        if taken < len(self.model):  # it took as many whole batches as fit
            assert self.peeked.line_count + len(self.model[taken]) > max_lines

    @precondition(lambda self: self.peeked is not None)
    @rule()
    def commit(self) -> None:
        assert self.peeked is not None
        self.spool.commit(self.peeked)
        for _ in self.peeked.records:
            self.model.popleft()
        self.peeked = None

    @rule()
    def reopen(self) -> None:
        self.spool.close()
        self.spool = self._open()
        self.peeked = None

    @rule(garbage=st.binary(min_size=1, max_size=40))
    def crash_mid_append(self, garbage: bytes) -> None:
        self.spool.close()
        with segment_files(self.directory)[-1].open("ab") as f:
            f.write(garbage)
        self.spool = self._open()
        self.peeked = None

    @invariant()
    def depth_matches_the_model(self) -> None:
        assert self.spool.depth_batches == len(self.model)
        assert self.spool.depth_lines == sum(len(record) for record in self.model)
        assert self.spool.depth_bytes == self._model_bytes()

    def teardown(self) -> None:
        self.spool.close()
        shutil.rmtree(self.directory, ignore_errors=True)


TestSpoolMachine = SpoolMachine.TestCase
TestSpoolMachine.settings = settings(
    max_examples=120, stateful_step_count=40, deadline=None, database=None, print_blob=False
)


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from ingest.spool import Spool

    spool = Spool(Path(sys.argv[1]), max_bytes=1 << 30, segment_bytes=32 * 1024)
    index = 0
    while True:
        spool.append([f"kill,batch={index} line={j}i,pad=\\"{'p' * 100}\\"" for j in range(20)])
        print(index, flush=True)
        index += 1
    """
)


def test_every_batch_a_sigkilled_appender_reported_is_replayed_in_order(tmp_path: Path) -> None:
    script, directory, stderr_path = tmp_path / "child.py", tmp_path / "spool", tmp_path / "child.err"
    script.write_text(CHILD)
    reported: list[int] = []
    seen = threading.Condition()

    with stderr_path.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, str(script), str(directory)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert child.stdout is not None
    stdout = child.stdout

    def read_reports() -> None:
        for line in stdout:
            if line.endswith("\n"):  # a line cut short by the kill was never fully reported
                with seen:
                    reported.append(int(line))
                    seen.notify_all()

    reader = threading.Thread(target=read_reports)
    reader.start()
    try:
        with seen:
            enough = seen.wait_for(lambda: len(reported) >= 300, timeout=20)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        reader.join()
        stdout.close()
    assert enough, f"child reported {len(reported)} appends; stderr: {stderr_path.read_text()}"
    assert child.returncode == -signal.SIGKILL

    with Spool(directory, max_bytes=1 << 30) as spool:
        records = drain(spool, max_lines=500)
    replayed = [int(record[0].split("batch=")[1].split(" ")[0]) for record in records]

    assert replayed[: len(reported)] == reported == list(range(len(reported)))
    assert replayed == list(range(len(replayed)))  # at most an unreported last append beyond them
    assert all(len(record) == 20 for record in records)
