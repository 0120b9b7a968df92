"""The operator console at /console: live fleet, routing decisions, spend, bans and keys (admin key)."""
