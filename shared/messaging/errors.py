class MessageRejected(Exception):
    """A handler refuses a well-formed message (spoofed origin, unknown member...): it is quarantined with this reason."""


class BatchContended(Exception):
    """A batch's transaction found that a copy of one of its items committed meanwhile (a redelivery after a
    broker restart): nothing of it committed, and the runtime runs it again at once, without that item."""
