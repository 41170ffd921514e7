"""Class paths that runs saved before the package was layered still name, mapped to where the classes live now.

A `config.yaml` written by an earlier `studio fit` holds paths such as `studio.callbacks.TextSampleLogger`;
registering the old module names lets such a run resume unchanged.
"""

from __future__ import annotations

import importlib
import sys
import types

# old module -> (new module, names it held)
OLD_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "studio.callbacks": ("studio.training.text_samples", ("TextSampleLogger",)),
    "studio.midi_callbacks": ("studio.training.midi_samples", ("MidiSampleLogger",)),
    "studio.tracking": ("studio.training.tracking", ("StudioWandbLogger", "wandb_online")),
    "studio.numerics": ("studio.training.nonfinite", ("NonFiniteGuard",)),
    "studio.checkpoint_schedule": ("studio.training.last_checkpoint", ("RefreshLastCheckpoint",)),
}


def alias_old_class_paths() -> None:
    """Make each old module name importable, holding the classes it used to define."""
    for old, (new, names) in OLD_MODULES.items():
        if old in sys.modules:
            continue
        module = importlib.import_module(new)
        alias = types.ModuleType(old, f"Old name of {new}, kept so saved run configs still load.")
        for name in names:
            setattr(alias, name, getattr(module, name))
        sys.modules[old] = alias
