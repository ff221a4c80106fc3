from tests.conftest import login


def test_login_page_is_vietnamese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'lang="vi"' in html


def test_member_logs_in_and_sees_home(client, member):
    response = login(client, "bt.tuphap", follow_redirects=True)
    assert response.status_code == 200
    assert member.full_name in response.get_data(as_text=True)
