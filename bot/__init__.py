"""reelbot: a Discord bot that generates videos through an OpenAI-compatible /v1/videos provider."""

__version__ = "0.1.0"
