"""LightningModules: the language model (text and MIDI events) and the sequence tagger."""

from studio.models.language_model import RecurrentLanguageModel

MODELS = {RecurrentLanguageModel.task: RecurrentLanguageModel}

__all__ = ["RecurrentLanguageModel", "MODELS"]
