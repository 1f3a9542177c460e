"""genotx tasks/target_discovery layer."""
