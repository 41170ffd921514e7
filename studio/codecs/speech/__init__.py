"""Speech-like tagging data: feature extraction, label sets, the codec a tagger carries, and CTC label decoding."""

from studio.codecs.speech.codec import SpeechCodec
from studio.codecs.speech.features import (
    IGNORE_INDEX,
    FeatureSettings,
    add_deltas,
    apply_cmvn,
    extract,
    frame_labels,
    mel_filterbank,
    read_audio,
    resample,
)
from studio.codecs.speech.labels import BLANK, DROP, LabelSet

__all__ = [
    "BLANK",
    "DROP",
    "IGNORE_INDEX",
    "FeatureSettings",
    "LabelSet",
    "SpeechCodec",
    "add_deltas",
    "apply_cmvn",
    "extract",
    "frame_labels",
    "mel_filterbank",
    "read_audio",
    "resample",
]
