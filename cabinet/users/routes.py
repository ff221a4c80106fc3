"""Administrator pages: the list of accounts, creating, editing, disabling, resetting."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from cabinet.account.forms import EmptyForm
from cabinet.core.errors import DomainError, ValidationError
from cabinet.core.forms import show_service_errors
from cabinet.users import service
from cabinet.users.forms import NewUserForm, ResetPasswordForm, UserForm
from cabinet.users.models import ROLE_LABELS

bp = Blueprint("users", __name__, url_prefix="/admin/users")


@bp.before_request
@login_required
def _admins_only():
    if not current_user.is_admin:
        abort(403)


def _me():
    return current_user._get_current_object()


def _data_from(form: UserForm) -> service.UserData:
    return service.UserData(
        username=form.username.data if isinstance(form, NewUserForm) else None,
        full_name=form.full_name.data, title=form.title.data or "",
        organisation=form.organisation.data or "", email=form.email.data or "",
        role=form.role.data, clearance=form.clearance.data, locale=form.locale.data,
    )


@bp.route("/")
def index():
    query = request.args.get("q", "").strip()
    role = request.args.get("role") or None
    if role is not None and role not in ROLE_LABELS:
        role = None
    users = service.list_users(_me(), query=query, role=role)
    return render_template("admin/users.html", users=users, q=query, role=role,
                           roles=ROLE_LABELS, form=EmptyForm())


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = NewUserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = service.create_user(_me(), _data_from(form), form.password.data,
                                       must_change_password=form.must_change_password.data)
        except DomainError as exc:
            show_service_errors(form, exc)
            status = exc.status
        else:
            flash(_("Account %(u)s created.", u=user.username), "success")
            return redirect(url_for("users.index"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/<int:user_id>", methods=["GET", "POST"])
def edit(user_id: int):
    user = service.get_user(_me(), user_id)
    form = UserForm(obj=user)
    if request.method == "GET":
        form.locale.data = user.locale or ""
    status = 200
    if form.validate_on_submit():
        try:
            service.update_user(_me(), user.id, _data_from(form))
        except DomainError as exc:
            show_service_errors(form, exc)
            status = exc.status
        else:
            flash(_("Changes saved."), "success")
            return redirect(url_for("users.edit", user_id=user.id))
    elif request.method == "POST":
        status = 400
    return render_template("admin/user_form.html", form=form, user=user,
                           reset_form=ResetPasswordForm(), action_form=EmptyForm()), status


def _action(user_id: int, form_class=EmptyForm):
    form = form_class()
    if not form.validate_on_submit():
        raise ValidationError(_("The form has expired. Reload the page and try again."))
    return form


@bp.route("/<int:user_id>/disable", methods=["POST"])
def disable(user_id: int):
    _action(user_id)
    try:
        user = service.set_active(_me(), user_id, False)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("users.edit", user_id=user_id))
    flash(_("Account %(u)s disabled; its sessions and tokens were ended.", u=user.username), "success")
    return redirect(url_for("users.edit", user_id=user_id))


@bp.route("/<int:user_id>/enable", methods=["POST"])
def enable(user_id: int):
    _action(user_id)
    user = service.set_active(_me(), user_id, True)
    flash(_("Account %(u)s enabled.", u=user.username), "success")
    return redirect(url_for("users.edit", user_id=user_id))


@bp.route("/<int:user_id>/unlock", methods=["POST"])
def unlock(user_id: int):
    _action(user_id)
    user = service.unlock(_me(), user_id)
    flash(_("Account %(u)s unlocked.", u=user.username), "success")
    return redirect(url_for("users.edit", user_id=user_id))


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
def reset_password(user_id: int):
    form = _action(user_id, ResetPasswordForm)
    user = service.get_user(_me(), user_id)
    temporary = service.reset_password(_me(), user_id, reset_totp=form.reset_totp.data)
    # Shown once, on this page only; it is never stored in clear.
    return render_template("admin/password_reset.html", user=user, temporary=temporary)
