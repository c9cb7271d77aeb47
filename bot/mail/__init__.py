"""Mail: the outbox, the delivery worker and the local mail catcher."""
