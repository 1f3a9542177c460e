"""genotx tasks/therapeutics layer."""
