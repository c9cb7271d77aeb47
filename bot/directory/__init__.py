"""Directory Administrators: the list per district and its import."""
