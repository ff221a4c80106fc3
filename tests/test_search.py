"""Search finds documents by title and text, ignores diacritics, and never shows what it must not.

Documents are written straight through the models (not the documents service): the index is kept
by the database's triggers, whatever code writes the rows.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from cabinet import search
from cabinet.core.timeutil import utcnow
from cabinet.documents.models import Document, DocumentVersion
from cabinet.extensions import db
from cabinet.meetings.access import can_see_meeting, cleared_for, is_staff
from cabinet.meetings.models import Meeting, Participant
from cabinet.search import search_documents, search_terms
from cabinet.users.models import Clearance
from tests.conftest import ON_POSTGRES

# --- factories ------------------------------------------------------------------------------


def new_meeting(*invited, status: str = "scheduled", title: str = "Phiên họp Chính phủ thường kỳ") -> Meeting:
    starts_at = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    meeting = Meeting(title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=3), status=status)
    meeting.participants = [Participant(user_id=user.id, role="member") for user in invited]
    db.session.add(meeting)
    db.session.flush()
    return meeting


def send_deputy(meeting: Meeting, member, deputy, status: str) -> None:
    participant = meeting.participant_for(member.id)
    participant.attendance = "absent"
    participant.deputy_id = deputy.id
    participant.deputy_status = status
    db.session.flush()


def new_document(meeting: Meeting, title: str, text: str | None = "", *, secrecy: str = "none",
                 status: str = "published") -> Document:
    document = Document(meeting_id=meeting.id, title=title, secrecy=secrecy, status=status)
    db.session.add(document)
    db.session.flush()
    if text is not None:
        add_version(document, text)
    return document


def add_version(document: Document, text: str) -> DocumentVersion:
    number = 1 + max((version.number for version in document.versions), default=0)
    version = DocumentVersion(number=number, original_filename=f"to-trinh-v{number}.pdf",
                              media_type="application/pdf", blob_sha256="0" * 64, size=len(text),
                              text_content=text)
    document.versions.append(version)
    db.session.flush()
    return version


def found(user, query: str, **kwargs) -> list[int]:
    return [hit.document.id for hit in search_documents(user, query, **kwargs)]


@pytest.fixture
def staff(make_user):
    return make_user("vanphong", role="secretariat", clearance="tuyet_mat")


@pytest.fixture
def minister(make_user):
    return make_user("bt.taichinh", role="member")


@pytest.fixture
def outsider(make_user):
    return make_user("bt.khac", role="member", clearance="tuyet_mat")


# --- finding --------------------------------------------------------------------------------


def test_finds_a_document_by_its_title(minister):
    meeting = new_meeting(minister)
    budget = new_document(meeting, "Tờ trình dự toán ngân sách nhà nước năm 2026")
    new_document(meeting, "Báo cáo tình hình kinh tế - xã hội")

    assert found(minister, "dự toán") == [budget.id]


def test_finds_a_document_by_the_text_of_its_current_version(minister):
    meeting = new_meeting(minister)
    report = new_document(meeting, "Báo cáo thẩm định", "Bộ Tư pháp thống nhất với hồ sơ dự án Luật Đất đai.")
    new_document(meeting, "Tờ trình khác", "Nội dung không liên quan.")

    assert found(minister, "luật đất đai") == [report.id]


def test_each_document_is_found_once(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Ngân sách", "ngân sách " * 50)
    add_version(document, "ngân sách, ngân sách và ngân sách")

    assert found(minister, "ngân sách") == [document.id]


def test_case_and_diacritics_do_not_matter(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "NGÂN SÁCH NHÀ NƯỚC", "Chính phủ Đồng ý thông qua Nghị quyết.")

    for query in ["ngân sách", "Ngân Sách", "NGÂN SÁCH", "ngan sach", "Ngan Sach", "nhà nước", "nha nuoc",
                  "đồng ý", "ĐỒNG Ý", "dong y", "nghi quyet", "chinh phu"]:
        assert found(minister, query) == [document.id], query


def test_diacritics_typed_are_folded_like_the_text(minister):
    """By design a word matches all its diacritic variants: tone-mark placement varies
    ("hoà"/"hòa", "thuỷ"/"thủy") and a partly accented query must still work."""
    meeting = new_meeting(minister)
    document = new_document(meeting, "Quyết định về hòa giải", "Công trình thủy lợi")

    assert found(minister, "hoà giải") == [document.id]
    assert found(minister, "thuỷ lợi") == [document.id]
    assert found(minister, "ngăn") == []


def test_decomposed_text_is_found_and_highlighted(minister):
    meeting = new_meeting(minister)
    nfd = unicodedata.normalize("NFD", "Dự toán ngân sách địa phương")
    document = new_document(meeting, "Báo cáo", nfd)

    [hit] = search_documents(minister, "ngân sách")
    assert hit.document.id == document.id
    assert hit.snippet.count("<mark>") == 2
    assert found(minister, "dia phuong") == [document.id]


@pytest.mark.parametrize("letter", sorted({
    letter for letters in search.FOLD.values() for letter in letters + letters.upper()}))
def test_every_letter_folds_alike_in_the_index_and_in_the_query(minister, letter):
    meeting = new_meeting(minister)
    target = new_document(meeting, f"Mẫu x{letter}x")
    decomposed = new_document(meeting, unicodedata.normalize("NFD", f"Mẫu x{letter}x"))

    folded = f"x{search.fold(letter)}x"
    assert folded.isascii()
    assert set(found(minister, folded)) == {target.id, decomposed.id}
    assert set(found(minister, f"x{letter}x")) == {target.id, decomposed.id}


def test_the_index_folds_with_the_same_table_as_the_queries(app):
    """The migration keeps its own frozen copy of the table: it must not drift from search.py."""
    from importlib import import_module

    migration = import_module("migrations.versions.0003_document_search")
    assert migration.FOLD == search.FOLD
    assert migration.COMBINING_MARKS == search.COMBINING_MARKS
    assert migration.MAX_INDEXED_CHARS == search.MAX_INDEXED_CHARS
    if ON_POSTGRES:
        sample = "".join(letter + letter.upper() for letters in search.FOLD.values() for letter in letters)
        in_db = db.session.execute(sa.text("SELECT cabinet_search_fold(:s)"), {"s": sample}).scalar_one()
        assert in_db == search.fold(sample)


def test_every_word_must_occur_in_the_title_or_the_text(minister):
    meeting = new_meeting(minister)
    both = new_document(meeting, "Dự toán ngân sách", "Phần chi cho giáo dục và y tế.")
    new_document(meeting, "Ngân sách quốc phòng", "Không có nội dung kia.")

    assert found(minister, "ngân sách giáo dục") == [both.id]
    assert found(minister, "ngân sách văn hoá") == []


def test_a_title_match_ranks_above_matches_in_the_text(minister):
    meeting = new_meeting(minister)
    in_text = new_document(meeting, "Báo cáo tổng hợp", "Ngân sách nhà nước. " * 200)
    in_title = new_document(meeting, "Dự toán ngân sách nhà nước", "Phụ lục kèm theo.")
    also_in_text = new_document(meeting, "Phụ lục", "Chi ngân sách nhà nước cho đầu tư.")

    hits = search_documents(minister, "ngân sách nhà nước")
    assert [hit.document.id for hit in hits][0] == in_title.id
    assert {hit.document.id for hit in hits} == {in_text.id, in_title.id, also_in_text.id}
    assert hits[0].rank >= 1.0 > hits[1].rank >= hits[2].rank >= 0.0


def test_hits_carry_their_meeting_and_a_highlighted_escaped_snippet(minister):
    meeting = new_meeting(minister, title="Phiên họp chuyên đề xây dựng pháp luật")
    text = ("Mở đầu <script>alert(1)</script> & " + "lời văn " * 2000
            + "kết luận về ngân sách địa phương. " + "x " * 500)
    document = new_document(meeting, "Ngân sách <b>địa phương</b>", text)

    [hit] = search_documents(minister, "ngan sach")
    assert hit.document.id == document.id
    assert hit.meeting.id == meeting.id
    assert "<mark>ngân</mark> <mark>sách</mark> địa phương" in hit.snippet
    assert len(hit.snippet) < 2 * search.SNIPPET_CHARS
    assert hit.snippet.startswith("… ") and hit.snippet.endswith(" …")
    assert hit.title_html == "<mark>Ngân</mark> <mark>sách</mark> &lt;b&gt;địa phương&lt;/b&gt;"

    [hit] = search_documents(minister, "mở đầu")
    assert hit.snippet.startswith(
        "<mark>Mở</mark> <mark>đầu</mark> &lt;script&gt;alert(1)&lt;/script&gt; &amp;")


def test_a_document_without_text_is_found_by_title(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình chưa có tệp", text=None)

    [hit] = search_documents(minister, "tờ trình")
    assert hit.document.id == document.id
    assert hit.snippet == ""


# --- who finds what -------------------------------------------------------------------------


def test_only_the_invited_find_a_meetings_documents(minister, outsider, make_user):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình dự án Luật Thủ đô")

    assert found(minister, "luật thủ đô") == [document.id]
    assert found(outsider, "luật thủ đô") == []


def test_secretariat_finds_documents_of_every_meeting(staff, minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình dự án Luật Thủ đô")

    assert found(staff, "luật thủ đô") == [document.id]


@pytest.mark.parametrize("clearance", list(Clearance))
def test_each_clearance_finds_the_levels_it_covers(make_user, clearance):
    reader = make_user(clearance=clearance.value)
    meeting = new_meeting(reader)
    by_level = {level: new_document(meeting, f"Báo cáo quốc phòng {level.value}", secrecy=level.value)
                for level in Clearance}

    expected = {by_level[level].id for level in Clearance if clearance.covers(level)}
    assert set(found(reader, "báo cáo quốc phòng")) == expected


def test_staff_need_the_clearance_too(make_user, minister):
    uncleared_staff = make_user(role="secretariat", clearance="mat")
    meeting = new_meeting(minister)
    secret = new_document(meeting, "Phương án tác chiến", secrecy="toi_mat")
    confidential = new_document(meeting, "Phương án hậu cần tác chiến", secrecy="mat")

    assert found(uncleared_staff, "tác chiến") == [confidential.id]
    assert secret.id not in found(uncleared_staff, "phương án")


def test_drafts_are_found_by_staff_only(staff, minister):
    meeting = new_meeting(minister)
    draft = new_document(meeting, "Dự thảo Nghị định về đầu tư công", status="draft")

    assert found(minister, "đầu tư công") == []
    assert found(staff, "đầu tư công") == [draft.id]


def test_recalled_documents_are_found_by_staff_only(staff, minister):
    meeting = new_meeting(minister)
    recalled = new_document(meeting, "Báo cáo mật về biên giới", status="recalled")

    assert found(minister, "biên giới") == []
    assert found(staff, "biên giới") == [recalled.id]


def test_documents_of_a_cancelled_meeting_are_found_by_staff_only(staff, minister):
    meeting = new_meeting(minister, status="cancelled")
    document = new_document(meeting, "Tờ trình về giá điện")

    assert found(minister, "giá điện") == []
    assert found(staff, "giá điện") == [document.id]


@pytest.mark.parametrize(("deputy_status", "sees"),
                         [("approved", True), ("pending", False), ("rejected", False)])
def test_a_deputy_finds_the_documents_only_once_approved(minister, make_user, deputy_status, sees):
    deputy = make_user("tt.taichinh")
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình về thuế thu nhập")
    send_deputy(meeting, minister, deputy, deputy_status)

    assert found(deputy, "thuế thu nhập") == ([document.id] if sees else [])
    assert found(minister, "thuế thu nhập") == [document.id]


def test_hidden_documents_are_filtered_before_the_limit(minister, outsider):
    hidden = new_meeting(outsider)
    for n in range(30):
        new_document(hidden, f"Ngân sách quốc phòng {n}", "ngân sách " * 20)
    new_document(new_meeting(minister), "Ngân sách nháp", "ngân sách", status="draft")
    visible = new_document(new_meeting(minister), "Phụ lục", "một dòng về ngân sách")

    assert found(minister, "ngân sách", limit=1) == [visible.id]


def test_snippets_come_only_from_documents_the_user_may_see(make_user):
    reader = make_user(clearance="mat")
    meeting = new_meeting(reader)
    new_document(meeting, "Phương án", "kho bạc: mật khẩu két sắt là 7391", secrecy="tuyet_mat")
    new_document(meeting, "Phương án khác", "kho bạc: bản nháp 7391", status="draft")
    new_document(new_meeting(), "Phương án ngoài", "kho bạc: mật mã 7391")
    public = new_document(meeting, "Báo cáo", "kho bạc nhà nước công khai")

    hits = search_documents(reader, "kho bạc")
    assert [hit.document.id for hit in hits] == [public.id]
    assert "7391" not in "".join(hit.snippet + hit.title_html for hit in hits)
    assert search_documents(reader, "7391") == []


def test_ranks_tell_nothing_about_documents_the_user_cannot_see(minister, outsider):
    """Corpus-wide statistics (bm25's IDF) would let a rank reveal how many hidden documents
    hold a word; ranks use each document's own words only."""
    meeting = new_meeting(minister)
    new_document(meeting, "Đảo chính", "kế hoạch đảo chính")
    new_document(meeting, "Kế hoạch", "kế hoạch kế hoạch đảo chính")

    def ranks():
        return [(hit.document.id, hit.rank) for hit in search_documents(minister, "kế hoạch đảo chính")]

    before = ranks()
    for n in range(20):
        new_document(new_meeting(outsider), f"Kế hoạch {n}", "đảo chính " * n, secrecy="tuyet_mat")
    assert ranks() == before
    assert len(before) == 2


def test_results_agree_with_the_access_rules_for_everyone(make_user):
    """The SQL filter against the Python rules of cabinet.meetings.access, user by user."""
    users = [make_user(role=role, clearance=clearance.value)
             for role in ("member", "guest", "secretariat", "admin") for clearance in Clearance]
    deputy_a, deputy_r = make_user(), make_user()
    meetings = [new_meeting(*users[0:8]), new_meeting(*users[4:12], status="cancelled"),
                new_meeting(users[1], users[5]), new_meeting()]
    send_deputy(meetings[2], users[1], deputy_a, "approved")
    send_deputy(meetings[2], users[5], deputy_r, "rejected")
    cases = [(m, level, status) for m in meetings for level in Clearance
             for status in ("draft", "published", "recalled")]
    documents = [new_document(meeting, f"Hồ sơ trình {n}", secrecy=level.value, status=status)
                 for n, (meeting, level, status) in enumerate(cases)]

    for user in [*users, deputy_a, deputy_r]:
        expected = {d.id for d in documents
                    if can_see_meeting(user, d.meeting) and cleared_for(user, d.secrecy)
                    and (is_staff(user) or (d.status == "published" and not d.meeting.is_cancelled))}
        assert set(found(user, "hồ sơ trình", limit=200)) == expected, user


# --- the index follows the data -------------------------------------------------------------


def test_a_new_version_replaces_the_text(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình", "Phương án một: xây cầu Thủ Thiêm")
    add_version(document, "Phương án hai: xây hầm vượt sông")

    assert found(minister, "xây cầu") == []
    assert found(minister, "hầm vượt sông") == [document.id]


def test_text_filled_in_later_is_found(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình", "")
    document.versions[-1].text_content = "Nội dung trích xuất sau khi chuyển đổi"
    db.session.flush()

    assert found(minister, "trích xuất") == [document.id]


def test_a_deleted_version_gives_back_the_previous_text(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình", "bản đầu tiên")
    version = add_version(document, "bản thứ hai")
    db.session.delete(version)
    db.session.flush()

    assert found(minister, "đầu tiên") == [document.id]
    assert found(minister, "thứ hai") == []


def test_a_renamed_document_is_found_by_its_new_title(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Dự thảo lần một")
    document.title = "Dự thảo hoàn chỉnh"
    db.session.flush()

    assert found(minister, "lần một") == []
    assert found(minister, "hoàn chỉnh") == [document.id]


def test_a_deleted_document_disappears(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Tờ trình cũ", "nội dung cũ")
    kept = new_document(meeting, "Tờ trình mới", "nội dung mới")
    db.session.delete(document)
    db.session.flush()

    assert found(minister, "tờ trình") == [kept.id]
    assert found(minister, "nội dung cũ") == []


def test_changes_made_without_the_orm_are_followed_too(minister):
    meeting = new_meeting(minister)
    gone = new_document(meeting, "Tờ trình bị xoá", "văn bản")
    renamed = new_document(meeting, "Tên cũ", "văn bản")
    db.session.execute(sa.text("UPDATE documents SET title = 'Tên mới' WHERE id = :id"), {"id": renamed.id})
    db.session.execute(sa.text("UPDATE document_versions SET text_content = 'chữ sửa tay'"
                               " WHERE document_id = :id"), {"id": renamed.id})
    db.session.execute(sa.text("DELETE FROM document_versions WHERE document_id = :id"), {"id": gone.id})
    db.session.execute(sa.text("DELETE FROM documents WHERE id = :id"), {"id": gone.id})
    db.session.expire_all()

    assert found(minister, "tên mới chữ sửa tay") == [renamed.id]
    assert found(minister, "văn bản") == []
    assert found(minister, "bị xoá") == []


def test_documents_of_a_deleted_meeting_disappear(staff, minister):
    meeting = new_meeting(minister)
    new_document(meeting, "Tờ trình về cao tốc", "Bắc Nam")
    db.session.execute(sa.text("DELETE FROM meetings WHERE id = :id"), {"id": meeting.id})
    db.session.expire_all()

    assert found(staff, "cao tốc") == []
    assert found(staff, "bac nam") == []


# --- whatever is typed ----------------------------------------------------------------------


HOSTILE_QUERIES = [
    '"', '""', "'", "*", "a*", "*a", "NEAR(", "NEAR(a b)", "a OR", "OR", "AND", "NOT", "a NOT b", "(", ")",
    "(a", "title:ngân", "title : x", "{title body}: x", "^ngân", "-ngân", "+ngân", "ngân:*", "a & b | !c",
    "a <-> b", "'a':*", "%", "_", "\\", "\\'", "; DROP TABLE documents; --", "' OR 1=1 --", "a\x00b",
    "\ud800", "ngân\udfff", "🇻🇳 ngân sách 👍", "預算", "бюджет", "ميزانية", "\u200b\u200d", "\u0301\u0300",
    "x" * 10_000, "ngân " * 2_000, "a " * 5_000, "ﬁnance", "İstanbul", "ǅ", "１２３", "Ⅻ", "\t\n\r",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_no_query_makes_search_fail(minister, staff, query):
    meeting = new_meeting(minister)
    new_document(meeting, "Ngân sách NEAR quỹ OR dự phòng", 'Tờ trình "ngân sách" (a OR b) * NEAR( title: x')

    for user in (minister, staff):
        hits = search_documents(user, query)
        assert isinstance(hits, list)
        assert len(hits) <= 1


@pytest.mark.parametrize("query", ["", "   ", "...", "*", '"', "()", "\x00", None])
def test_a_query_without_words_finds_nothing(minister, query):
    new_document(new_meeting(minister), "Tờ trình", "nội dung")

    assert search_documents(minister, query) == []


def test_operators_are_plain_words(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Quỹ dự phòng OR quỹ khác", "NEAR bờ biển")

    assert found(minister, "quỹ OR") == [document.id]
    assert found(minister, 'near("bờ biển")') == [document.id]
    assert found(minister, "dự phòng NOT khác") == []  # "not" is a word the document lacks


def test_a_very_long_query_is_cut_not_refused(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Ngân sách")

    assert found(minister, "ngân sách " * 1_000) == [document.id]
    assert len(search_terms("từ" + " x" * 10_000)) <= search.MAX_TERMS
    assert search_terms("a" * 10_000) == ["a" * search.MAX_QUERY_CHARS]


def test_search_terms_keep_only_folded_words():
    assert search_terms('"Ngân sách" OR (NEAR* đồng:ý) ngân') == ["ngan", "sach", "or", "near", "dong", "y"]
    assert search_terms("COVID-19, 3.5% 123/2024/NĐ-CP") == [
        "covid", "19", "3", "5", "123", "2024", "nd", "cp"]
    assert search_terms("a\x00b\ud800c") == ["a", "b", "c"]


def test_non_positive_limits_find_nothing(minister):
    new_document(new_meeting(minister), "Ngân sách")

    assert search_documents(minister, "ngân sách", limit=0) == []
    assert search_documents(minister, "ngân sách", limit=-5) == []


def test_punctuated_words_are_split_alike_in_text_and_query(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Nghị định 123/2024/NĐ-CP",
                            "phòng chống COVID-19; tăng 3.5% so với kế hoạch")

    for query in ["123/2024/NĐ-CP", "nđ cp 2024", "nd-cp", "covid 19", "COVID-19", "3.5", "3,5%"]:
        assert found(minister, query) == [document.id], query


# --- the migration --------------------------------------------------------------------------


def test_the_migration_indexes_documents_that_already_exist(minister):
    meeting = new_meeting(minister)
    document = new_document(meeting, "Báo cáo có sẵn", "trước khi có tìm kiếm")
    user_id, document_id = minister.id, document.id
    db.session.commit()
    db.session.remove()
    downgrade(revision="0002_meetings_documents")
    upgrade()

    user = db.session.get(type(minister), user_id)
    assert found(user, "có sẵn") == [document_id]
    assert found(user, "tìm kiếm") == [document_id]


def test_every_search_trigger_exists(app):
    """A batch migration that rebuilds documents or document_versions on SQLite drops their
    triggers silently: this fails until they are made again."""
    if ON_POSTGRES:
        names = db.session.execute(sa.text(
            "SELECT tgname FROM pg_trigger"
            " WHERE NOT tgisinternal AND tgname LIKE 'document_search%'")).scalars()
        assert set(names) == {"document_search_on_document", "document_search_on_version"}
    else:
        from importlib import import_module

        expected = set(import_module("migrations.versions.0003_document_search").SQLITE_TRIGGERS)
        names = db.session.execute(sa.text(
            "SELECT name FROM sqlite_master"
            " WHERE type = 'trigger' AND name LIKE 'document_search%'")).scalars()
        assert set(names) == expected


def test_autogenerate_sees_no_difference_once_the_search_tables_are_left_out(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": search.include_object})
        assert compare_metadata(context, db.metadata) == []
