"""Build the Kenya maternal-health demo workspace (used by `citizendata demo`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citizendata.errors import Conflict
from citizendata.projects.spec import (
    EngagementEntry,
    EstimationSpec,
    OrganisationRef,
    ProjectSpec,
    QualitySpec,
    ReleaseSpec,
    Stewardship,
    ValidationSpec,
)
from citizendata.workspace import Client, Workspace

__all__ = ["DEMO_ADMIN", "build_demo", "kenya_spec"]

DEMO_ADMIN = {"username": "admin", "password": "demo-admin-2026"}
BATCH = 1000


def kenya_spec() -> ProjectSpec:
    """The Kenya scenario's project description as a citizendata project spec."""
    from citizendata.scenarios.kenya_maternal_health import project as kp

    p: dict[str, Any] = kp.PROJECT
    notes: dict[str, str] = p.get("engagement_notes", {})
    engagement = {stage: EngagementEntry(level=level, evidence=notes.get(stage, ""))
                  for stage, level in kp.ENGAGEMENT.items()}
    # the network chose the questions: design is community-led like "identify"
    engagement["design"] = EngagementEntry(level=kp.ENGAGEMENT["identify"],
                                           evidence=notes.get("identify", ""))
    return ProjectSpec(
        slug=p["slug"],
        name=p["name"],
        initiator=OrganisationRef(slug="olkeri-pastoralist-womens-network",
                                  name=p["initiator"]["name"], kind="cso", country="404"),
        partners=[
            OrganisationRef(slug="county-health-departments", name=p["partners"][0]["name"],
                            kind="government", country="404", role="government"),
            OrganisationRef(slug="knbs", name=p["partners"][1]["name"], kind="nso",
                            country="404", role="nso"),
        ],
        purpose=p["purpose"],
        consent_basis=p["consent_basis"],
        data_sharing=p.get("data_sharing", ""),
        integration_intent=p["integration_intent"],
        country=p.get("ref_area"),
        engagement=engagement,
        validation=ValidationSpec.model_validate(kp.VALIDATION),
        estimation=EstimationSpec.model_validate(kp.ESTIMATION),
        stewardship=Stewardship.model_validate(kp.STEWARDSHIP),
        quality=QualitySpec.model_validate(kp.QUALITY),
        release=ReleaseSpec.model_validate(kp.RELEASE),
    )


def _setup(ws: Workspace) -> Client:
    from citizendata.scenarios.kenya_maternal_health import project as kp

    admin = ws.create_admin(DEMO_ADMIN["username"], DEMO_ADMIN["password"],
                            display_name="Demo administrator")
    for u in kp.DEMO_USERS:
        admin.create_user(u["username"], u["password"])
    owner_name = next(u["username"] for u in kp.DEMO_USERS if u["role"] == "owner")
    # the owner starts the project for her organisation, of which she must be a member
    org = kenya_spec().initiator
    admin.create_organisation(org.slug, org.name, kind=org.kind, country=org.country)
    admin.add_organisation_member(org.slug, owner_name, "owner")
    owner = ws.as_user(owner_name)
    owner.create_project(kenya_spec())
    for u in kp.DEMO_USERS:
        if u["role"] != "owner":
            owner.add_member(kenya_spec().slug, u["username"], u["role"])
    return owner


def _approve_clean(validator: Client, slug: str, form_id: str) -> int:
    """As the demo's validator, approve received submissions with no findings of concern.

    Submissions with errors (now has_issues) or flagged as possible duplicates wait
    for a person; the rest are approved in bulk, as a review team would after a look.
    """
    rows, _ = validator.review_queue(slug, form_id, statuses=("received",), limit=10**7)
    flagged = {f["instance_id"] for f in validator.findings(
        slug, form_id, kind="duplicate", limit=10**6)[0]}
    clean = [r["instance_id"] for r in rows if r["errors"] == 0
             and r["instance_id"] not in flagged]
    for i in range(0, len(clean), 5000):
        validator.decide(slug, form_id, clean[i:i + 5000], "approved",
                         comment="demo: no machine findings of concern")
    return len(clean)


def _add_references(owner: Client, slug: str, margins: Any) -> None:
    """The census margins and the place hierarchy, as the NSO partner would supply them."""
    from citizendata.scenarios.kenya_maternal_health.geography import (
        boundaries_geojson,
        geography_csv,
    )

    owner.add_reference_table(slug, "census_margins",
                              margins.to_csv(index=False, lineterminator="\n").encode(),
                              kind="margins", note="synthetic census counts of women and men "
                              "by ward and five-year age group", replace=True)
    owner.add_reference_table(slug, "geography", geography_csv(), kind="geography",
                              note="group ranch -> ward -> county", replace=True)
    for level, name in (("ward", "wards"), ("county", "counties")):
        owner.add_reference_table(slug, name, boundaries_geojson(level), kind="boundaries",
                                  note=f"synthetic {level} shapes for the report's maps "
                                  "(not real boundaries)", replace=True)


def build_demo(path: Path, *, n: int = 5000, fresh: bool = False,
               console: Console | None = None) -> tuple[Workspace, Table]:
    """Create (or reuse) the demo workspace with ~n Kenya submissions and a snapshot."""
    from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate
    from citizendata.scenarios.kenya_maternal_health import project as kp

    console = console or Console(stderr=True)
    if fresh and path.exists():
        shutil.rmtree(path)
    ws = Workspace.open(path)
    slug = kp.PROJECT["slug"]
    owner = _setup(ws) if not ws.has_users() else ws.as_user(
        next(u["username"] for u in kp.DEMO_USERS if u["role"] == "owner"))
    owner.update_project(kenya_spec())  # a demo built by an older version gets today's spec
    version = owner.add_form(slug, FORM_PATH)
    data = generate(n)
    collector = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "collector"))
    created = dupes = 0
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("submitting", total=len(data.submissions))
        for start in range(0, len(data.submissions), BATCH):
            chunk = data.submissions[start:start + BATCH]
            try:
                r = collector.submit(slug, version.form_id, json.dumps(chunk).encode())
            except Conflict:
                raise
            created += r.created
            dupes += r.duplicates
            bar.advance(task, len(chunk))
        task_v = bar.add_task("validating", total=len(data.submissions))
        validator = ws.as_user(next(u["username"] for u in kp.DEMO_USERS
                                    if u["role"] == "validator"))
        report = validator.validate(slug, version.form_id,
                                    progress=lambda k: bar.advance(task_v, k))
        approved = _approve_clean(validator, slug, version.form_id)
        task2 = bar.add_task("snapshot", total=len(data.submissions))
        analyst = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "analyst"))
        info = analyst.snapshot(slug, version.form_id,
                                progress=lambda k: bar.advance(task2, k))
        _add_references(owner, slug, data.margins)
        sba = analyst.estimate(slug, "sba")
        quality = analyst.quality(slug, version.form_id, "sba")
        task3 = bar.add_task("release", total=1)
        release = owner.build_release(slug)
        owner.sign_release(slug, release["version"], "approve",
                           "read back and agreed at the network's assembly")
        owner.publish_release(slug, release["version"])
        bar.update(task3, completed=1)
    summary = Table(title="citizendata demo: kenya-maternal-health", show_header=False)
    summary.add_row("workspace", str(path.resolve()))
    summary.add_row("form", f"{version.form_id} v{version.version}")
    summary.add_row("submissions", f"{created:,} new, {dupes:,} already there")
    summary.add_row("validation", f"{report.rules} rules: {report.findings:,} findings "
                    f"({report.errors} errors, {report.warnings} warnings) in "
                    f"{report.seconds:.1f} s; " + ", ".join(
                        f"{k} {v}" for k, v in sorted(report.by_kind.items())))
    summary.add_row("review", f"{report.moved_to_has_issues} moved to has_issues, "
                    f"{report.duplicate_pairs} duplicate pair(s) to decide, {approved:,} "
                    "approved (no errors, no duplicate flag)")
    for name, t in info.tables.items():
        summary.add_row(f"snapshot {name}", f"{t.rows:,} rows × {len(t.columns)} columns")
    total = sba.total()
    summary.add_row("SDG 3.1.2 (sba)", f"{total['value']:.1f}% (95% CI {total['ci_low']:.1f}–"
                    f"{total['ci_high']:.1f}, n={total['n']:,} births), weighted to census "
                    f"margins; {len(sba.table):,} cells; national benchmark "
                    f"{sba.indicator.benchmark.value if sba.indicator.benchmark else '-'}% — "
                    "see 'citizendata estimate sba'")
    # the analyst's run: it tells how many cells are hidden, never which are the small ones
    p = sba.protection or {}
    summary.add_row("protection", f"{p.get('suppressed', 0):,} of {p.get('cells', 0):,} cells "
                    f"suppressed (threshold {p.get('rules', {}).get('threshold', '?')}), all "
                    "flagged alike (conf_status C) so no reader can tell the small ones from "
                    "those hiding them; see 'citizendata privacy policy' and "
                    "'citizendata release audit'")
    rec, eng = quality["recommendation"], quality["engagement"]
    weak = [d["name"] for d in quality["scorecard"]["dimensions"] if d["rating"] == "low"]
    summary.add_row("quality", f"citizen-data threshold {'met' if eng['meets_threshold'] else 'not met'}"
                    f" ({eng['p4t_category']}); gateway "
                    f"{'passed' if quality['gateway']['passed'] else 'failed'}; recommendation "
                    f"{rec['recommendation']} ({rec['rule']})" + (f"; low: {', '.join(weak)}"
                                                                   if weak else "")
                    + " — see 'citizendata quality show'")
    summary.add_row("release", f"v{release['version']} published after the community's "
                    f"sign-off: /public/releases/{slug}/{release['version']}/report.html "
                    f"({len(release['files'])} files: SDMX, CSV, Parquet, JSON, report)")
    summary.add_row("admin login", f"{DEMO_ADMIN['username']} / {DEMO_ADMIN['password']}")
    for u in kp.DEMO_USERS:
        summary.add_row(f"{u['role']} login", f"{u['username']} / {u['password']}")
    return ws, summary
