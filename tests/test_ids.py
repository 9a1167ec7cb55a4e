"""Identifiers: the random bytes behind them are read from the OS a page at a time, and each
byte is handed out once, in this process and in a forked worker."""

from __future__ import annotations

import os
import re

from switchboard import ids

SHAPE = re.compile(r"req_01[0-9A-Za-z]{22}")


def test_ids_have_their_shape_and_do_not_repeat_across_pages() -> None:
    made = [ids.request_id() for _ in range(2_000)]  # ~11 pages of random bytes
    assert all(SHAPE.fullmatch(i) for i in made)
    assert len(set(made)) == len(made)


def test_a_forked_worker_never_hands_out_its_parents_bytes() -> None:
    ids.request_id()  # the parent holds a page it has begun
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the ids it would make next
        os.write(write, " ".join(ids.request_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 1 << 16).decode().split())
    os.close(read)
    parent = {ids.request_id() for _ in range(50)}
    assert len(child) == 50
    assert not child & parent
