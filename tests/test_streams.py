"""Stateful TBPTT batching: streams continue across chunks, ranks split the corpus, position resumes."""

from __future__ import annotations

import numpy as np
import torch

from datamodules.streams import StreamBatches


def test_each_row_continues_the_previous_chunk() -> None:
    tokens = torch.arange(1001)
    batches = StreamBatches(tokens, batch_size=4, seq_len=32)
    chunks = list(batches)
    assert len(chunks) == len(batches) == 8  # 250 tokens per stream -> 7 full chunks and one of 26
    for (x0, y0), (x1, _) in zip(chunks, chunks[1:]):
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row b picks up right where it stopped
        assert torch.equal(y0, x0 + 1)  # targets are the next tokens
    rows = torch.cat([x for x, _ in chunks], dim=1)
    assert torch.equal(rows, torch.arange(1000).view(4, 250))  # every token read once, in order


def test_ranks_read_disjoint_streams_that_cover_the_corpus() -> None:
    tokens = torch.arange(2001)
    seen = []
    for rank in range(2):
        rows = torch.cat([x for x, _ in StreamBatches(tokens, 3, 50, rank=rank, world_size=2)], dim=1)
        seen.append(rows.flatten())
    assert not set(seen[0].tolist()) & set(seen[1].tolist())
    assert sorted(torch.cat(seen).tolist()) == list(range(2000 - 2000 % 6))


def test_position_round_trips_through_state_dict() -> None:
    tokens = torch.arange(1001)
    full = list(StreamBatches(tokens, 4, 32))
    batches = StreamBatches(tokens, 4, 32)
    iterator = iter(batches)
    for _ in range(3):
        next(iterator)
    state = batches.state_dict()
    resumed = StreamBatches(tokens, 4, 32)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert state == {"position": 3} and len(rest) == 5
    assert all(torch.equal(a[0], b[0]) for a, b in zip(rest, full[3:]))
    resumed.load_state_dict({"position": len(full)})  # a finished epoch restarts from the top
    assert len(list(resumed)) == len(full)


def test_consumed_counter_overrides_prefetching() -> None:
    """What the trainer consumed, not what was prefetched, decides where a resume starts."""
    consumed = {"n": 2}
    batches = StreamBatches(torch.arange(1001), 4, 32, consumed=lambda: consumed["n"])
    iterator = iter(batches)
    for _ in range(3):
        next(iterator)
    assert batches.state_dict() == {"position": 2}


def test_a_memory_mapped_corpus_gives_the_same_int64_batches(tmp_path) -> None:
    """The token store's uint16 memory map reads as the tensor would: int64 chunks, same values, same resume."""
    path = tmp_path / "ids.bin"
    np.arange(1001, dtype=np.uint16).tofile(path)
    mapped = np.memmap(path, dtype=np.uint16, mode="r", shape=(1001,))
    for rank in range(2):
        from_map = list(StreamBatches(mapped, 3, 50, rank=rank, world_size=2))
        from_tensor = list(StreamBatches(torch.arange(1001), 3, 50, rank=rank, world_size=2))
        assert len(from_map) == len(from_tensor)
        for (x, y), (x0, y0) in zip(from_map, from_tensor):
            assert x.dtype == y.dtype == torch.int64
            assert torch.equal(x, x0) and torch.equal(y, y0)
