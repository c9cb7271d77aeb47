"""The conversation: what a message means where it is said, and what the bot does next."""
