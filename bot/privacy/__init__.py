"""Personal data in conversations: what the tracker store keeps, and for how long."""
