"""Slash-command cogs: thin adapters between Discord interactions and the bot's services."""
