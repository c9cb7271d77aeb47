"""Knowledge: the answers, contacts and districts read from knowledge/."""
