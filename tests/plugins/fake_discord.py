"""Fixtures for the fake Discord (filled in with the fake)."""
