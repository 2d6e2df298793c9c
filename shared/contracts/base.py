"""What every contract shares: strict, immutable, documented."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.4"


class Contract(BaseModel):
    # NaN and Infinity are not JSON (RFC 8259) and no schema number admits them; pydantic would read them
    # and write them back as null, so a message would not survive its own round trip.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


def field(description: str, example: Any, **kwargs: Any) -> Any:
    """A documented field; every contract field carries a description and an example."""
    return Field(description=description, examples=[example], **kwargs)
