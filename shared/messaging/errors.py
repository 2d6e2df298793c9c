class MessageRejected(Exception):
    """A handler refuses a well-formed message (spoofed origin, unknown member...): it is quarantined with this reason."""
