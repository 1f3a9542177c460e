"""Domain tools that are not models: a short-read aligner, an eligibility-criteria grammar."""
