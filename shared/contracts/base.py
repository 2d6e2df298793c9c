"""What every contract shares: strict, immutable, documented."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.1"


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def field(description: str, example: Any, **kwargs: Any) -> Any:
    """A documented field; every contract field carries a description and an example."""
    return Field(description=description, examples=[example], **kwargs)
