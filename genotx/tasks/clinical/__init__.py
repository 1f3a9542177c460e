"""genotx tasks/clinical layer."""
