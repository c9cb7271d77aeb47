"""Live chat with a person: the bot hands a conversation to a help-desk agent and back."""
