"""The MIDI event codec (Performance RNN's NOTE_ON / NOTE_OFF / TIME_SHIFT / VELOCITY) and MIDI file reading."""

from studio.codecs.midi.codec import MidiCodec, load_midi

__all__ = ["MidiCodec", "load_midi"]
