"""The CUDA paths (cuDNN kernels, bf16 training, sampling on the GPU, DDP over NCCL), run where a GPU is.

Every test here is skipped on a machine without CUDA; `pytest tests/test_cuda.py` on a GPU box runs them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_TEXT_FIT, run_studio

from studio.codecs.midi import MidiCodec
from studio.generation.midi import sample_pieces
from studio.generation.sampling import SamplingSettings, generate
from studio.models import RecurrentLanguageModel
from studio.nn.padding import run_over_padding
from studio.nn.recurrent import RecurrentStack

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.fixture()
def exact_cudnn() -> Iterator[None]:
    """Full fp32 arithmetic in cuDNN and cuBLAS, so GPU results can be compared with CPU ones closely."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_cudnn_run_matches_the_cpu_run_over_padding(cell: str, exact_cudnn: None) -> None:
    torch.manual_seed(0)
    stack = RecurrentStack(5, 7, num_layers=2, cell=cell, bidirectional=True)
    x = torch.randn(4, 12, 5)
    lengths = torch.tensor([12, 5, 9, 1])
    on_cpu = run_over_padding(stack, x, lengths)
    on_gpu = run_over_padding(stack.cuda(), x.cuda(), lengths)
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-4, atol=1e-5)


def test_the_language_model_gives_the_cpu_logits_on_the_gpu(exact_cudnn: None) -> None:
    torch.manual_seed(0)
    model = RecurrentLanguageModel(vocab_size=11, embedding_dim=8, hidden_size=16, num_layers=2).eval()
    tokens = torch.randint(0, 11, (3, 20))
    with torch.no_grad():
        on_cpu, _ = model(tokens)
        on_gpu, _ = model.cuda()(tokens.cuda())
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-4, atol=1e-5)


def test_gpu_sampling_is_seeded_and_carried_state_equals_rerunning_the_prefix() -> None:
    torch.manual_seed(0)
    model = RecurrentLanguageModel(vocab_size=11, embedding_dim=8, hidden_size=16, num_layers=2).cuda().eval()
    a = generate(model, [1, 2, 3], 40, 8, SamplingSettings(top_k=5), seed=5)
    b = generate(model, [1, 2, 3], 40, 8, SamplingSettings(top_k=5), seed=5)
    assert a == b and a != generate(model, [1, 2, 3], 40, 8, SamplingSettings(top_k=5), seed=6)
    assert all(0 <= t < 11 for row in a for t in row)
    greedy = generate(model, [1, 4, 2], 15, 1, SamplingSettings(temperature=1e-4), seed=0)[0]
    sequence = [1, 4, 2]
    with torch.no_grad():
        for _ in range(15):
            logits, _ = model(torch.tensor([sequence], device="cuda"))
            sequence.append(int(logits[0, -1].argmax()))
    assert greedy == sequence[3:]


def test_midi_pieces_sampled_on_the_gpu_keep_the_grammar() -> None:
    codec = MidiCodec()
    torch.manual_seed(0)
    model = RecurrentLanguageModel(vocab_size=codec.vocab_size, embedding_dim=16, hidden_size=32).cuda().eval()
    pieces = sample_pieces(model, codec, 4, SamplingSettings(), seed=3, seconds=4.0, max_note_seconds=1.0)
    assert len(pieces) == 4
    for piece in pieces:
        assert piece.seconds == pytest.approx(4.0, abs=0.01) and piece.notes > 0
        notes = [n for inst in piece.midi.instruments for n in inst.notes]
        assert max(n.end - n.start for n in notes) <= 1.0 + codec.step_seconds
        assert max(n.end for n in notes) <= 4.0 + 1e-6
        assert piece.ids[-1] == codec.eos_id


@pytest.mark.slow
def test_bf16_gpu_preset_trains_and_samples_on_the_gpu(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    fit = run_studio(
        [
            *TINY_TEXT_FIT,
            "--config",
            str(ROOT / "configs/trainer/gpu-bf16.yaml"),
            "--data.init_args.path",
            str(small_corpus),
            "--trainer.max_steps",
            "20",
            "--run_name",
            "gpu",
        ],
        tmp_path,
        studio_env,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "checkpoints/gpu/last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 20
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())
    sample = run_studio(
        [
            "sample",
            "--ckpt",
            str(tmp_path / "checkpoints/gpu/last.ckpt"),
            "--device",
            "cuda",
            "--length",
            "30",
            "--num_samples",
            "2",
            "--seed",
            "1",
        ],
        tmp_path,
        studio_env,
    )
    assert sample.returncode == 0, sample.stderr[-3000:]
    assert sample.stdout.count("----- sample") == 2


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DDP over NCCL needs two GPUs")
def test_ddp_preset_over_nccl_writes_one_checkpoint(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    fit = run_studio(
        [
            *TINY_TEXT_FIT,
            "--config",
            str(ROOT / "configs/trainer/ddp.yaml"),
            "--trainer.devices",
            "2",
            "--data.init_args.path",
            str(small_corpus),
            "--trainer.max_steps",
            "10",
            "--run_name",
            "nccl",
        ],
        tmp_path,
        studio_env,
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    run = tmp_path / "checkpoints/nccl"
    assert sorted(p.name for p in run.glob("*.ckpt")) == ["last.ckpt"]
    assert torch.load(run / "last.ckpt", weights_only=True)["global_step"] == 10
