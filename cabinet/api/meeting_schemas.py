"""Request and response bodies of the meeting endpoints: meetings, participants, agenda, positions,
documents.

Only the shape of the data is checked here (types, known values, times with their offset); the
rules — who may do what, which values make a valid meeting — are the services'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from flask_babel import gettext as _
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    field_validator,
)
from werkzeug.datastructures import FileStorage

from cabinet.api.schemas import Strict

MeetingKindName = Literal["regular", "thematic", "extraordinary", "online"]
MeetingStatusName = Literal["scheduled", "cancelled"]
ParticipantRoleName = Literal["chair", "member", "secretary", "guest"]
AttendanceName = Literal["invited", "confirmed", "absent"]
DeputyStatusName = Literal["pending", "approved", "rejected"]
AgendaStatusName = Literal["planned", "in_discussion", "concluded", "deferred"]
StanceName = Literal["agree", "comment", "debate"]


def to_utc(value: datetime) -> datetime:
    """An aware time, moved to UTC; a time that leaves the calendar (year 1 or 9999) is refused."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(_("This time is out of range.")) from exc


# A time with its offset (2025-03-03T08:00:00+07:00 or …Z), as a JSON string only: a naive time
# or a number is refused (422) rather than guessed.
Moment = Annotated[AwareDatetime, Field(strict=True), AfterValidator(to_utc)]


def _drop_default(schema: dict) -> None:
    schema.pop("default", None)


def optional(**kwargs):
    """A field that may be left out, but not sent as ``null`` (PATCH: left out = unchanged)."""
    return Field(default=None, json_schema_extra=_drop_default, **kwargs)


# --- requests ---------------------------------------------------------------------------------


class ParticipantIn(Strict):
    user_id: StrictInt
    role: ParticipantRoleName


class _Participants(Strict):
    @field_validator("participants", check_fields=False)
    @classmethod
    def _one_entry_per_person(cls, participants: list[ParticipantIn]) -> list[ParticipantIn]:
        ids = [p.user_id for p in participants]
        if len(set(ids)) != len(ids):
            raise ValueError(_("Each person may be listed only once."))
        return participants


class MeetingCreate(_Participants):
    kind: MeetingKindName = "regular"
    title: str = Field(max_length=1000)
    description: str = ""
    starts_at: Moment = Field(description="ISO 8601 with the offset, e.g. 2025-03-03T08:00:00+07:00.")
    ends_at: Moment = Field(description="ISO 8601 with the offset.")
    place: str = Field(default="", max_length=1000)
    online_url: str = Field(default="", max_length=2000)
    participants: list[ParticipantIn] = Field(
        max_length=500, description="Everyone invited, with their role in this meeting: exactly "
                                    "one chair; chair and members must be Government members.")


class MeetingUpdate(_Participants):
    """Only the fields sent change; ``participants``, when sent, replaces the whole list."""

    kind: MeetingKindName = optional()
    title: str = optional(max_length=1000)
    description: str = optional()
    starts_at: Moment = optional()
    ends_at: Moment = optional()
    place: str = optional(max_length=1000)
    online_url: str = optional(max_length=2000)
    participants: list[ParticipantIn] = optional(max_length=500)


class CancelIn(Strict):
    reason: str = Field(description="Why the meeting is cancelled; participants see it.")


class AttendanceIn(Strict):
    attending: StrictBool
    reason: str = Field(default="", description="Required when not attending.")
    deputy_id: StrictInt | None = Field(
        default=None, description="When not attending: the account who comes instead (the chair "
                                  "approves; a deputy does not vote).")


class DeputyDecisionIn(Strict):
    approve: StrictBool


class AgendaItemCreate(Strict):
    title: str = Field(max_length=2000)
    presenter_organisation: str = Field(default="", max_length=1000)
    presenter_name: str = Field(default="", max_length=1000)
    minutes: StrictInt = Field(default=15, description="Planned time, 0 to 600 minutes.")


class AgendaItemUpdate(Strict):
    title: str = optional(max_length=2000)
    presenter_organisation: str = optional(max_length=1000)
    presenter_name: str = optional(max_length=1000)
    minutes: StrictInt = optional()
    status: AgendaStatusName = optional()
    conclusion: str = optional()


class ReorderIn(Strict):
    order: list[StrictInt] = Field(max_length=1000,
                                   description="Every item id of the meeting, once, in the new order.")


class PositionIn(Strict):
    stance: StanceName = Field(description="agree (Thống nhất), comment (Có ý kiến: write the "
                                           "comment), debate (Đề nghị thảo luận).")
    comment: str = ""


class ConsentIn(Strict):
    passes_without_debate: StrictBool


# --- responses --------------------------------------------------------------------------------


class PersonRef(BaseModel):
    id: int
    full_name: str


class PersonOut(PersonRef):
    title: str
    organisation: str


class MeetingOut(BaseModel):
    id: int
    kind: MeetingKindName
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    place: str
    online_url: str
    status: MeetingStatusName
    cancel_reason: str
    agenda_approved_at: datetime | None
    chair: PersonRef | None
    my_role: ParticipantRoleName | None = Field(
        description="Your role in this meeting (an approved deputy is a guest); null for "
                    "secretariat staff who are not participants.")


class MeetingList(BaseModel):
    meetings: list[MeetingOut]


class ParticipantOut(BaseModel):
    id: int = Field(description="The participation's id (used to decide on a deputy).")
    user: PersonOut
    role: ParticipantRoleName
    attendance: AttendanceName
    responded_at: datetime | None
    absence_reason: str | None = Field(
        description="Shown to the secretariat, the chair and the participant themself; else null.")
    deputy: PersonRef | None
    deputy_status: DeputyStatusName | None
    deputy_decided_at: datetime | None


class ParticipantList(BaseModel):
    participants: list[ParticipantOut]


class AgendaItemOut(BaseModel):
    id: int
    meeting_id: int
    position: int
    title: str
    presenter_organisation: str
    presenter_name: str
    minutes: int
    status: AgendaStatusName
    conclusion: str
    passes_without_debate: bool


class AgendaItemList(BaseModel):
    items: list[AgendaItemOut]


class PositionOut(BaseModel):
    item_id: int
    user: PersonRef
    stance: StanceName
    comment: str
    updated_at: datetime | None


class BoardOut(BaseModel):
    counts: dict[str, int] = Field(description="How many members took each stance.")
    positions: list[PositionOut]
    missing: list[PersonRef] = Field(description="Voting members who have not stated a position.")
    contested: bool = Field(description="Someone asked for debate: the item cannot pass without it.")


class PositionsOut(BaseModel):
    item_id: int
    mine: PositionOut | None = Field(description="Your own position, if you stated one.")
    board: BoardOut | None = Field(description="For the chair and the secretariat only; else null.")


# --- documents --------------------------------------------------------------------------------

DocTypeName = Literal["to_trinh", "du_thao", "bao_cao", "bao_cao_tham_dinh", "other"]
SecrecyName = Literal["none", "mat", "toi_mat", "tuyet_mat"]
UrgencyName = Literal["none", "khan", "thuong_khan", "hoa_toc"]
DocumentStatusName = Literal["draft", "published", "recalled"]


def _a_file(value):
    if not isinstance(value, FileStorage) or not value.filename:
        raise ValueError(_("Choose a file to upload."))
    return value


def _blank_is_none(value):
    return None if isinstance(value, str) and not value.strip() else value


UploadedFile = Annotated[Any, PlainValidator(_a_file), WithJsonSchema({
    "type": "string", "format": "binary", "contentMediaType": "application/octet-stream",
    "description": "The file: a PDF, or a Word DOCX (converted to PDF on the server). Its content "
                   "decides, not its name."})]


class DocumentUpload(Strict):
    """The parts of a multipart/form-data upload (every part but ``file`` is text)."""

    file: UploadedFile
    title: str = Field(max_length=1000)
    doc_type: DocTypeName = Field(description="to_trinh (Tờ trình), du_thao (Dự thảo), bao_cao "
                                              "(Báo cáo), bao_cao_tham_dinh (Báo cáo thẩm định), other.")
    secrecy: SecrecyName = Field(description="Độ mật; your own clearance must cover it. Classified "
                                             "documents are only served watermarked.")
    urgency: UrgencyName = Field(default="none", description="Độ khẩn.")
    agenda_item_id: Annotated[int | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, description="The agenda item the document belongs to; empty for the whole "
                                  "meeting.")


class RecallIn(Strict):
    reason: str = Field(default="", description="Why the document is recalled (thu hồi).")


class VersionOut(BaseModel):
    number: int
    filename: str
    media_type: str
    size: int
    page_count: int | None
    has_pdf: bool = Field(description="False for a DOCX that could not be converted: no content "
                                      "to show.")
    conversion_note: str
    uploaded_at: datetime | None


class DocumentOut(BaseModel):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    title: str
    doc_type: DocTypeName
    secrecy: SecrecyName
    urgency: UrgencyName
    status: DocumentStatusName
    published_at: datetime | None
    published_late: bool = Field(description="Published after the deadline for documents.")
    recalled_at: datetime | None
    recall_reason: str
    created_at: datetime | None
    updated_at: datetime | None
    version: VersionOut | None = Field(description="The current version.")


class DocumentListItem(DocumentOut):
    unread: bool = Field(description="Published, and you have not opened its current version.")


class DocumentList(BaseModel):
    documents: list[DocumentListItem]
