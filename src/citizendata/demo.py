"""Build the demo workspace (used by `citizendata demo`): the Kenya maternal-health project,
the Colombia press-freedom cases project and the Saint Lucia population project."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citizendata.projects.small_areas import SmallAreaSpec
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

__all__ = ["COLOMBIA_SCALE", "DEMO_ADMIN", "SAINT_LUCIA_SCALE", "build_colombia", "build_demo",
           "build_saint_lucia", "colombia_spec", "demo_logins", "kenya_spec",
           "release_to_publish"]

DEMO_ADMIN = {"username": "admin", "password": "demo-admin-2026"}
BATCH = 1000
# a tenth of the scenario (about 550 records in six lists): linkage and estimates in seconds
COLOMBIA_SCALE = 0.1
# a tenth of the island (about 17,000 people in the 300 areas, 1,000 enumerated dwellings)
SAINT_LUCIA_SCALE = 0.1


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
        small_areas=[SmallAreaSpec.model_validate(e) for e in kp.SMALL_AREAS],
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


def _add_references(owner: Client, slug: str, margins: Any, population: Any = None) -> None:
    """The census margins and the place hierarchy, as the NSO partner would supply them;
    with the ``population``, also the census covariates by ward (small area estimates)."""
    from citizendata.scenarios.kenya_maternal_health.covariates import covariates_csv
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
    owner.add_reference_table(slug, "dhs_births", dhs_reference_csv(), kind="other",
                              note="synthetic DHS-like survey of the same population: one row "
                              "per birth of an interviewed woman, with her design weight, "
                              "stratum (ward) and cluster (ea_id)", replace=True)
    if population is not None:
        owner.add_reference_table(slug, "ward_covariates", covariates_csv(population),
                                  kind="other", note="synthetic census covariates by ward: "
                                  "women 15-49, mean distance to a maternity ward, shares not "
                                  "indigenous, with disability and aged 20-34", replace=True)
    for level, name in (("ward", "wards"), ("county", "counties")):
        owner.add_reference_table(slug, name, boundaries_geojson(level), kind="boundaries",
                                  note=f"synthetic {level} shapes for the report's maps "
                                  "(not real boundaries)", replace=True)


def dhs_reference_csv() -> bytes:
    """The scenario's DHS-like survey (births) as the NSO would hand it over, coded as the form.

    The survey codes disability ``disability``/``no_disability``; the form's Washington
    Group variable says ``with_disability``/``without_disability``: harmonised here, once.
    """
    from citizendata.scenarios.kenya_maternal_health.dhs import build_dhs_sample

    births = build_dhs_sample()
    births["disability_status"] = births["disability_status"].map(
        {"disability": "with_disability", "no_disability": "without_disability"})
    return births.to_csv(index=False, lineterminator="\n").encode()


def demo_logins() -> list[dict[str, str]]:
    """Every demo login: user name, password, project role, and what they stand for.

    The community representative signs releases for the community (the project's
    ``release.community_representatives``); the NSO officer decides fitness.
    """
    from citizendata.scenarios.kenya_maternal_health import project as kp

    representatives = set(kp.RELEASE.get("community_representatives", []))
    out = [{**DEMO_ADMIN, "role": "site administrator", "stands_for": ""}]
    for u in kp.DEMO_USERS:
        duties = []
        if u["username"] in representatives:
            duties.append("community representative: signs releases for the community")
        if u["role"] == "nso":
            duties.append("NSO officer: attests quality and decides fitness")
        out.append({"username": u["username"], "password": u["password"], "role": u["role"],
                    "stands_for": "; ".join(duties)})
    from citizendata.scenarios import colombia_press_freedom as co

    signers = set(co.project.RELEASE.get("community_representatives", []))
    for u in co.DEMO_USERS:
        # who they are in the Colombia project goes with the role: the duties above are
        # the Kenya project's sign-off
        duty = {"validator": "FLIP staff, verifies cases and reviews record pairs",
                "analyst": "links the lists, estimates the uncounted"}.get(u["role"], "FLIP")
        if u["username"] in signers:
            duty = "FLIP's representative"
        out.append({"username": u["username"], "password": u["password"],
                    "role": f"{u['role']} (Colombia: {duty})", "stands_for": ""})
    from citizendata.scenarios import saint_lucia_population as slu

    for u in slu.DEMO_USERS:
        duty = {"owner": "the settlement committees' network",
                "collector": "community mapper", "validator": "reviews the enumeration",
                "analyst": "matches the census, estimates the population",
                "nso": "the statistics office: signs releases",
                "viewer": "settlement committees' representative: signs releases"}[u["role"]]
        out.append({"username": u["username"], "password": u["password"],
                    "role": f"{u['role']} (Saint Lucia: {duty})", "stands_for": ""})
    return out


def release_to_publish(owner: Client, slug: str, *, inputs_changed: bool
                       ) -> tuple[dict[str, Any] | None, bool]:
    """The release the demo can show without building another: (release, needs building).

    A rerun with the same inputs (no new submission, form version, reference table or
    project setting) keeps the latest published release instead of publishing an
    identical one; a release left awaiting sign-off by an interrupted run is signed and
    published rather than built again. Otherwise a new release is needed.
    """
    if inputs_changed:
        return None, True
    rows = owner.releases(slug)
    for status in ("published", "awaiting_signoff"):
        # a release awaiting sign-off counts only when none was ever published: then it is
        # the interrupted run's own, not one a person built to try the sign-off
        kept = [r for r in rows if r["status"] == status]
        if kept:
            return max(kept, key=lambda r: int(r["version"])), False
    return None, True


def _publish(owner: Client, slug: str, release: dict[str, Any]) -> dict[str, Any]:
    """Sign (as the community representative) and publish a release awaiting sign-off."""
    if release["status"] == "awaiting_signoff":
        owner.sign_release(slug, release["version"], "approve",
                           "read back and agreed at the network's assembly")
        owner.publish_release(slug, release["version"])
    return release


def _small_areas(analyst: Client, slug: str) -> str:
    """The ward estimates of skilled birth attendance (Fay–Herriot), as one summary line
    (for the analyst, as the summary's sba estimate: purpose "analysis")."""
    from statistics import median

    from citizendata.errors import BadInput

    try:
        r = analyst.small_area_estimates(slug, "sba", purpose="analysis")
    except BadInput as exc:  # a demo too small for the model says so rather than fail
        return f"not estimated: {exc.message}"
    cvd = [a["cv_direct"] for a in r["areas"] if a["cv_direct"] is not None]
    cvm = [a["cv"] for a in r["areas"] if a["cv"] is not None]
    cvs = (f"; median CV {median(cvd):.0%} direct, {median(cvm):.0%} model" if cvd and cvm
           else "")
    groups = r.get("groups") or []
    done = sum(bool(g.get("benchmarked")) for g in groups)
    bench = (f"benchmarked to the direct estimates of {done} of {len(groups)} counties "
             "(those the reliability rule passes)" if groups else "not benchmarked")
    return (f"{len(r['areas'])} wards by Fay–Herriot ({r['method'].upper()}, "
            f"{r['transform'] or 'no'} transform), {bench}{cvs} — see the release report and "
            f"/api/v1/projects/{slug}/small-areas/sba")


def _reference_hashes(owner: Client, slug: str) -> dict[str, str]:
    return {r["name"]: r["sha256"] for r in owner.reference_tables(slug)}


def build_demo(path: Path, *, n: int = 5000, fresh: bool = False,
               console: Console | None = None) -> tuple[Workspace, Table]:
    """Create (or reuse) the demo workspace with ~n Kenya submissions and a snapshot.

    Idempotent: a rerun on an existing demo workspace adds nothing that is already
    there (submissions are identical resends; the form, references and settings are
    unchanged) and, when nothing changed, neither validates again, nor keeps another
    estimate run, nor builds and publishes another identical release.
    """
    from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate
    from citizendata.scenarios.kenya_maternal_health import project as kp

    console = console or Console(stderr=True)
    if fresh and path.exists():
        shutil.rmtree(path)
    ws = Workspace.open(path)
    slug = kp.PROJECT["slug"]
    rerun = ws.has_users()
    owner = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "owner")) \
        if rerun else _setup(ws)
    spec_before = owner.project(slug).spec.model_dump(mode="json")
    owner.update_project(kenya_spec())  # a demo built by an older version gets today's spec
    spec_changed = owner.project(slug).spec.model_dump(mode="json") != spec_before
    versions_before = {f.form_id: list(f.versions) for f in owner.forms(slug)}
    version = owner.add_form(slug, FORM_PATH)
    new_version = version.version not in versions_before.get(version.form_id, [])
    data = generate(n)
    refs_before = _reference_hashes(owner, slug)
    _add_references(owner, slug, data.margins, data.population)
    refs_changed = _reference_hashes(owner, slug) != refs_before
    collector = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "collector"))
    created = dupes = 0
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("submitting", total=len(data.submissions))
        for start in range(0, len(data.submissions), BATCH):
            chunk = data.submissions[start:start + BATCH]
            r = collector.submit(slug, version.form_id, json.dumps(chunk).encode())
            created += r.created
            dupes += r.duplicates
            bar.advance(task, len(chunk))
        changed = created > 0 or spec_changed or new_version or refs_changed
        published, build = release_to_publish(owner, slug, inputs_changed=changed)
        validator = ws.as_user(next(u["username"] for u in kp.DEMO_USERS
                                    if u["role"] == "validator"))
        report = None
        if build:  # a rerun with nothing new keeps the last run's findings
            task_v = bar.add_task("validating", total=len(data.submissions))
            report = validator.validate(slug, version.form_id,
                                        progress=lambda k: bar.advance(task_v, k))
        approved = _approve_clean(validator, slug, version.form_id)
        task2 = bar.add_task("snapshot", total=len(data.submissions))
        analyst = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "analyst"))
        info = analyst.snapshot(slug, version.form_id,
                                progress=lambda k: bar.advance(task2, k))
        with analyst._estimate_memo():  # the ward model reuses sba's raw estimates
            sba = analyst.estimate(slug, "sba", store=build)
            small_areas = _small_areas(analyst, slug) if build else (
                "nothing new since the last run — see the release report")
        quality = analyst.quality(slug, version.form_id, "sba")
        task3 = bar.add_task("release", total=1)
        if build:
            release = _publish(owner, slug, owner.build_release(slug))
        else:
            assert published is not None
            release = _publish(owner, slug, published)
        bar.update(task3, completed=1)
    summary = Table(title="citizendata demo: kenya-maternal-health", show_header=False)
    summary.add_row("workspace", str(path.resolve()))
    summary.add_row("form", f"{version.form_id} v{version.version}")
    summary.add_row("submissions", f"{created:,} new, {dupes:,} already there")
    if report is not None:
        summary.add_row("validation", f"{report.rules} rules: {report.findings:,} findings "
                        f"({report.errors} errors, {report.warnings} warnings) in "
                        f"{report.seconds:.1f} s; " + ", ".join(
                            f"{k} {v}" for k, v in sorted(report.by_kind.items())))
        summary.add_row("review", f"{report.moved_to_has_issues} moved to has_issues, "
                        f"{report.duplicate_pairs} duplicate pair(s) to decide, {approved:,} "
                        "approved (no errors, no duplicate flag)")
    else:
        summary.add_row("validation", "nothing new since the last run: its findings are kept "
                        "— see 'citizendata validate'")
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
    summary.add_row("small areas (sba)", small_areas)
    rec, eng = quality["recommendation"], quality["engagement"]
    weak = [d["name"] for d in quality["scorecard"]["dimensions"] if d["rating"] == "low"]
    summary.add_row("quality", f"citizen-data threshold {'met' if eng['meets_threshold'] else 'not met'}"
                    f" ({eng['p4t_category']}); gateway "
                    f"{'passed' if quality['gateway']['passed'] else 'failed'}; recommendation "
                    f"{rec['recommendation']} ({rec['rule']})" + (f"; low: {', '.join(weak)}"
                                                                   if weak else "")
                    + " — see 'citizendata quality show'")
    summary.add_row("release", f"v{release['version']} "
                    + ("published after the community's sign-off" if build else
                       "kept: nothing changed since it was published, so no identical "
                       "release is built again")
                    + f": /public/releases/{slug}/{release['version']}/report.html "
                    f"({len(release['files'])} files: SDMX, CSV, Parquet, JSON, report)")
    for label, text in build_colombia(ws):
        summary.add_row(label, text)
    for label, text in build_saint_lucia(ws):
        summary.add_row(label, text)
    for login in demo_logins():
        summary.add_row(f"login: {login['role']}",
                        f"{login['username']} / {login['password']}"
                        + (f" — {login['stands_for']}" if login["stands_for"] else ""))
    return ws, summary


def colombia_spec() -> ProjectSpec:
    """The Colombia scenario's project for the demo; analysis takes every record not
    rejected, since the other organisations' lists are theirs, not FLIP's to approve (FLIP's
    own reports count once verified: ``cases.verification.verified_only``)."""
    from citizendata.projects.spec import load_spec
    from citizendata.scenarios import colombia_press_freedom as co

    spec = co.spec_dict()
    spec["validation"] = {"analytics": "all_but_rejected"}
    # at the demo's scale the scenario's band (0.5, 0.95) holds no pair: a wider one gives
    # FLIP's validator a few to decide on the clerical review page
    spec["cases"]["linkage"]["review_band"] = [0.02, 0.999]
    return load_spec(spec, file="colombia-press-freedom")


def _colombia_setup(ws: Workspace) -> Client:
    """FLIP's project and its people (created once; a rerun finds them)."""
    from citizendata.scenarios import colombia_press_freedom as co

    return _scenario_project(ws, co.DEMO_USERS, colombia_spec)


def _scenario_project(ws: Workspace, users: list[dict[str, str]],
                      make_spec: Callable[[], ProjectSpec]) -> Client:
    """A scenario's project, its organisation and its people, made by the demo's admin.

    Created once: a rerun finds the owner's project; an interrupted earlier run's users
    and organisation are reused.
    """
    from citizendata.errors import Conflict, NotFound

    spec = make_spec()
    owner_name = next(u["username"] for u in users if u["role"] == "owner")
    try:
        owner = ws.as_user(owner_name)
        owner.project(spec.slug)
        return owner
    except NotFound:
        pass
    admin = ws.as_user(DEMO_ADMIN["username"])
    for u in users:
        with contextlib.suppress(Conflict):  # an interrupted earlier run created it
            admin.create_user(u["username"], u["password"])
    org = spec.initiator
    with contextlib.suppress(Conflict):
        admin.create_organisation(org.slug, org.name, kind=org.kind, country=org.country)
        admin.add_organisation_member(org.slug, owner_name, "owner")
    owner = ws.as_user(owner_name)
    owner.create_project(spec)
    for u in users:
        if u["role"] != "owner":
            owner.add_member(spec.slug, u["username"], u["role"])
    return owner


def _verify_backlog(validator: Client, slug: str, backlog: Any, criteria: list[str]) -> int:
    """As FLIP's validator, decide the reports the scenario's backlog has decided (the
    pending ones wait for a person in the browser); a rerun adds nothing."""
    rows = validator.cases(slug, list="flip", limit=1000)["rows"]
    by_record = {str(r["record_id"]): r for r in rows}
    done = 0
    for rec in backlog.itertuples(index=False):
        row = by_record.get(str(rec.record_id))
        if row is None or rec.status not in ("verified", "not_verified") \
                or row["status"] != "reported":
            continue
        if rec.status == "verified":
            validator.verify_case(slug, row["instance_id"], "verified", criteria=criteria,
                                  evidence="demo: the victim's family and the regional "
                                  "correspondent confirmed the act; court record seen")
        else:
            validator.verify_case(slug, row["instance_id"], "not_verified", criteria=[],
                                  evidence="demo: checked with the correspondent",
                                  note=str(rec.reason or "the criteria are not met"))
        done += 1
    return done


def build_colombia(ws: Workspace, *, scale: float = COLOMBIA_SCALE) -> list[tuple[str, str]]:
    """FLIP's cases project: the six lists imported, the backlog's decided reports verified
    and the lists linked (estimates are made on the summary page). The summary's rows."""
    from citizendata.scenarios import colombia_press_freedom as co

    slug = co.PROJECT["slug"]
    owner = _colombia_setup(ws)
    owner.add_form(slug, co.FORM_PATH)
    data = co.generate(scale=scale)
    from citizendata.errors import Conflict

    imported, kept = 0, []
    for name, frame in data.files.items():
        try:
            r = owner.import_case_list(slug, name, frame.to_csv(index=False).encode(),
                                       filename=f"{name}.csv")
        except Conflict:
            # a demo built by an older version of the scenario: its records are kept (an
            # import never changes a stored record); --fresh rebuilds the demo
            kept.append(name)
            continue
        imported += int(r["imported"])
    validator = ws.as_user(next(u["username"] for u in co.DEMO_USERS
                                if u["role"] == "validator"))
    cases = colombia_spec().cases
    assert cases is not None and cases.verification is not None
    # (the spec's field named ``list`` confuses the type checker about this one)
    criteria: Any = cases.verification.criteria
    verified = _verify_backlog(validator, slug, data.backlog, [c.code for c in criteria])
    linked = validator.link_cases(slug)
    rows = [("Colombia cases", f"{sum(len(f) for f in data.files.values()):,} records in "
             f"{len(data.files)} lists ({imported:,} new), {verified} FLIP reports decided; "
             f"{linked['clusters']:,} unique victims at threshold {linked['threshold']}, "
             f"{linked['review']} pair(s) for clerical review — log in as camila: "
             f"/projects/{slug}/linkage/review")]
    if kept:
        rows.append(("Colombia lists kept", f"{', '.join(kept)}: imported by an older demo "
                     "and changed since; run 'citizendata demo --fresh' for today's"))
    # the estimates are made when the summary page is opened (log in as andres): the model
    # search over six lists takes tens of seconds a series, too long for the demo's build
    rows.append(("Colombia estimates", ", ".join(e.series for e in cases.estimates.values())
                 + f" — log in as andres: /projects/{slug}/linkage"))
    return rows


def _saint_lucia_setup(ws: Workspace) -> Client:
    """The enumeration network's project and its people (created once; a rerun finds them)."""
    from citizendata.scenarios import saint_lucia_population as slu

    return _scenario_project(ws, slu.DEMO_USERS, slu.project_spec)


def _saint_lucia_references(owner: Client, slug: str, data: Any) -> None:
    """The census, the imagery counts, the census records and the boundaries, as the
    statistics office and the mapping partner would hand them over."""
    def csv(df: Any) -> bytes:
        return bytes(df.to_csv(index=False, lineterminator="\n").encode())

    p = data  # SaintLuciaScenario
    owner.add_reference_table(slug, "census_counts", csv(p.census), kind="other",
                              note="synthetic census counts by enumeration district",
                              replace=True)
    owner.add_reference_table(slug, "imagery_buildings", csv(p.dwellings), kind="other",
                              note="synthetic building counts from imagery by area",
                              replace=True)
    owner.add_reference_table(slug, "census_records", csv(p.census_records), kind="other",
                              note="synthetic census person records of the enumerated areas "
                              "(personal: names, sex, age; for matching only)", replace=True)
    owner.add_reference_table(slug, "areas", p.boundaries("area"), kind="boundaries",
                              note="synthetic enumeration districts (not real boundaries)",
                              replace=True)


def build_saint_lucia(ws: Workspace, *, scale: float = SAINT_LUCIA_SCALE
                      ) -> list[tuple[str, str]]:
    """The Saint Lucia enumeration project: the references, the community enumeration
    (approved by the validator), the population estimates and a published release with
    them. A rerun with nothing new keeps the published release. The summary's rows."""
    from citizendata.scenarios import saint_lucia_population as slu

    slug = slu.PROJECT["slug"]
    owner = _saint_lucia_setup(ws)
    versions_before = {f.form_id: list(f.versions) for f in owner.forms(slug)}
    version = owner.add_form(slug, slu.FORM_PATH)
    new_version = version.version not in versions_before.get(version.form_id, [])
    data = slu.generate(scale=scale)
    refs_before = _reference_hashes(owner, slug)
    _saint_lucia_references(owner, slug, data)
    refs_changed = _reference_hashes(owner, slug) != refs_before
    users = {u["role"]: ws.as_user(u["username"]) for u in slu.DEMO_USERS}
    created = 0
    for start in range(0, len(data.submissions), BATCH):
        r = users["collector"].submit(slug, slu.FORM_ID,
                                      json.dumps(data.submissions[start:start + BATCH]).encode())
        created += r.created
    approved = _approve_clean(users["validator"], slug, slu.FORM_ID)
    published, build = release_to_publish(
        owner, slug, inputs_changed=created > 0 or new_version or refs_changed or approved > 0)
    if build:
        release = owner.build_release(slug)
    else:
        assert published is not None
        release = published
    if release["status"] == "awaiting_signoff":
        users["viewer"].sign_release(slug, release["version"], "approve",
                                     "read back at the settlement committees' meeting")
        users["nso"].sign_release(slug, release["version"], "approve",
                                  "methods reviewed by the statistics office")
        owner.publish_release(slug, release["version"])
    from citizendata.errors import NotFound

    try:  # the figures as the release publishes them (a rerun does not estimate again)
        est = json.loads(owner.release_file(slug, release["version"],
                                            "population/estimates.json").read_text("utf-8"))
    except NotFound:  # a release built without the population files
        est = users["analyst"].population_estimates(slug)
    t = est["total"]
    cov = ", ".join(f"{r['post_stratum']} {100 * r['coverage']:.0f}%" for r in est["coverage"])
    return [("Saint Lucia population",
             f"{len(data.submissions):,} dwellings enumerated in {len(data.sampled)} areas "
             f"({created:,} new, {approved:,} approved); population {t['estimate']:,} "
             f"({t['lower']:,}–{t['upper']:,}) against a census count of {t['census']:,}: "
             f"undercount {100 * t['undercount']:.1f}%; census coverage {cov} — log in as "
             f"desmond: 'citizendata population estimate {slug}'"),
            ("Saint Lucia release", f"v{release['version']} "
             + ("published" if build else "kept: nothing changed")
             + f": /public/releases/{slug}/{release['version']}/population/estimates.csv")]
