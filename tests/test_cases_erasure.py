"""Erasing a case wipes the free text that may quote it (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from citizendata.store.models import CaseVerification, LinkDecision
from citizendata.workspace import Client, Workspace
from test_cases import SLUG, _flip, casos  # noqa: F401  (the fixture)

WITNESS = "María José Gómez"


def test_erasing_a_case_wipes_its_evidence_notes_and_pair_notes(ws: Workspace,
                                                                 casos: Client) -> None:  # noqa: F811
    ids = _flip(casos)
    casos.verify_case(SLUG, ids["flip:R1"], "verified", criteria=["identity", "role"],
                      evidence=f"Testimonio de {WITNESS}", note=f"vecina de {WITNESS}")
    casos.verify_case(SLUG, ids["flip:R2"], "not_verified", criteria=["identity"],
                      evidence="", note="Ana no responde")
    casos.decide_link(SLUG, "fiscalia:F-001", "flip:R1", "match", note=f"{WITNESS}, la misma")
    casos.decide_link(SLUG, "fiscalia:F-002", "fiscalia:F-003", "non_match",
                      note="Pedro no es Luz Dary")
    casos.withdraw_consent(SLUG, "cases", ids["flip:R1"], erase=True)

    def stored(db: object) -> tuple[list[tuple[int, str, str, str]], list[tuple[str, str]]]:
        ver = [(r.submission_id, r.decision, r.evidence, r.note)
               for r in db.scalars(select(CaseVerification).order_by(CaseVerification.id))]  # type: ignore[attr-defined]
        links = [(f"{r.left_key}|{r.right_key}", r.note)
                 for r in db.scalars(select(LinkDecision).order_by(LinkDecision.id))]  # type: ignore[attr-defined]
        return ver, links

    ver, links = ws.run(stored, write=False)
    assert WITNESS not in repr(ver) + repr(links)
    # the decisions themselves stay (the audit trail), and other cases' text is untouched
    assert [v[1] for v in ver] == ["verified", "not_verified"]
    assert ver[1][3] == "Ana no responde"
    assert links[0][0] == "fiscalia:F-001|flip:R1" and "erased" in links[0][1]
    assert links[1] == ("fiscalia:F-002|fiscalia:F-003", "Pedro no es Luz Dary")
