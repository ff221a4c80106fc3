"""The meeting room through the JSON API: votes and attendance (check-in, quorum).

The same service functions as the tablets' socket events, so a ballot cast here is broadcast
to the room exactly as one cast on a tablet. Shapes: cabinet.live.payloads (docs/realtime.md).
"""

from __future__ import annotations

from typing import Literal

from flask import jsonify
from pydantic import BaseModel, Field, StrictBool, StrictInt

from cabinet.api.framework import operation
from cabinet.api.meeting_schemas import PersonOut
from cabinet.api.schemas import Strict
from cabinet.live import payloads, service
from cabinet.meetings import access

TAGS = ["live meeting"]
BODY_ERRORS = (400, 413, 422)


# --- bodies -----------------------------------------------------------------------------------------


class VoteOpenIn(Strict):
    question: str = Field(min_length=1, max_length=1000, description="The question put to the vote.")
    agenda_item_id: StrictInt | None = Field(
        default=None, description="The item voted on; by default the item on the table.")
    secret: StrictBool = Field(default=False, description="D10: votes are named unless the chair "
                                                          "orders a secret vote.")
    options: list[str] | None = Field(
        default=None, max_length=10,
        description="Custom options (2–10). Left out: the standard for / against / abstain (D10), "
                    "decided by D7.")


class CastIn(Strict):
    choice: str = Field(max_length=40, description="An option key: `for`, `against`, `abstain`, or "
                                                   "`o1`… for custom options.")
    receipt: str | None = Field(
        default=None, max_length=100,
        description="Secret votes only: the receipt given when you first voted, needed to change "
                    "your choice (the server keeps only its hash).")


class CheckInIn(Strict):
    user_id: StrictInt | None = Field(
        default=None, description="Someone else (the chair or the secretariat only); left out: yourself.")
    present: StrictBool = True


# --- answers ------------------------------------------------------------------------------------------


class OptionOut(BaseModel):
    key: str
    label: str


class VoteBallotOut(BaseModel):
    user: dict
    choice: str | None


class TallyOut(BaseModel):
    vote_id: int
    meeting_id: int
    status: Literal["open", "closed"]
    cast: int
    eligible: int
    counts: dict[str, int] | None = Field(description="Per option; null for a secret vote until it closes.")
    ballots: list[VoteBallotOut] | None = Field(description="Who chose what; null for a secret vote.")
    revision: int | None = Field(default=None, description="In broadcasts: orders tallies (keep the "
                                                           "highest); null in answers and states.")


class MyVoteOut(BaseModel):
    can_vote: bool
    voted: bool
    choice: str | None


class VoteOut(BaseModel):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    question: str
    secret: bool
    standard: bool
    options: list[OptionOut]
    status: Literal["open", "closed"]
    opened_at: str
    closed_at: str | None
    eligible: int = Field(description="All voting members of the meeting (D7's denominator).")
    present_at_opening: int
    outcome: Literal["passed", "rejected", "passed_by_chair", "rejected_by_chair", "tie", "counted"] | None
    outcome_label: str | None
    result: dict | None = Field(description="At close: counts, cast, eligible, threshold, the legal basis.")
    tally: TallyOut
    me: MyVoteOut | None = None


class VoteList(BaseModel):
    votes: list[VoteOut]


class CastOut(BaseModel):
    vote_id: int
    choice: str
    changed: bool
    receipt: str | None = Field(description="Secret votes: keep it to change your choice later.")


class PresenceOut(BaseModel):
    user: PersonOut
    role: str
    votes: bool
    present: bool
    checked_in_at: str | None
    invitation: str | None
    deputy_for: int | None = None


class AttendanceOut(BaseModel):
    meeting_id: int
    present: int = Field(description="Voting members checked in.")
    required: int = Field(description="D6: two thirds of the voting members.")
    voters: int
    quorum_met: bool
    quorum_basis: str
    people: list[PresenceOut]


# --- endpoints -----------------------------------------------------------------------------------------


@operation("GET", "/meetings/<int:meeting_id>/votes", summary="The votes of a meeting", tags=TAGS,
           response=VoteList, errors=(404,))
def list_votes(user, meeting_id: int):
    return jsonify({"votes": [payloads.vote(v, user) for v in service.meeting_votes(user, meeting_id)]})


@operation("POST", "/meetings/<int:meeting_id>/votes", summary="Open a vote (the chair or the secretariat)",
           tags=TAGS, body=VoteOpenIn, response=VoteOut, status=201, errors=(*BODY_ERRORS, 404, 409),
           description="The meeting must be open; one vote at a time (409 while another is open).")
def open_vote(user, meeting_id: int, body: VoteOpenIn):
    vote = service.open_vote(user, meeting_id, question=body.question, agenda_item_id=body.agenda_item_id,
                             secret=body.secret, options=body.options)
    return jsonify(payloads.vote(vote, user)), 201


@operation("GET", "/votes/<int:vote_id>", summary="A vote: its state and tally", tags=TAGS,
           response=VoteOut, errors=(404,))
def get_vote(user, vote_id: int):
    return jsonify(payloads.vote(service.get_vote(user, vote_id), user))


@operation("POST", "/votes/<int:vote_id>/cast", summary="Cast or change your ballot", tags=TAGS,
           body=CastIn, response=CastOut, errors=(*BODY_ERRORS, 403, 404, 409),
           description="Members checked in to the meeting only (not deputies, guests or the "
                       "secretariat: 403). Sending again changes your ballot until the vote closes; "
                       "one ballot per member counts. 409 `vote_closed` after close.")
def cast_vote(user, vote_id: int, body: CastIn):
    result = service.cast_vote(user, vote_id, body.choice, body.receipt)
    return jsonify({"vote_id": result.vote.id, "choice": result.choice, "changed": result.changed,
                    "receipt": result.receipt})


@operation("POST", "/votes/<int:vote_id>/close", summary="Close a vote and record its result (the chair "
           "or the secretariat)", tags=TAGS, response=VoteOut, errors=(403, 404, 409),
           description="The result follows D7: more than half of all members for; a tie between for "
                       "and against goes the way the chair voted.")
def close_vote(user, vote_id: int):
    return jsonify(payloads.vote(service.close_vote(user, vote_id), user))


@operation("GET", "/meetings/<int:meeting_id>/attendance", summary="Who is in the room, and the quorum",
           tags=TAGS, response=AttendanceOut, errors=(404,))
def get_attendance(user, meeting_id: int):
    return jsonify(payloads.attendance(access.get_meeting(user, meeting_id)))


@operation("POST", "/meetings/<int:meeting_id>/check-ins", summary="Check in (or out) of the meeting room",
           tags=TAGS, body=CheckInIn, response=AttendanceOut, errors=(*BODY_ERRORS, 403, 404, 409),
           description="Yourself, from 2 hours before the start (a setting) until the meeting closes; "
                       "the chair and the secretariat record anyone's presence.")
def check_in(user, meeting_id: int, body: CheckInIn):
    service.check_in(user, meeting_id, body.user_id, present=body.present)
    return jsonify(payloads.attendance(access.get_meeting(user, meeting_id)))
