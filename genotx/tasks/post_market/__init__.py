"""genotx tasks/post_market layer."""
