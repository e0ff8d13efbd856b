"""Deploying diagrams: each file checked as the engine checks it, all files or none."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine.actors import Actor
from engine.definitions import Deployment, deploy_definition
from workflows.accounts import require_role
from workflows.forms import forms_being_deployed, forms_for_deploy

if TYPE_CHECKING:
    from engine.context import CaseEngine


def deploy(
    engine: CaseEngine, session: Session, actor: Actor, files: Iterable[tuple[bytes, str]], note: str | None = None
) -> list[Deployment]:
    """Deploy BPMN files, given as (content, file name), in one transaction: a bad file deploys nothing.

    ``note`` (what the versions change) is kept with each new version.

    Each version keeps the forms its tasks name, as the files in ``bpmn/forms`` are now: a later
    change of a file does not change the form of the version's running cases.

    Raises:
        Forbidden: only process owners and administrators deploy.
        InvalidDefinition: a file is refused; every problem names its element or line.
    """
    require_role(actor, "process_owner", "administrator")
    results = []
    for xml, source in files:
        forms = forms_for_deploy(xml, None)
        with forms_being_deployed(forms):
            results.extend(deploy_definition(engine, session, actor, xml, source, note=note, forms=forms,
                                             forms_as_files=True))
    return results
