"""The operations layer: each write applies the domain's rules around its engine command, and
leaves nothing half-done when it is refused."""

import io

import pytest

from engine.errors import Forbidden, InvalidInput
from tests.support.desk import RECEPTION, SUPERVISOR, Desk
from workflows.documents import Upload
from workflows.operations.cases import cancel_case
from workflows.operations.documents import mark_checklist_item
from workflows.operations.tasks import save_draft
from workflows.requests import documents


@pytest.fixture
def desk(engine):
    return Desk(engine)


def _at_verification(desk):
    request = desk.open("financial_support")
    desk.complete(RECEPTION, request, "intake", {"visit_summary": "حضر", "inquiries_answered": True})
    return request, desk.task(request, "check_data")


def test_cancelling_a_case_cancels_its_request(desk, engine, clock):
    request = desk.open("financial_support")
    engine.run(cancel_case, SUPERVISOR, request.instance_id, "طلب مكرر")
    after = desk.request(request)
    assert (after.status, after.closed_at) == ("cancelled", clock.now())
    assert desk.detail(request)["status"] == "cancelled"


def test_a_file_whose_record_is_refused_is_not_kept(desk, engine, tmp_path):
    engine.settings["documents"] = {"dir": str(tmp_path / "uploads"), "max_mb": 5, "types": ["pdf"]}
    request, task = _at_verification(desk)
    pdf = Upload("income.pdf", io.BytesIO(b"%PDF-1.7\n" + b"0" * 100))
    with pytest.raises(InvalidInput, match="note: say what is missing"):
        engine.run(mark_checklist_item, RECEPTION, task.id, "income_proof", "missing", "", pdf)
    assert list((tmp_path / "uploads").rglob("*.pdf")) == []  # written first, removed with the refusal
    kept = engine.run(mark_checklist_item, RECEPTION, task.id, "income_proof", "received", "",
                      Upload("income.pdf", io.BytesIO(b"%PDF-1.7\n" + b"0" * 100)))
    assert [p.relative_to(tmp_path / "uploads").as_posix() for p in (tmp_path / "uploads").rglob("*.pdf")] == [
        kept.file_name]
    assert {d.kind: d.state for d in engine.query(lambda e, s: documents(s, request.id))}["income_proof"] == "received"


def test_a_draft_is_kept_only_by_someone_who_may_work_on_the_task(desk, engine):
    from engine.actors import Actor

    _, task = _at_verification(desk)
    with pytest.raises(Forbidden, match="belongs to lane 'reception'"):
        engine.run(save_draft, Actor.user("ali", ["committee"]), task.id, {"notes": "x"})
    draft = engine.run(save_draft, RECEPTION, task.id, fields={"complete": "on", "verification_notes": "نصف"})
    assert draft.saved_by == "reception1" and draft.data["complete"] is True
