"""LightningModules: the language model (text and MIDI events), the sequence tagger, the word tagger and the sequence classifier."""

from studio.models.classifier import SequenceClassifier
from studio.models.language_model import RecurrentLanguageModel
from studio.models.tagger import SequenceTagger
from studio.models.word_tagger import WordTagger

__all__ = ["RecurrentLanguageModel", "SequenceClassifier", "SequenceTagger", "WordTagger"]
