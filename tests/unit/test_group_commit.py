"""The group commit's own rules, without a database (``ledger.group_commit``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ledger.group_commit import GroupCommit, Save


def test_a_leader_that_cannot_open_its_transaction_leaves_its_save_to_be_tried_alone() -> None:
    opened: list[str] = []

    @contextmanager
    def begin() -> Iterator[str]:
        if not opened:
            opened.append("refused")
            raise RuntimeError("the store cannot be opened")
        opened.append("open")
        yield "transaction"

    written: list[object] = []

    def write(transaction: str, saves: list[Save]) -> None:
        assert transaction == "transaction"
        for save in saves:
            save.ids = [len(written) + 1]
            written.append(save.events)

    group: GroupCommit[str] = GroupCommit(begin, write)
    first = group.submit(["a"])
    assert first.alone and first.ids is None and first.done
    assert group.groups == 0 and not group._queued  # nothing written, nothing left queued

    second = group.submit(["b"])
    assert second.ids == [1] and not second.alone
    assert written == [["b"]] and group.groups == 1
