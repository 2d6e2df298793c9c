"""Security: who may reach what on the broker, signatures, API roles. Pure logic apart from the adapters."""
