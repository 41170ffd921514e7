"""`python -m studio` runs the `studio` command (torchrun and srun launch it this way)."""

from studio.cli import main

main()
