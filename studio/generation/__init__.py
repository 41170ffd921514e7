"""Generation without a command line: load a checkpoint once, then generate text or MIDI, tag, or classify."""

from studio.generation.api import Generator
from studio.generation.beam_search import BeamSettings
from studio.generation.decoding import GenerationInterrupted
from studio.generation.midi import Piece
from studio.generation.sampling import SamplingSettings

__all__ = ["BeamSettings", "GenerationInterrupted", "Generator", "Piece", "SamplingSettings"]
