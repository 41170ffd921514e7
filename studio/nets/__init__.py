"""The networks as plain PyTorch modules: what inference rebuilds from a checkpoint, with no Lightning to import.

Each LightningModule of `studio.models` extends one of them with its training (losses, metrics,
optimizer), so both hold the same parameters under the same names and a checkpoint loads into either.
"""
