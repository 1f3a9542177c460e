"""Readers that validate their input and raise errors naming the file, line and fix."""
