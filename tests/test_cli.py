"""Command-line tools an operator uses: creating accounts, loading the demo cabinet."""

from __future__ import annotations

from sqlalchemy import func, select

from cabinet.auth.passwords import verify_password
from cabinet.core.timeutil import utcnow
from cabinet.demo import DEMO_PASSWORD, DEMO_PEOPLE
from cabinet.documents.models import Document
from cabinet.extensions import db
from cabinet.meetings.models import Meeting
from cabinet.minutes import keys, record
from cabinet.minutes.models import Minutes
from cabinet.users.models import User


def run(app, *args, input=None):
    db.session.commit()
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_user_create_reads_the_password_from_stdin(app):
    result = run(app, "user", "create", "bt.taichinh", "--role", "member",
                 "--name", "Hồ Quang Vinh", "--password-stdin", input="mat-khau-rat-dai-2026\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "bt.taichinh"))
    assert user.full_name == "Hồ Quang Vinh" and user.role == "member"
    assert verify_password(user.password_hash, "mat-khau-rat-dai-2026")
    assert "mat-khau-rat-dai-2026" not in result.output


def test_user_create_refuses_a_weak_password_and_writes_nothing(app):
    result = run(app, "user", "create", "weakling", "--name", "A B", "--password-stdin", input="123\n")
    assert result.exit_code == 1
    assert "10" in result.output
    assert db.session.scalar(select(User).where(User.username == "weakling")) is None


def test_user_create_refuses_a_duplicate(app):
    run(app, "user", "create", "thuky", "--role", "secretariat", "--name", "Trần Thu Hà",
        "--password-stdin", input="mat-khau-rat-dai-2026\n")
    again = run(app, "user", "create", "THUKY", "--name", "Other", "--password-stdin",
                input="mat-khau-rat-dai-2026\n")
    assert again.exit_code == 1
    assert "thuky" in again.output


def test_user_create_refuses_an_unknown_role(app):
    result = run(app, "user", "create", "x1", "--role", "king", "--name", "X", "--password-stdin",
                 input="mat-khau-rat-dai-2026\n")
    assert result.exit_code == 2
    assert "king" in result.output


def test_demo_loads_a_cabinet_once(app):
    first = run(app, "demo")
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    count = db.session.scalar(select(func.count(User.id)))
    assert count == len(DEMO_PEOPLE)
    roles = db.session.execute(select(User.role, func.count()).group_by(User.role)).all()
    assert dict(roles)["member"] >= 15 and dict(roles)["admin"] == 1
    pm = db.session.scalar(select(User).where(User.username == "thutuong"))
    assert pm.title == "Thủ tướng Chính phủ" and pm.clearance == "tuyet_mat"
    assert verify_password(pm.password_hash, DEMO_PASSWORD)

    meeting = db.session.scalar(select(Meeting).where(Meeting.title.endswith("tháng 11")))
    assert meeting.chair.username == "thutuong" and len(meeting.agenda_items) == 4
    assert meeting.starts_at > utcnow()
    documents = db.session.scalars(select(Document).order_by(Document.id)).all()
    assert [(d.status, d.secrecy) for d in documents] == [("published", "none"), ("published", "mat")]
    assert documents[0].current_version.page_count == 1

    # Last month's meeting was held in the room; its minutes wait, drafted, for the secretary to
    # finalize and sign with the demo keys.
    held = db.session.scalar(select(Meeting).where(Meeting.title == "Phiên họp Chính phủ thường kỳ tháng 10"))
    assert held.starts_at < utcnow() and held.chair.username == "thutuong"
    (draft,) = db.session.scalars(select(Minutes).where(Minutes.meeting_id == held.id))
    assert draft.status == "draft" and "khai mạc" in draft.content["opening_html"]
    assert record.minutes_data(draft).items[0].votes[0].result.startswith("Thông qua")
    thuky = db.session.scalar(select(User).where(User.username == "thuky"))
    assert keys.signer_for(thuky, DEMO_PASSWORD).signing_cert is not None

    second = run(app, "demo")
    assert second.exit_code == 0
    assert DEMO_PASSWORD not in second.output  # printed once only
    assert db.session.scalar(select(func.count(User.id))) == count
    assert db.session.scalar(select(func.count(Meeting.id))) == 2
