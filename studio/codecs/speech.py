"""Speech codec: feature settings and extraction plus label sets, gathered in one import."""

from studio.codecs.speech_features import (
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
from studio.codecs.speech_labels import BLANK, DROP, LabelSet

__all__ = [
    "BLANK",
    "DROP",
    "IGNORE_INDEX",
    "FeatureSettings",
    "LabelSet",
    "add_deltas",
    "apply_cmvn",
    "extract",
    "frame_labels",
    "mel_filterbank",
    "read_audio",
    "resample",
]
