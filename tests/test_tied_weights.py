"""Weight tying in the language model (`tie_weights`): the output layer reads the input embedding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from studio.cli.fit import StudioCLI
from studio.nets.language_model import LanguageModelNet


def tied() -> LanguageModelNet:
    """A small tied network, the same each call."""
    torch.manual_seed(0)
    return LanguageModelNet(vocab_size=12, embedding_dim=8, hidden_size=16, num_layers=2, tie_weights=True)


def count(model: torch.nn.Module) -> int:
    """Parameters, a shared tensor counted once."""
    return sum(p.numel() for p in model.parameters())


def test_the_head_is_the_embedding_behind_a_projection_to_its_width() -> None:
    net = tied()
    assert net.head.weight is net.embedding.weight
    assert net.project is not None and (net.project.in_features, net.project.out_features) == (16, 8)
    untied = LanguageModelNet(vocab_size=12, embedding_dim=8, hidden_size=16, num_layers=2)
    assert count(net) == count(untied) - 16 * 12 + 16 * 8 + 8  # the head's matrix gives way to the projection's


def test_a_character_never_read_still_learns_its_embedding_from_the_output() -> None:
    net = tied()
    tokens = torch.tensor([[1, 2, 1, 2, 1]])
    before = net.embedding.weight[7].detach().clone()
    logits, _ = net(tokens)
    F.cross_entropy(logits.reshape(-1, 12), torch.tensor([2, 1, 2, 1, 7])).backward()
    torch.optim.SGD(net.parameters(), lr=0.5).step()
    assert not torch.equal(net.embedding.weight[7], before)  # 7 is only ever a target
    assert net.head.weight is net.embedding.weight


def test_a_saved_tied_network_loads_tied_and_gives_the_same_logits() -> None:
    net = tied()
    torch.manual_seed(1)
    copy = LanguageModelNet(vocab_size=12, embedding_dim=8, hidden_size=16, num_layers=2, tie_weights=True)
    copy.load_state_dict(net.state_dict())
    assert copy.head.weight is copy.embedding.weight
    tokens = torch.tensor([[3, 4, 5]])
    assert torch.equal(net.eval()(tokens)[0], copy.eval()(tokens)[0])


def test_the_text_quickstart_trains_a_tied_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    preset = Path(__file__).resolve().parents[1] / "configs" / "text" / "quickstart.yaml"
    cli = StudioCLI(args=["--config", str(preset), "--trainer.logger", "false"], run=False)
    assert cli.model.head.weight is cli.model.embedding.weight
