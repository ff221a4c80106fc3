"""Translations: the Vietnamese catalogue is complete and compiled, and the app uses it.

The msgids are English, in the code and the templates. ``.ci/i18n`` extracts them, merges them
into ``cabinet/translations/vi/LC_MESSAGES/messages.po`` and compiles the ``.mo``. The first
tests below fail as soon as a new string is added without a Vietnamese translation, when a
translation loses or adds a placeholder, or when the committed ``.mo`` lags behind the ``.po``.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from gettext import GNUTranslations
from io import BytesIO
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import force_locale
from flask_babel import gettext as babel_gettext

from tests.conftest import csrf_token, login

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "cabinet" / "translations"
BABEL_CFG = TRANSLATIONS / "babel.cfg"
SCRIPT = ROOT / ".ci" / "i18n"
VI_PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po"
VI_MO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.mo"
HOW_TO_FIX = ("run .ci/i18n, translate the listed entries in "
              "cabinet/translations/vi/LC_MESSAGES/messages.po, then run .ci/i18n again")


# ---------------------------------------------------------------------------------------------
# Helpers: the same extraction as .ci/i18n, done with Babel's Python API.


def script_keywords() -> list[str]:
    """The ``-k`` keyword specs .ci/i18n passes to ``pybabel extract`` (one source of truth)."""
    text = SCRIPT.read_text(encoding="utf-8")
    match = re.search(r"^KEYWORDS=\((.*)\)", text, re.MULTILINE)
    assert match, ".ci/i18n no longer defines KEYWORDS=(...)"
    words = shlex.split(match.group(1))
    return [spec for flag, spec in zip(words[::2], words[1::2], strict=True) if flag == "-k"]


@cache
def extracted_messages() -> dict[tuple[str | tuple[str, ...], str | None], list[str]]:
    """Every message in the code right now: (msgid, context) -> ["file:line", ...]."""
    with BABEL_CFG.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, filename=str(BABEL_CFG))
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(script_keywords())}
    found: dict = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        if isinstance(message, list | tuple):
            message = tuple(message)
        found.setdefault((message, context), []).append(f"{filename}:{lineno}")
    return found


def load_po():
    with VI_PO.open("rb") as fh:
        return read_po(fh, locale="vi")


def forms(message) -> list[str]:
    """The translation's forms (one, or one per plural form)."""
    return list(message.string) if isinstance(message.string, list | tuple) else [message.string]


def msgid_text(message) -> str:
    """The msgid whose placeholders a translation must carry (the plural one for plurals)."""
    return message.id[-1] if isinstance(message.id, list | tuple) else message.id


PLACEHOLDER_RE = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?"  # %(name)
    r"[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"  # flags, width, precision
    r"(?P<conv>[diouxXeEfFgGcrsa%])"
)


def placeholders(text: str) -> Counter:
    return Counter((m.group("name"), m.group("conv")) for m in PLACEHOLDER_RE.finditer(text))


# ---------------------------------------------------------------------------------------------
# (a) Every msgid in the code has a reviewed Vietnamese translation.


def test_extraction_uses_the_keywords_of_the_code():
    """``_l`` and ``lazy_gettext`` are not Babel defaults: without them the labels go missing."""
    specs = script_keywords()
    assert "_l" in specs and "lazy_gettext" in specs
    ids = {msgid for msgid, _context in extracted_messages()}
    assert len(ids) > 100
    assert "Administrator" in ids  # lazy_gettext as _l, cabinet/users/models.py
    assert "Please log in to continue." in ids  # _l, cabinet/auth/web.py
    assert "Wrong username or password." in ids  # gettext as _, cabinet/auth/service.py
    assert "Skip to content" in ids  # {{ _('...') }}, templates/base.html
    assert "Hello, %(name)s" in ids  # with a placeholder, templates/main/home.html


def test_every_message_in_the_code_is_translated_into_vietnamese():
    catalog = load_po()
    problems = []
    for (msgid, context), where in sorted(extracted_messages().items(), key=lambda kv: kv[1][0]):
        message = catalog.get(msgid, context)
        if message is None:
            problems.append(f"  missing from the .po: {msgid!r} ({where[0]})")
        elif message.fuzzy:
            problems.append(f"  fuzzy (needs review): {msgid!r} ({where[0]})")
        elif not all(form.strip() for form in forms(message)):
            problems.append(f"  not translated: {msgid!r} ({where[0]})")
    assert not problems, (f"{len(problems)} message(s) lack a Vietnamese translation; "
                          f"{HOW_TO_FIX}:\n" + "\n".join(problems))


def test_catalogue_has_no_fuzzy_or_obsolete_entries():
    catalog = load_po()
    assert not catalog.fuzzy, "the .po header is marked fuzzy: pybabel compile would skip it"
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    assert not catalog.obsolete, f"obsolete entries: {list(catalog.obsolete)}; {HOW_TO_FIX}"
    assert catalog.locale and str(catalog.locale) == "vi"
    assert catalog.plural_forms == "nplurals=1; plural=0;"


def test_translations_are_nfc_and_not_left_in_english():
    catalog = load_po()
    not_nfc, untouched = [], []
    for message in catalog:
        if not message.id:
            continue
        for form in forms(message):
            if not unicodedata.is_normalized("NFC", form):
                not_nfc.append(message.id)
            if form == msgid_text(message):
                untouched.append(message.id)
    assert not not_nfc, f"not in Unicode NFC (decomposed diacritics): {not_nfc}"
    assert not untouched, f"msgstr copied from the English msgid: {untouched}"


def test_agreed_terms():
    """Terms fixed for the whole UI; change them here and in the .po together."""
    catalog = load_po()
    expected = {
        "Log in": "Đăng nhập",
        "Log out": "Đăng xuất",
        "Two-step verification": "Xác thực hai bước",
        "Audit trail": "Nhật ký truy vết",
        "Secretariat": "Văn phòng (thư ký)",
        "Government member": "Thành viên Chính phủ",
        "Guest": "Khách mời",
        "Confidential (Mật)": "Mật",
        "Secret (Tối mật)": "Tối mật",
        "Top secret (Tuyệt mật)": "Tuyệt mật",
        "Title (chức vụ)": "Chức vụ",
        "Organisation": "Cơ quan",
    }
    assert {msgid: catalog[msgid].string for msgid in expected} == expected
    # One word for "audit": never "kiểm toán" (that is the State Audit Office's word) alongside it.
    assert not [m.id for m in catalog if m.id and "kiểm toán" in str(m.string).lower()]


# ---------------------------------------------------------------------------------------------
# (b) The committed .mo is the compiled .po.


def test_committed_mo_matches_the_po():
    buffer = BytesIO()
    write_mo(buffer, load_po())  # what `pybabel compile` writes (fuzzy entries left out)
    buffer.seek(0)
    expected = GNUTranslations(buffer)._catalog
    with VI_MO.open("rb") as fh:
        committed = GNUTranslations(fh)._catalog
    stale = sorted(str(k) for k in expected.keys() ^ committed.keys())
    stale += sorted(str(k) for k in expected.keys() & committed.keys()
                    if expected[k] != committed[k])
    assert committed == expected, f"the .mo is out of date ({stale[:10]}); run .ci/i18n"


# ---------------------------------------------------------------------------------------------
# (c) Placeholders survive translation.


def test_placeholders_match_between_msgid_and_translation():
    catalog = load_po()
    problems = []
    for message in catalog:
        if not message.id:
            continue
        wanted = placeholders(msgid_text(message))
        for form in forms(message):
            got = placeholders(form)
            if got != wanted:
                problems.append(f"  {message.id!r}: expected {sorted(wanted.elements())}, "
                                f"got {sorted(got.elements())} in {form!r}")
    assert not problems, "placeholders differ:\n" + "\n".join(problems)


def test_translations_format_with_their_arguments():
    """``_('...', name=...)`` applies ``%``: a stray percent sign would raise at run time."""
    samples = {"d": 7, "i": 7, "s": "x", "r": "x", "a": "x", "f": 1.5}
    for message in load_po():
        if not message.id or not placeholders(msgid_text(message)):
            continue
        values = {name: samples.get(conv, 1) for name, conv in placeholders(msgid_text(message))
                  if name}
        for form in forms(message):
            form % values  # raises on a malformed or missing placeholder


# ---------------------------------------------------------------------------------------------
# (d) The app speaks Vietnamese by default and English on request.


def _title(html: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()


def test_catalogue_is_found_by_flask_babel(app):
    with app.test_request_context("/"):
        with force_locale("vi"):
            assert babel_gettext("Log in") == "Đăng nhập"
            assert babel_gettext("Hello, %(name)s", name="Lan") == "Xin chào Lan"
        with force_locale("en"):
            assert babel_gettext("Log in") == "Log in"  # no English catalogue: the msgid


def test_login_page_is_vietnamese_then_english_after_switching(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert _title(html) == "Đăng nhập"
    assert "Tên đăng nhập" in html and "Mật khẩu" in html  # lazy form labels
    assert "Log in" not in html and "Username" not in html

    token = csrf_token(client, "/login")
    response = client.post("/language/en", data={"csrf_token": token, "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")

    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert _title(html) == "Log in"
    assert "Username" in html and "Password" in html
    assert "Đăng nhập" not in html and "Tên đăng nhập" not in html

    client.post("/language/vi", data={"csrf_token": token, "next": "/login"})
    assert _title(client.get("/login").get_data(as_text=True)) == "Đăng nhập"


def test_language_switch_needs_the_csrf_token_and_a_known_language(client):
    assert client.post("/language/en", data={"next": "/login"}).status_code == 400
    token = csrf_token(client, "/login")
    assert client.post("/language/fr", data={"csrf_token": token}).status_code == 404
    assert _title(client.get("/login").get_data(as_text=True)) == "Đăng nhập"


def test_flash_messages_and_errors_are_translated(client, member):
    response = login(client, member.username, "not-the-password")
    assert "Sai tên đăng nhập hoặc mật khẩu." in response.get_data(as_text=True)
    token = csrf_token(client, "/login")
    client.post("/language/en", data={"csrf_token": token, "next": "/login"})
    response = login(client, member.username, "not-the-password")
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_an_account_language_applies_after_login(client, make_user):
    user = make_user("bt.ngoaigiao", locale="en")
    response = login(client, "bt.ngoaigiao", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert f"Hello, {user.full_name}" in html
    assert "Government member" in html  # the role label, a lazy string


def test_vietnamese_home_page(client, member):
    html = login(client, member.username, follow_redirects=True).get_data(as_text=True)
    assert f"Xin chào {member.full_name}" in html
    assert "Thành viên Chính phủ" in html
    assert re.search(r"Hôm nay là ngày \d{2} tháng \d{1,2} năm \d{4}\.", html)


def test_api_messages_follow_accept_language(client):
    vi = client.get("/api/v1/me", headers={"Accept-Language": "vi"})
    en = client.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9"})
    default = client.get("/api/v1/me")
    assert vi.status_code == en.status_code == default.status_code == 401
    assert vi.get_json()["error"]["message"].startswith("Cần gửi mã truy cập")
    assert en.get_json()["error"]["message"] == "Send a token: Authorization: Bearer <token>."
    assert default.get_json()["error"]["message"] == vi.get_json()["error"]["message"]


# ---------------------------------------------------------------------------------------------
# (e) Dates in the style of Nghị định 30/2020/NĐ-CP, in Hà Nội time.


def _long_date(value: datetime) -> str:
    return render_template_string("{{ value|long_date }}", value=value)


def test_long_date_in_vietnamese_is_in_hanoi_time(app):
    with app.test_request_context("/"), force_locale("vi"):
        # 17:30 UTC on 4 March is 00:30 on 5 March in Hà Nội (UTC+7).
        assert _long_date(datetime(2026, 3, 4, 17, 30, tzinfo=UTC)) == "ngày 05 tháng 3 năm 2026"
        assert _long_date(datetime(2026, 3, 4, 16, 59, tzinfo=UTC)) == "ngày 04 tháng 3 năm 2026"
        assert _long_date(datetime(2026, 12, 25, 2, 0, tzinfo=UTC)) == "ngày 25 tháng 12 năm 2026"
        assert _long_date(None) == ""


def test_long_date_in_english(app):
    with app.test_request_context("/"), force_locale("en"):
        assert _long_date(datetime(2026, 3, 4, 17, 30, tzinfo=UTC)) == "5 March 2026"


def test_long_date_pads_january_and_february_only(app):
    """NĐ 30/2020, Phụ lục I: a zero before days below 10 and before months 1 and 2 only."""
    with app.test_request_context("/"), force_locale("vi"):
        assert _long_date(datetime(2026, 1, 5, 3, 0, tzinfo=UTC)) == "ngày 05 tháng 01 năm 2026"
        assert _long_date(datetime(2026, 2, 9, 3, 0, tzinfo=UTC)) == "ngày 09 tháng 02 năm 2026"
        assert _long_date(datetime(2026, 2, 20, 3, 0, tzinfo=UTC)) == "ngày 20 tháng 02 năm 2026"
        assert _long_date(datetime(2026, 9, 1, 3, 0, tzinfo=UTC)) == "ngày 01 tháng 9 năm 2026"
        assert _long_date(datetime(2026, 10, 10, 3, 0, tzinfo=UTC)) == "ngày 10 tháng 10 năm 2026"
