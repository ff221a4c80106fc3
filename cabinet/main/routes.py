from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from cabinet.account.forms import EmptyForm
from cabinet.auth.routes import _safe_next
from cabinet.core.timeutil import utcnow
from cabinet.i18n import SUPPORTED

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home():
    """The reading room: what is coming, what waits for an answer, what is unread."""
    from cabinet.ballots import service as ballots_service
    from cabinet.documents import service as documents_service
    from cabinet.meetings import access
    from cabinet.meetings import service as meetings_service

    me = current_user._get_current_object()
    upcoming = meetings_service.visible_meetings(me, start=utcnow(), include_cancelled=False)[:8]
    to_answer = [m for m in upcoming
                 if (p := m.participant_for(me.id)) is not None and p.attendance == "invited"]
    # Open ballots sent to the user for an answer come first: unanswered, then answered, the
    # nearest deadline first (ballots past their deadline, not yet closed by the job, last).
    now = utcnow()
    ballots = [b for b in ballots_service.visible_ballots(me, status="open") if b.is_recipient(me.id)]
    answered = ballots_service.answered_ballot_ids(me, [b.id for b in ballots])
    ballots.sort(key=lambda b: (b.deadline <= now, b.id in answered, b.deadline))
    from cabinet.notifications import service as notifications_service
    from cabinet.notifications.forms import GROUP_NAMES

    return render_template("main/home.html", user=me, upcoming=upcoming, to_answer=to_answer,
                           unread=documents_service.unread_documents(me)[:10],
                           is_staff=access.is_staff(me), ballots=ballots, answered=answered, now=now,
                           notice_counts=notifications_service.unread_by_group(me), notice_groups=GROUP_NAMES)


@bp.route("/search")
@login_required
def search():
    """Documents by title and text, across the meetings the user may see."""
    from cabinet.search import search_documents

    query = request.args.get("q", "").strip()[:200]
    hits = search_documents(current_user._get_current_object(), query) if query else []
    return render_template("main/search.html", q=query, hits=hits)


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    if code not in SUPPORTED:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next") or url_for("main.home")))
