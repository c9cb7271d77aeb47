"""Account recovery: identity matching, reset tokens, passwords and the accounts import."""
