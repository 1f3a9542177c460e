"""Seeded generators of simulated data: they return data and write nothing.

Each simulator takes a ``random_state`` and real parts as arguments (a genome, patients' variables,
footprint matrices...) and returns arrays or tables; caching and files belong to the callers.
"""
