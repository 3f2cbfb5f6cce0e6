"""Fixtures for the provider simulator (filled in with the simulator)."""
