"""Every preset under configs/ parses with the real CLI (types, class paths, argument names)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio.cli.fit import StudioCLI

TEXT_QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "text" / "quickstart.yaml"
PRESETS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


def test_the_documented_presets_exist() -> None:
    names = {str(p.relative_to(p.parents[1])) for p in PRESETS}
    assert {"text/quickstart.yaml", "text/char-lstm.yaml"} <= names


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_preset_parses(preset: Path, capsys: pytest.CaptureFixture) -> None:
    raw = yaml.safe_load(preset.read_text())
    # A trainer-only overlay (configs/trainer/) is composed after a task preset, as the README shows.
    configs = [str(preset)] if "model" in raw else [str(TEXT_QUICKSTART), str(preset)]
    with pytest.raises(SystemExit) as exit_info:
        StudioCLI(args=["fit", *[a for c in configs for a in ("--config", c)], "--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    for key, value in raw.get("trainer", {}).items():
        if key != "callbacks":
            assert printed["trainer"][key] == value, key
    if "model" in raw:
        assert printed["model"]["class_path"] == raw["model"]["class_path"]
        assert printed["data"]["class_path"] == raw["data"]["class_path"]


@pytest.mark.parametrize("preset, stateful", [("midi/quickstart.yaml", False), ("text/quickstart.yaml", True)])
def test_the_data_decides_whether_training_carries_state(
    preset: str, stateful: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MIDI run cannot be stateful (independent windows) nor a text run stateless, whatever the flags say."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    config = str(TEXT_QUICKSTART.parents[1] / preset)
    wrong = str(not stateful).lower()
    extra = ["--data.init_args.limit", "3"] if preset.startswith("midi") else []
    cli = StudioCLI(
        args=["--config", config, "--model.init_args.stateful", wrong, "--trainer.logger", "false", *extra],
        run=False,
    )
    assert cli.model.hparams.stateful is stateful


def test_the_imdb_preset_is_the_keras_example_layer_for_layer() -> None:
    """Embedding(10000, 32) -> SimpleRNN(32) -> Dense(1, sigmoid); Adam 1e-3; BCE; 100 tokens; batch 64; 3 epochs."""
    from torch import nn

    from studio.models import SequenceClassifier

    raw = yaml.safe_load((TEXT_QUICKSTART.parents[1] / "classify" / "imdb-simplernn.yaml").read_text())
    data, trainer = raw["data"]["init_args"], raw["trainer"]
    assert (data["num_words"], data["max_len"], data["truncating"], data["val_fraction"], data["batch_size"]) == (
        10000, 100, "pre", 0.2, 64,
    )  # fmt: skip
    assert trainer["max_epochs"] == 3 and data["tokenizer"] == "word"
    model = SequenceClassifier(**raw["model"]["init_args"], input_size=10000, num_classes=2, input_kind="tokens")
    assert isinstance(model.embed, nn.Embedding) and tuple(model.embed.weight.shape) == (10000, 32)
    rnn = model.rnn.rnn
    assert isinstance(rnn, nn.RNN) and rnn.nonlinearity == "tanh" and (rnn.hidden_size, rnn.num_layers) == (32, 1)
    assert not rnn.bidirectional and model.hparams.pooling == "last"  # return_sequences=False: the last state
    assert (model.head.in_features, model.head.out_features) == (32, 1) and model.hparams.head == "sigmoid"
    settings = model.hparams
    assert (settings.lr, tuple(settings.betas), settings.weight_decay, settings.scheduler) == (
        1e-3,
        (0.9, 0.999),
        0.0,
        "constant",
    )
    # Keras' SimpleRNN has one bias vector where PyTorch keeps two (their sum is what acts): 32 more numbers.
    assert sum(p.numel() for p in model.parameters()) == 320_000 + 2_080 + 32 + 33
