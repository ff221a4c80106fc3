"""The shape of annotations as clients send them and receive them (pydantic; also the API schema).

Input is checked strictly here — types, bounds, the size of the geometry — so that nothing
unbounded or out of the page ever reaches the database. The rules that need the database (the
page exists in that version, the kind matches the geometry, who may share with whom) are the
service's (:mod:`cabinet.annotations.service`).

Coordinates are fractions of the page (0..1, origin at the top left, x to the right, y down), so
an annotation lands in the same place whatever the zoom, the screen or the renderer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from cabinet.annotations.models import BODY_MAX_CHARS

MAX_STROKES = 200
MAX_POINTS = 5000  # in all the strokes of one annotation
MAX_RECTS = 200
QUOTE_MAX_CHARS = 4000
QUOTE_CONTEXT_MAX_CHARS = 200
MAX_SHARES = 200
PUBLIC_ID_PATTERN = r"^[0-9a-f]{32}$"

KindName = Literal["pen", "highlight", "note"]
ColourName = Literal["yellow", "green", "blue", "red", "purple"]
VisibilityName = Literal["private", "meeting", "participants"]
MotivationName = Literal["drawing", "highlighting", "commenting"]

# A JSON number (not a string), finite, within the page.
class Strict(BaseModel):
    """Unknown fields are refused; no text holds NUL (as cabinet.api.schemas.Strict: not imported
    from there, because the API package imports this module)."""

    model_config = ConfigDict(extra="forbid", str_max_length=10_000)

    @field_validator("*")
    @classmethod
    def _no_nul_character(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value


Coord = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]
Point = tuple[Coord, Coord]
# x, y, width, height of a rectangle, all fractions of the page.
Rect = tuple[Coord, Coord, Coord, Coord]
PublicId = Annotated[str, Field(pattern=PUBLIC_ID_PATTERN, description="32 lower-case hex digits "
                                "(a UUID4 without dashes), chosen by the client")]


class AnnotationStroke(Strict):
    points: list[Point] = Field(min_length=1, max_length=MAX_POINTS,
                                description="[x, y] pairs, fractions of the page (0..1)")
    width: float = Field(default=0.004, ge=0.001, le=0.05, strict=True, allow_inf_nan=False,
                         description="Line width as a fraction of the page width")


class AnnotationQuote(Strict):
    """W3C TextQuoteSelector: the highlighted text and a little of what surrounds it."""

    exact: str = Field(min_length=1, max_length=QUOTE_MAX_CHARS)
    prefix: str = Field(default="", max_length=QUOTE_CONTEXT_MAX_CHARS)
    suffix: str = Field(default="", max_length=QUOTE_CONTEXT_MAX_CHARS)


def _strokes_bounded(strokes: list[AnnotationStroke] | None) -> list[AnnotationStroke] | None:
    if strokes is not None and sum(len(s.points) for s in strokes) > MAX_POINTS:
        raise ValueError(_("At most %(max)d points in all the strokes of one drawing.", max=MAX_POINTS))
    return strokes


def _rects_inside(rects: list[Rect] | None) -> list[Rect] | None:
    for x, y, w, h in rects or ():
        if w <= 0 or h <= 0:
            raise ValueError(_("A rectangle must have a width and a height."))
        if x + w > 1.0001 or y + h > 1.0001:
            raise ValueError(_("A rectangle must lie within the page."))
    return rects


def _unique_ids(ids: list[int] | None) -> list[int] | None:
    if ids is not None and len(set(ids)) != len(ids):
        raise ValueError(_("Each person may be listed only once."))
    return ids


class _Geometry(Strict):
    """The geometry fields; which ones an annotation needs depends on its kind."""

    strokes: list[AnnotationStroke] | None = Field(
        default=None, min_length=1, max_length=MAX_STROKES,
        description=f"Pen only: up to {MAX_STROKES} strokes, {MAX_POINTS} points in all.")
    rects: list[Rect] | None = Field(
        default=None, min_length=1, max_length=MAX_RECTS,
        description="Highlight only: [x, y, width, height] of each highlighted line.")
    quote: AnnotationQuote | None = Field(default=None, description="Highlight only: the text highlighted.")
    point: Point | None = Field(default=None, description="Note only: where the note is pinned.")

    _check_strokes = field_validator("strokes")(_strokes_bounded)
    _check_rects = field_validator("rects")(_rects_inside)


class AnnotationCreate(_Geometry):
    id: PublicId | None = Field(
        default=None,
        description="Give your own id to create offline and retry safely: sending the same id again "
                    "returns the annotation already made (200) instead of a second one (201).")
    kind: KindName
    page: StrictInt = Field(ge=1, le=100_000, description="1 for the first page")
    version: StrictInt | None = Field(
        default=None, ge=1, le=1_000_000,
        description="The document version drawn on; the current one when left out.")
    colour: ColourName = "yellow"
    body: str = Field(default="", max_length=BODY_MAX_CHARS,
                      description="Plain text (a note's text, a comment on a drawing or highlight).")
    visibility: VisibilityName = "private"
    user_ids: list[StrictInt] = Field(default_factory=list, max_length=MAX_SHARES,
                                      description="With visibility `participants`: whom to share with.")

    _check_ids = field_validator("user_ids")(_unique_ids)


class AnnotationUpdate(_Geometry):
    """Fields left out keep their value. The kind, page and version never change."""

    colour: ColourName | None = None
    body: str | None = Field(default=None, max_length=BODY_MAX_CHARS)


class SharingIn(Strict):
    visibility: VisibilityName = Field(
        description="`private`: you alone; `meeting`: every participant who may read the document; "
                    "`participants`: the people in `user_ids` (if they may read the document).")
    user_ids: list[StrictInt] = Field(default_factory=list, max_length=MAX_SHARES)

    _check_ids = field_validator("user_ids")(_unique_ids)


# --- answers ------------------------------------------------------------------------------------


class FragmentSelectorOut(BaseModel):
    type: Literal["FragmentSelector"]
    conformsTo: str = Field(description="RFC 3778: PDF fragment identifiers")  # noqa: N815
    value: str = Field(description="`page=N`")


class TextQuoteSelectorOut(BaseModel):
    type: Literal["TextQuoteSelector"]
    exact: str
    prefix: str
    suffix: str


class StrokesSelectorOut(BaseModel):
    """e-Cabinet's selector for a drawing: strokes in page fractions."""

    type: Literal["StrokesSelector"]
    strokes: list[AnnotationStroke]


class RectsSelectorOut(BaseModel):
    """e-Cabinet's selector for a highlight's area: rectangles in page fractions."""

    type: Literal["RectsSelector"]
    rects: list[Rect]


class PointSelectorOut(BaseModel):
    """e-Cabinet's selector for a note's pin: a point in page fractions."""

    type: Literal["PointSelector"]
    x: float
    y: float


Selector = (FragmentSelectorOut | TextQuoteSelectorOut | StrokesSelectorOut | RectsSelectorOut
            | PointSelectorOut)


class AnnotationTargetOut(BaseModel):
    source: str = Field(description="The document version annotated")
    selector: list[Selector]


class TextualBodyOut(BaseModel):
    type: Literal["TextualBody"]
    value: str
    format: Literal["text/plain"]


class AnnotationCreatorOut(BaseModel):
    type: Literal["Person"]
    id: str
    user_id: int
    name: str


class AnnotationOut(BaseModel):
    """A W3C Web Annotation (https://www.w3.org/TR/annotation-model/) with e-Cabinet's fields."""

    context: Literal["http://www.w3.org/ns/anno.jsonld"] = Field(alias="@context")
    type: Literal["Annotation"]
    id: str = Field(description="The annotation's URL in this API")
    annotation_id: str = Field(description="The bare id (32 hex digits)")
    motivation: MotivationName
    created: datetime
    modified: datetime
    creator: AnnotationCreatorOut
    body: list[TextualBodyOut]
    target: AnnotationTargetOut
    document_id: int
    version: int = Field(description="The number of the document version it was made on")
    page: int
    kind: KindName
    colour: ColourName
    visibility: VisibilityName
    outdated: bool = Field(description="True when the document has a newer version than the one "
                                       "annotated: the annotation stays attached to its version.")
    mine: bool
    shared_with: list[int] | None = Field(
        description="Your own annotations: the people chosen (visibility `participants`); else null.")


class ShareCandidateOut(BaseModel):
    id: int
    full_name: str
    title: str


class AnnotationList(BaseModel):
    annotations: list[AnnotationOut]
    current_version: int | None = Field(description="The document's current version number")
    share_candidates: list[ShareCandidateOut] = Field(
        description="The meeting's participants you may choose to share with (not yourself).")
