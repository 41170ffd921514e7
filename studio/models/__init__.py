"""LightningModules: the language model (text and MIDI events) and the sequence tagger."""

from studio.models.language_model import RecurrentLanguageModel
from studio.models.tagger import SequenceTagger

__all__ = ["RecurrentLanguageModel", "SequenceTagger"]
