"""LightningModules: the language model (text and MIDI events), the sequence tagger and the sequence classifier."""

from studio.models.classifier import SequenceClassifier
from studio.models.language_model import RecurrentLanguageModel
from studio.models.tagger import SequenceTagger

__all__ = ["RecurrentLanguageModel", "SequenceClassifier", "SequenceTagger"]
