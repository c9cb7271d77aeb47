"""Tickets: the request kinds and their fields, the ticket service, transcripts and business
hours."""
