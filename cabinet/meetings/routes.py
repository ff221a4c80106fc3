"""Meeting pages: the secretariat's desk and the member's view of a meeting."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from cabinet.account.forms import EmptyForm
from cabinet.core.errors import DomainError, ValidationError
from cabinet.core.forms import show_service_errors
from cabinet.core.timeutil import utcnow
from cabinet.extensions import csrf, db
from cabinet.i18n import local
from cabinet.meetings import access, calendar, service
from cabinet.meetings.forms import (
    AgendaItemEditForm,
    AgendaItemForm,
    CancelForm,
    MeetingForm,
    RespondForm,
)
from cabinet.meetings.models import (
    AGENDA_STATUS_LABELS,
    STANCE_LABELS,
    Attendance,
    DeputyStatus,
    ParticipantRole,
    Stance,
)
from cabinet.users.models import Role, User

bp = Blueprint("meetings", __name__)


def _me() -> User:
    return current_user._get_current_object()


_FIELD_ALIASES = {"starts_at": "start", "ends_at": "end", "participants": "members"}


def _show_errors(form, exc: DomainError) -> None:
    show_service_errors(form, exc, _FIELD_ALIASES)


def _active_users(*roles: Role) -> list[User]:
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.role.in_(roles))
                                   .order_by(User.full_name)))


def _fill_people_choices(form: MeetingForm) -> None:
    members = _active_users(Role.MEMBER)
    form.chair.choices = [(u.id, f"{u.full_name} — {u.title}") for u in members]
    form.members.choices = [(u.id, f"{u.full_name} — {u.title}, {u.organisation}") for u in members]
    form.secretaries.choices = [(u.id, u.full_name) for u in _active_users(Role.SECRETARIAT, Role.ADMIN)]
    form.guests.choices = [(u.id, f"{u.full_name} — {u.organisation}")
                           for u in _active_users(Role.GUEST, Role.MEMBER, Role.SECRETARIAT)]


def _participants_from(form: MeetingForm) -> dict[int, str]:
    wanted: dict[int, str] = {}
    for user_id in form.guests.data or []:
        wanted[user_id] = ParticipantRole.GUEST.value
    for user_id in form.secretaries.data or []:
        wanted[user_id] = ParticipantRole.SECRETARY.value
    for user_id in form.members.data or []:
        wanted[user_id] = ParticipantRole.MEMBER.value
    if form.chair.data:
        wanted[form.chair.data] = ParticipantRole.CHAIR.value
    return wanted


def _data_from(form: MeetingForm) -> service.MeetingData:
    starts_at, ends_at = form.local_times()
    return service.MeetingData(
        title=form.title.data, kind=form.kind.data, starts_at=starts_at, ends_at=ends_at,
        place=form.place.data or "", online_url=form.online_url.data or "",
        description=form.description.data or "", participants=_participants_from(form))


@bp.route("/meetings/")
@login_required
def index():
    me = _me()
    now = utcnow()
    meetings = service.visible_meetings(me)
    upcoming = [m for m in meetings if m.ends_at >= now]
    past = [m for m in meetings if m.ends_at < now][::-1]
    return render_template("meetings/index.html", upcoming=upcoming, past=past,
                           is_staff=access.is_staff(me))


@bp.route("/meetings/new", methods=["GET", "POST"])
@login_required
def create():
    access.require_staff(_me())
    form = MeetingForm()
    _fill_people_choices(form)
    if request.method == "GET":
        form.members.data = [uid for uid, _label in form.members.choices]  # a Government meeting: all
        form.secretaries.data = [_me().id] if _me().role == Role.SECRETARIAT else []
    status = 200
    if form.validate_on_submit():
        try:
            meeting = service.create_meeting(_me(), _data_from(form))
        except DomainError as exc:
            _show_errors(form, exc)
            status = exc.status
        else:
            flash(_("Meeting scheduled. Now build its agenda."), "success")
            return redirect(url_for("meetings.view", meeting_id=meeting.id))
    elif request.method == "POST":
        status = 400
    return render_template("meetings/form.html", form=form, meeting=None), status


@bp.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@login_required
def edit(meeting_id: int):
    access.require_staff(_me())
    meeting = access.get_meeting(_me(), meeting_id)
    form = MeetingForm(obj=meeting)
    _fill_people_choices(form)
    if request.method == "GET":
        start, end = local(meeting.starts_at), local(meeting.ends_at)
        form.day.data, form.start.data, form.end.data = start.date(), start.time(), end.time()
        by_role: dict[str, list[int]] = {}
        for p in meeting.participants:
            by_role.setdefault(p.role, []).append(p.user_id)
        form.chair.data = (by_role.get(ParticipantRole.CHAIR) or [None])[0]
        form.members.data = by_role.get(ParticipantRole.MEMBER, [])
        form.secretaries.data = by_role.get(ParticipantRole.SECRETARY, [])
        form.guests.data = by_role.get(ParticipantRole.GUEST, [])
    status = 200
    if form.validate_on_submit():
        try:
            service.update_meeting(_me(), meeting.id, _data_from(form))
        except DomainError as exc:
            _show_errors(form, exc)
            status = exc.status
        else:
            flash(_("Changes saved. Participants' calendars will show them."), "success")
            return redirect(url_for("meetings.view", meeting_id=meeting.id))
    elif request.method == "POST":
        status = 400
    return render_template("meetings/form.html", form=form, meeting=meeting), status


@bp.route("/meetings/<int:meeting_id>")
@login_required
def view(meeting_id: int):
    from cabinet.documents import service as documents_service
    from cabinet.minutes import service as minutes_service

    me = _me()
    meeting = access.get_meeting(me, meeting_id)
    is_staff = access.is_staff(me)
    participant = meeting.participant_for(me.id)
    respond_form = RespondForm()
    respond_form.deputy.choices = [(0, "—")] + [
        (u.id, f"{u.full_name} — {u.title}, {u.organisation}")
        for u in _active_users(Role.MEMBER, Role.GUEST) if meeting.participant_for(u.id) is None]
    if participant is not None:
        respond_form.answer.data = "no" if participant.attendance == Attendance.ABSENT else "yes"
        respond_form.reason.data = participant.absence_reason
        respond_form.deputy.data = participant.deputy_id or 0
    counts = {a.value: 0 for a in Attendance}
    for p in meeting.participants:
        counts[p.attendance] += 1
    return render_template(
        "meetings/view.html", meeting=meeting, is_staff=is_staff, participant=participant,
        is_chair=access.is_chair(me, meeting), respond_form=respond_form, counts=counts,
        clashes=service.double_bookings(meeting) if is_staff else {},
        quorum=service.quorum_needed(meeting),
        voters=sum(1 for p in meeting.participants if p.votes),
        agenda_total=sum(item.minutes for item in meeting.agenda_items),
        item_form=AgendaItemForm(prefix="item"), cancel_form=CancelForm(), form=EmptyForm(),
        changes=service.agenda_changes(me, meeting.id) if meeting.agenda_approved_at else [],
        my_positions=service.my_positions(me, meeting) if participant and participant.votes else {},
        stances=STANCE_LABELS, statuses=AGENDA_STATUS_LABELS,
        can_state_positions=bool(participant and participant.votes and not meeting.is_cancelled
                                 and meeting.starts_at > utcnow()),
        documents=documents_service.documents_for_meeting(me, meeting),
        minutes_versions=minutes_service.versions(me, meeting.id),
        Attendance=Attendance, DeputyStatus=DeputyStatus)


@bp.route("/meetings/<int:meeting_id>/cancel", methods=["POST"])
@login_required
def cancel(meeting_id: int):
    form = CancelForm()
    if not form.validate_on_submit():
        raise ValidationError(_("Give the reason for the cancellation."))
    service.cancel_meeting(_me(), meeting_id, form.reason.data)
    flash(_("The meeting was cancelled; participants' calendars will show it."), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id))


@bp.route("/meetings/<int:meeting_id>/respond", methods=["POST"])
@login_required
def respond(meeting_id: int):
    form = RespondForm()
    form.deputy.choices = []
    if not form.validate_on_submit():
        raise ValidationError(_("The form has expired. Reload the page and try again."))
    attending = form.answer.data == "yes"
    service.respond(_me(), meeting_id, attending=attending, reason=form.reason.data or "",
                    deputy_id=form.deputy.data or None)
    flash(_("Thank you: your answer was recorded.") if attending else
          _("Your absence was recorded."), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id))


def _check_form() -> None:
    if not EmptyForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Reload the page and try again."))


@bp.route("/meetings/<int:meeting_id>/attendance/<int:user_id>", methods=["POST"])
@login_required
def mark_attendance(meeting_id: int, user_id: int):
    _check_form()
    service.mark_attendance(_me(), meeting_id, user_id, request.form.get("attendance", ""))
    return redirect(url_for("meetings.view", meeting_id=meeting_id) + "#participants")


@bp.route("/meetings/<int:meeting_id>/deputies/<int:participant_id>", methods=["POST"])
@login_required
def decide_deputy(meeting_id: int, participant_id: int):
    _check_form()
    approve = request.form.get("decision") == "approve"
    service.decide_deputy(_me(), meeting_id, participant_id, approve)
    flash(_("Deputy approved.") if approve else _("Deputy not approved."), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id) + "#participants")


# --- agenda -------------------------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@login_required
def agenda_add(meeting_id: int):
    form = AgendaItemForm(prefix="item")
    if not form.validate_on_submit():
        messages = [e for errors in form.errors.values() for e in errors]
        raise ValidationError(" ".join(str(m) for m in messages) or _("Some fields are not valid."))
    service.add_item(_me(), meeting_id, service.AgendaItemData(
        title=form.title.data, presenter_organisation=form.presenter_organisation.data or "",
        presenter_name=form.presenter_name.data or "",
        minutes=form.minutes.data if form.minutes.data is not None else 15))
    flash(_("Agenda item added."), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id) + "#agenda")


@bp.route("/agenda/<int:item_id>/edit", methods=["GET", "POST"])
@login_required
def agenda_edit(item_id: int):
    access.require_staff(_me())
    item = service.get_item(_me(), item_id)
    form = AgendaItemEditForm(obj=item)
    status = 200
    if form.validate_on_submit():
        try:
            service.update_item(_me(), item.id, service.AgendaItemData(
                title=form.title.data, presenter_organisation=form.presenter_organisation.data or "",
                presenter_name=form.presenter_name.data or "", minutes=form.minutes.data,
                status=form.status.data, conclusion=form.conclusion.data or ""))
        except DomainError as exc:
            _show_errors(form, exc)
            status = exc.status
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("meetings.view", meeting_id=item.meeting_id) + "#agenda")
    elif request.method == "POST":
        status = 400
    return render_template("meetings/agenda_item.html", form=form, item=item), status


@bp.route("/agenda/<int:item_id>/remove", methods=["POST"])
@login_required
def agenda_remove(item_id: int):
    _check_form()
    item = service.get_item(_me(), item_id)
    meeting_id = item.meeting_id
    service.remove_item(_me(), item_id)
    flash(_("Agenda item removed."), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id) + "#agenda")


@bp.route("/agenda/<int:item_id>/move", methods=["POST"])
@login_required
def agenda_move(item_id: int):
    """Move one step up or down: the no-script fallback of drag and drop."""
    _check_form()
    item = service.move_item(_me(), item_id, up=request.form.get("direction") == "up")
    return redirect(url_for("meetings.view", meeting_id=item.meeting_id) + "#agenda")


@bp.route("/meetings/<int:meeting_id>/agenda/reorder", methods=["POST"])
@login_required
def agenda_reorder(meeting_id: int):
    """JSON endpoint of the drag-and-drop list: ``{"order": [ids]}``; CSRF in X-CSRFToken."""
    payload = request.get_json(silent=True)
    order = payload.get("order") if isinstance(payload, dict) else None
    if not isinstance(order, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                               for i in order):
        return jsonify({"error": {"code": "validation_error",
                                  "message": _("Send {\"order\": [item ids]}.")}}), 422
    try:
        items = service.reorder_agenda(_me(), meeting_id, order)
    except DomainError as exc:
        return jsonify({"error": exc.to_dict()}), exc.status
    return jsonify({"ok": True, "order": [item.id for item in items]})


@bp.route("/meetings/<int:meeting_id>/agenda/approve", methods=["POST"])
@login_required
def agenda_approve(meeting_id: int):
    _check_form()
    service.approve_agenda(_me(), meeting_id)
    flash(_("Agenda approved. Later changes will be tracked and shown."), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id) + "#agenda")


# --- positions (D9) -----------------------------------------------------------------------------


@bp.route("/meetings/<int:meeting_id>/positions", methods=["POST"])
@login_required
def positions(meeting_id: int):
    """Save the member's positions on every item at once (fields stance-<id>, comment-<id>)."""
    _check_form()
    answers = {int(key.removeprefix("stance-")): (value, request.form.get(
        f"comment-{key.removeprefix('stance-')}", ""))
        for key, value in request.form.items()
        if key.startswith("stance-") and _whole_number(key.removeprefix("stance-")) and value}
    saved, problems = service.record_positions(_me(), meeting_id, answers)
    for problem in problems:
        flash(problem, "error")
    if saved:
        flash(_("%(n)d position(s) saved.", n=saved), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id) + "#agenda")


@bp.route("/meetings/<int:meeting_id>/board")
@login_required
def board(meeting_id: int):
    rows = service.positions_board(_me(), meeting_id)
    meeting = access.get_meeting(_me(), meeting_id)
    return render_template("meetings/board.html", meeting=meeting, rows=rows, stances=STANCE_LABELS,
                           Stance=Stance, form=EmptyForm())


@bp.route("/agenda/<int:item_id>/consent", methods=["POST"])
@login_required
def consent(item_id: int):
    _check_form()
    item = service.set_passes_without_debate(_me(), item_id, request.form.get("value") == "1")
    return redirect(url_for("meetings.board", meeting_id=item.meeting_id))


# --- calendar -----------------------------------------------------------------------------------


@bp.route("/calendar")
@login_required
def calendar_page():
    me = _me()
    meetings = service.visible_meetings(me, start=utcnow().replace(day=1))
    return render_template("meetings/calendar.html", meetings=meetings,
                           has_feed=calendar.has_feed(me), feed_url=None, form=EmptyForm())


@bp.route("/calendar/feed", methods=["POST"])
@login_required
def calendar_renew():
    _check_form()
    me = _me()
    token = calendar.renew_feed_token(me)
    feed_url = url_for("meetings.calendar_feed", token=token, _external=True)
    meetings = service.visible_meetings(me, start=utcnow().replace(day=1))
    return render_template("meetings/calendar.html", meetings=meetings, has_feed=True,
                           feed_url=feed_url, form=EmptyForm())


@bp.route("/calendar/feed/<token>.ics")
@csrf.exempt
def calendar_feed(token: str):
    """The subscription URL: the token is the credential (phone calendars send no cookies)."""
    user = calendar.user_for_feed_token(token)
    if user is None:
        abort(404)
    body = calendar.feed_for(user, request.host.split(":")[0] or "e-cabinet")
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="e-cabinet.ics"'})


def _whole_number(raw: str) -> bool:
    """An item id from a form field's name: ASCII digits ("²".isdigit() is true, int() refuses it),
    short enough to be an id."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 10
