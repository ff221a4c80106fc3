from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from cabinet.account.forms import EmptyForm
from cabinet.auth.routes import _safe_next
from cabinet.i18n import SUPPORTED

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def home():
    return render_template("main/home.html", user=current_user)


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    if code not in SUPPORTED:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next") or url_for("main.home")))
