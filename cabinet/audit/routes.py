"""The administrator's view of the audit trail, with an on-demand chain check."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select

from cabinet.account.forms import EmptyForm
from cabinet.audit import service
from cabinet.audit.models import AuditEntry
from cabinet.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

PAGE_SIZE = 50


@bp.before_request
@login_required
def _admins_only():
    if not current_user.is_admin:
        abort(403)


@bp.route("/")
def index():
    action = request.args.get("action", "").strip()
    # Bounded: a huge page number would overflow the database's OFFSET.
    page = min(max(1, request.args.get("page", 1, type=int)), 1_000_000)
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
    count = select(func.count(AuditEntry.id))
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
        count = count.where(AuditEntry.action.startswith(action))
    total = db.session.scalar(count) or 0
    entries = db.session.scalars(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template("admin/audit.html", entries=entries, action=action, page=page,
                           pages=max(1, -(-total // PAGE_SIZE)), total=total,
                           result=None, form=EmptyForm())


@bp.route("/verify", methods=["POST"])
def verify():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    result = service.verify_chain()
    service.record("audit.verified", actor=current_user._get_current_object(),
                   details={"ok": result.ok, "checked": result.checked,
                            "broken_seq": result.broken_seq})
    db.session.commit()
    entries = db.session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(PAGE_SIZE)).all()
    return render_template("admin/audit.html", entries=entries, action="", page=1, pages=1,
                           total=len(entries), result=result, form=form)
