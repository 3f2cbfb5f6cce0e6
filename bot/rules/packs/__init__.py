"""Data only: the built-in rule packs (*.toml) read by bot.rules.engine; a package so they ship in wheels."""
