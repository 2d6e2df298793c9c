"""Compact storage of record references: platform index, 16-byte message id, position."""

from array import array
import uuid

from services.enrichment.domain.matching.records import RecordRef

_ID_BYTES = 16


class RefStore:
    def __init__(self) -> None:
        self._platforms: list[str] = []
        self._platform_ids: dict[str, int] = {}
        self._platform = array("H")
        self._message = bytearray()
        self._position = array("I")
        self._irregular_ids: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._platform)

    def append(self, ref: RecordRef) -> int:
        record = len(self._platform)
        platform_id = self._platform_ids.get(ref.platform)
        if platform_id is None:
            platform_id = self._platform_ids[ref.platform] = len(self._platforms)
            self._platforms.append(ref.platform)
        self._platform.append(platform_id)
        try:
            raw = uuid.UUID(str(ref.message_id)).bytes
            if str(uuid.UUID(bytes=raw)) != str(ref.message_id):
                raise ValueError
        except ValueError:
            raw = bytes(_ID_BYTES)
            self._irregular_ids[record] = str(ref.message_id)
        self._message += raw
        self._position.append(ref.position)
        return record

    def get(self, record: int) -> RecordRef:
        message_id = self._irregular_ids.get(record)
        if message_id is None:
            start = record * _ID_BYTES
            message_id = str(uuid.UUID(bytes=bytes(self._message[start : start + _ID_BYTES])))
        return RecordRef(self._platforms[self._platform[record]], message_id, self._position[record])
