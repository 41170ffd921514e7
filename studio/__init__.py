"""Studio: train recurrent networks on text, MIDI and speech-like data with PyTorch Lightning."""

__version__ = "0.1.0"
