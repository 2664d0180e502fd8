"""The service layer: use cases over the event store, one method per thing a user does."""
