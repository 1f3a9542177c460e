"""genotx challenges layer."""
