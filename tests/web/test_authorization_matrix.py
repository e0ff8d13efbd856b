"""Each role on each page: who may open what (anonymous → sign-in, a member's account → 403)."""


from engine.actors import SYSTEM
from engine.queries import list_tasks
from tests.support.desk import Desk
from tests.web.helpers import csrf_token as _token
from web import auth, create_app
from workflows.accounts import ROLE_LANES
from workflows.operations.accounts import create_user

PAGES = ("inbox", "members", "member", "case", "diagram", "task", "admin")


def _allowed(role: str | None, page: str) -> bool:
    if role is None:  # a member's own account opens no staff page
        return False
    if page == "task":  # the intake task is in the reception lane
        return role == "reception"
    if page == "admin":
        return role == "administrator"
    return True


def test_each_role_on_each_page(engine):
    auth.throttle._failures.clear()
    desk = Desk(engine)
    request = desk.open("financial_support")
    [task] = engine.query(list_tasks, SYSTEM)
    urls = {"inbox": "/inbox", "members": "/members", "member": f"/members/{desk.member.id}",
            "case": f"/cases/{request.instance_id}", "diagram": f"/cases/{request.instance_id}/diagram.bpmn",
            "task": f"/tasks/{task.id}", "admin": "/admin/users"}
    accounts = {role: [role] for role in ROLE_LANES} | {"member": []}
    for username, roles in accounts.items():
        engine.run(lambda e, s, u=username, r=roles: create_user(e, s, SYSTEM, u, "secret-pass", u, r, member_id=desk.member.id if not r else None))
    app = create_app({"TESTING": True, "SECRET_KEY": "t"}, engine=engine)
    wrong = []
    anonymous = app.test_client()
    for page, url in urls.items():
        response = anonymous.get(url)
        if response.status_code != 302 or "/login" not in response.headers["Location"]:
            wrong.append(("anonymous", page, response.status_code))
    for username, roles in accounts.items():
        client = app.test_client()
        login = client.get("/login").get_data(as_text=True)
        client.post("/login", data={"username": username, "password": "secret-pass", "csrf_token": _token(login)})
        role = roles[0] if roles else None
        for page, url in urls.items():
            status = client.get(url).status_code
            if status != (200 if _allowed(role, page) else 403):
                wrong.append((username, page, status))
        # Completing the task is refused the same way as opening it (reception may; it is not tried).
        if role != "reception":
            token = _token(client.get("/login?lang=ar").get_data(as_text=True))
            status = client.post(urls["task"], data={"csrf_token": token, "visit_summary": "x"}).status_code
            if status != 403:
                wrong.append((username, "complete task", status))
    assert wrong == [], wrong
    assert [t.id for t in engine.query(list_tasks, SYSTEM)] == [task.id]  # nobody completed it
