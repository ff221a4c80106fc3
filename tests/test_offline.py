"""The installable app and offline reading, server side: the manifest, the service worker, the
list of what a member may keep on the device (by role and secrecy), the refusals, the headers that
keep Tối mật / Tuyệt mật off the device, and the logout that wipes it.

The browser side (storing, reading with the network off, the queue, recall, logout) is in
tests/test_offline_browser.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.documents import service as documents
from cabinet.documents.models import DocumentRead
from cabinet.extensions import db
from cabinet.offline import service as offline
from tests.conftest import csrf_token, login
from tests.meeting_factories import schedule
from tests.test_documents import published, upload


@pytest.fixture
def cleared(make_user):
    """A minister cleared up to Tuyệt mật, one cleared for Mật only, and a cleared clerk."""
    return {"top": make_user("bt.quocphong", clearance="tuyet_mat", full_name="Đại tướng Quốc Phòng"),
            "mat": make_user("bt.noivu", clearance="mat", full_name="Bộ trưởng Nội vụ"),
            "clerk": make_user("vp.covat", role="secretariat", clearance="tuyet_mat",
                               full_name="Chuyên viên Cơ yếu")}


@pytest.fixture
def dossier(cabinet, cleared):
    """A meeting with one document of each secrecy level, a draft and a recalled document."""
    thuky = cleared["clerk"]
    members = [cabinet["tuphap"], cleared["top"], cleared["mat"]]
    meeting = schedule(thuky, chair=cabinet["pm"], members=members, secretaries=[thuky],
                       guests=[cabinet["guest"]])
    docs = {level: published(thuky, meeting, title=f"Tài liệu {level}", secrecy=level)
            for level in ("none", "mat", "toi_mat", "tuyet_mat")}
    docs["draft"] = upload(thuky, meeting, title="Dự thảo chưa phát hành")
    docs["recalled"] = published(thuky, meeting, title="Tài liệu đã thu hồi")
    documents.recall(thuky, docs["recalled"].id, "Thay bằng bản mới")
    return meeting, {key: doc.id for key, doc in docs.items()}


def offline_list(client, meeting_id: int):
    return client.get(f"/meetings/{meeting_id}/offline", headers={"Accept": "application/json"})


def stored_ids(body: dict) -> set[int]:
    return {d["id"] for d in body["documents"]}


# --- the installable app ---------------------------------------------------------------------


def test_the_manifest_describes_an_installable_app_in_the_readers_language(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json()
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    assert manifest["short_name"] == "e-Cabinet" and manifest["theme_color"].startswith("#")
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("192x192", "maskable"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:  # every icon is there, as a PNG
        assert client.get(icon["src"]).headers["Content-Type"] == "image/png"
    client.set_cookie("lang", "vi")
    assert manifest["lang"] in ("vi", "en")


def test_every_page_links_the_manifest_and_the_theme_colour(client, cabinet):
    html = client.get("/login").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in html
    assert '<meta name="theme-color"' in html
    assert "js/offline.js" not in html  # the offline script is for logged-in users only
    login(client, "bt.tuphap")
    home = client.get("/").get_data(as_text=True)
    assert "js/offline.js" in home and 'id="offline-pending"' in home and "data-offline-logout" in home


def test_the_service_worker_is_served_from_the_root_and_always_revalidated(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    assert 'addEventListener("fetch"' in body and "X-Cabinet-Offline" in body


def test_the_no_connection_page_holds_nothing_personal(client, cabinet):
    login(client, "bt.tuphap")
    html = client.get("/offline").get_data(as_text=True)
    assert "data-offline-stored" in html
    assert "csrf_token" not in html and "Phan Thị Ngọc Diệp" not in html


def test_the_csp_lets_the_service_worker_and_manifest_load_from_this_site_only(client):
    csp = client.get("/sw.js").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp  # worker-src, manifest-src fall back
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


# --- what a member may keep -------------------------------------------------------------------


def test_a_member_may_keep_the_meeting_and_its_unclassified_documents(client, cabinet, dossier):
    meeting, ids = dossier
    login(client, "bt.tuphap")
    response = offline_list(client, meeting.id)
    assert response.status_code == 200
    body = response.get_json()
    assert stored_ids(body) == {ids["none"]}  # no clearance: Mật and above are not even listed
    assert body["withheld"] == []
    urls = {e["url"] for e in body["entries"]}
    doc = ids["none"]
    assert {f"/meetings/{meeting.id}", f"/documents/{doc}", f"/documents/{doc}/content",
            f"/documents/{doc}/annotations"} <= urls
    assert "/static/vendor/pdfjs/pdf.worker.min.mjs" in urls  # the viewer opens with no network
    assert {"/static/js/app.js", "/static/js/annotations.js", "/static/css/viewer.css"} <= urls
    assert "/static/js/sw.js" not in urls
    content = next(e for e in body["entries"] if e["url"] == f"/documents/{doc}/content")
    assert content["kind"] == "content" and content["tag"] == "v1"


def test_secret_and_top_secret_documents_are_never_listed_even_for_the_cleared(client, cleared, dossier):
    meeting, ids = dossier
    login(client, "bt.quocphong")
    body = offline_list(client, meeting.id).get_json()
    assert stored_ids(body) == {ids["none"], ids["mat"]}  # Mật may travel; Tối mật, Tuyệt mật never
    assert {d["id"] for d in body["withheld"]} == {ids["toi_mat"], ids["tuyet_mat"]}
    assert all("content_url" not in d for d in body["withheld"])
    for level in ("toi_mat", "tuyet_mat"):
        assert not any(f"/documents/{ids[level]}" in e["url"] for e in body["entries"])


def test_drafts_and_recalled_documents_are_not_listed_for_the_secretariat_either(client, cabinet, dossier):
    meeting, ids = dossier
    login(client, "thuky")
    body = offline_list(client, meeting.id).get_json()
    assert ids["draft"] not in stored_ids(body) and ids["recalled"] not in stored_ids(body)
    assert ids["none"] in stored_ids(body)


def test_a_document_recalled_after_storing_drops_out_of_the_list(client, cabinet, dossier):
    meeting, ids = dossier
    login(client, "bt.tuphap")
    assert ids["none"] in stored_ids(offline_list(client, meeting.id).get_json())
    documents.recall(cabinet["thuky"], ids["none"], "Sai số liệu")  # any secretariat may recall
    body = offline_list(client, meeting.id).get_json()
    assert stored_ids(body) == set()  # the device deletes what is no longer listed
    assert not any(e["url"].startswith(f"/documents/{ids['none']}") for e in body["entries"])


def test_outsiders_and_anonymous_visitors_get_no_list(client, cabinet, dossier):
    meeting, _ids = dossier
    assert offline_list(client, meeting.id).status_code == 401  # JSON asked: no redirect
    login(client, "bt.khac")
    assert offline_list(client, meeting.id).status_code == 404  # its existence is not revealed
    assert offline_list(client, 999_999).status_code == 404


def test_the_service_refuses_a_meeting_the_user_may_not_see(cabinet, dossier):
    meeting, _ids = dossier
    from cabinet.core.errors import NotFound

    with pytest.raises(NotFound):
        offline.offline_plan(cabinet["outsider"], meeting.id)
    assert offline.offline_plan(cabinet["guest"], meeting.id).documents  # invited guests may keep them


# --- headers that keep Tối mật and Tuyệt mật off the device ------------------------------------


@pytest.mark.parametrize("level", ["toi_mat", "tuyet_mat"])
def test_secret_documents_are_marked_never_offline_and_never_cached(client, cleared, dossier, level):
    _meeting, ids = dossier
    login(client, "bt.quocphong")
    for path in (f"/documents/{ids[level]}/content", f"/documents/{ids[level]}",
                 f"/documents/{ids[level]}/annotations"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["X-Cabinet-Offline"] == "never", path


def test_documents_that_may_travel_are_not_marked(client, cleared, dossier):
    _meeting, ids = dossier
    login(client, "bt.quocphong")
    for level in ("none", "mat"):
        response = client.get(f"/documents/{ids[level]}/content")
        assert response.status_code == 200
        assert "X-Cabinet-Offline" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"  # the HTTP cache never keeps them


def test_storing_is_audited_as_storing_and_does_not_count_as_reading(client, cleared, dossier):
    """The secretariat's "who has read the dossier" must not count a member whose tablet only
    stored it; the audit trail says what happened: the PDF went to that device."""
    _meeting, ids = dossier
    minister = cleared["top"]
    login(client, "bt.quocphong")
    stored = client.get(f"/documents/{ids['mat']}/content", headers={"X-Cabinet-Purpose": "offline"})
    assert stored.status_code == 200 and stored.data.startswith(b"%PDF")
    [entry] = audit_entries(minister, ids["mat"])
    assert entry.action == "document.stored_offline" and entry.details["watermarked"] is True
    assert read_mark(minister, ids["mat"]) is None

    assert client.get(f"/documents/{ids['mat']}/content").status_code == 200  # opened in the viewer
    assert [e.action for e in audit_entries(minister, ids["mat"])] == ["document.stored_offline",
                                                                      "document.viewed"]
    assert read_mark(minister, ids["mat"]) is not None


def audit_entries(user, document_id: int) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.actor_id == user.id, AuditEntry.object_type == "document",
        AuditEntry.object_id == str(document_id)).order_by(AuditEntry.seq)))


def read_mark(user, document_id: int) -> DocumentRead | None:
    return db.session.scalar(select(DocumentRead).where(DocumentRead.user_id == user.id,
                                                        DocumentRead.document_id == document_id))


def test_a_refused_secret_document_says_nothing_about_offline(client, cabinet, dossier):
    _meeting, ids = dossier
    login(client, "bt.tuphap")  # not cleared
    response = client.get(f"/documents/{ids['toi_mat']}/content")
    assert response.status_code == 403
    assert "X-Cabinet-Offline" not in response.headers


# --- the meeting page and logout ----------------------------------------------------------------


def test_the_meeting_page_offers_the_offline_button_and_queues_positions(client, cabinet, dossier):
    meeting, _ids = dossier
    from cabinet.meetings import service as meetings

    meetings.add_item(cabinet["thuky"], meeting.id, meetings.AgendaItemData(
        title="Dự án Luật Đất đai (sửa đổi)", presenter_organisation="Bộ Nông nghiệp và Môi trường",
        minutes=30))
    login(client, "bt.tuphap")
    html = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert f'data-offline-meeting="{meeting.id}"' in html
    assert f'data-list-url="/meetings/{meeting.id}/offline"' in html
    assert 'data-role="offline-button" aria-pressed="false"' in html
    assert "data-offline-queue" in html  # the positions form waits for the network when offline


def test_logout_tells_the_browser_to_wipe_the_device(client, cabinet):
    login(client, "bt.tuphap")
    token = csrf_token(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
