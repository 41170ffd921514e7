"""What the Trainer calls: sample loggers, throughput, the non-finite guard, last-checkpoint refresh, W&B, checkpoint files."""
