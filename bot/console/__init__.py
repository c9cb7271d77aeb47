"""The agents' console services: agents and sessions, the ticket desk, reports, FAQ additions
and conversation statistics."""
