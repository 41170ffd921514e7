"""bf16 mixed precision where the machine computes bf16 natively, 32-bit with a one-line note elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from studio.cli.fit import StudioCLI

TEXT_QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "text" / "quickstart.yaml"
PROBES = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")


def _cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: bool, precision: str) -> StudioCLI:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    for probe in PROBES:
        monkeypatch.setattr(torch.cpu, probe, lambda: native, raising=False)
    args = ["--config", str(TEXT_QUICKSTART), "--trainer.precision", precision, "--trainer.logger", "false"]
    return StudioCLI(args=args, run=False)


def test_bf16_trains_in_32_bit_on_a_cpu_without_native_bf16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    cli = _cli(tmp_path, monkeypatch, native=False, precision="bf16-mixed")
    assert cli.trainer.precision == "32-true"
    err = capsys.readouterr().err
    assert "training in 32-true, not bf16-mixed: this CPU has no native bf16" in err
    assert len([line for line in err.splitlines() if line.startswith("studio:")]) == 1


def test_bf16_stays_where_the_cpu_computes_it_natively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    cli = _cli(tmp_path, monkeypatch, native=True, precision="bf16-mixed")
    assert cli.trainer.precision == "bf16-mixed"
    assert "32-true" not in capsys.readouterr().err


def test_other_precisions_are_left_as_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _cli(tmp_path, monkeypatch, native=False, precision="64-true").trainer.precision == "64-true"
