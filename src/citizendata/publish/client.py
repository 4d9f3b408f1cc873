"""Releases as Client calls: build a bundle, sign it off, publish, withdraw, verify a rebuild.

A mixin of ``Client``. Everything a release contains comes through the protected
paths: estimates for the ``publication`` purpose (consent) after disclosure control,
the quality statement, SDMX for the SDG series, the offline report.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.errors import BadInput, Forbidden, NotFound, Where
from citizendata.i18n import gettext as _
from citizendata.i18n import use_locale
from citizendata.projects.spec import ProjectSpec
from citizendata.publish.summary import N_

if TYPE_CHECKING:
    from citizendata.publish import boundaries as _boundaries
    from citizendata.publish import bundle as _bundle
    from citizendata.services import releases as releases_svc
else:  # the statistics stack loads on the first call that needs it
    _boundaries = lazy_module("citizendata.publish.boundaries")
    _bundle = lazy_module("citizendata.publish.bundle")
    releases_svc = lazy_module("citizendata.services.releases")

__all__ = ["ReleaseMethods"]

# progress(done, total, step) of a release build
Progress = Callable[[int, int, str], None]

REFERENCES = [
    "UN Statistical Commission (2025). Copenhagen Framework on Citizen Data.",
    "Hundepool, A. et al. (2012). Statistical Disclosure Control. Wiley.",
    "Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling. "
    "JASA 87(418).",
    "Washington Group on Disability Statistics. The Washington Group Short Set on "
    "Functioning (WG-SS).",
    "Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley.",
]
METHODS_PARAGRAPHS = (
    N_("Estimates come from the approved submissions of respondents who consented to "
       "publication, weighted to official margins where the project declares weighting, with "
       "Taylor-linearised standard errors and 95% confidence intervals."),
    N_("Before release every table passes the project's disclosure control: cells with too "
       "few respondents, and the cells that would give them away, are suppressed and marked. "
       "The formulas and references are in citizendata's docs/methods."),
)
# the English text (kept for callers); a build translates each paragraph
METHODS = "\n\n".join(METHODS_PARAGRAPHS)


def methods_text(variance: Mapping[str, str | Mapping[str, Any]]) -> str:
    """The report's methods: the fixed paragraphs, then each indicator's variance assumption
    (the declared design, or that none was declared) in the current language.

    ``variance`` maps an indicator's name to its estimate's provenance (its
    ``variance_assumption_code`` and ``_params`` are said in the current language) or to
    the English sentence alone (a run kept before the codes existed).
    """
    from citizendata.survey.assumption import said_in_provenance

    paragraphs = [_(p) for p in METHODS_PARAGRAPHS]
    for name, said in variance.items():
        text = said_in_provenance(said, None) if isinstance(said, Mapping) else said
        paragraphs.append(_("%(indicator)s — how the margin of error was computed: "
                            "%(assumption)s.") % {"indicator": name, "assumption": text})
    return "\n\n".join(paragraphs)


def _sdmx_files(r: Any, spec: ProjectSpec, as_of: date, notes: list[str]) -> dict[str, bytes]:
    """SDMX-CSV and SDMX-ML of one indicator's SDG series; what was left out goes to notes."""
    from citizendata.publish.sdmx import (
        SeriesMapping,
        breakdowns,
        to_sdg_rows,
        write_sdmx_csv,
        write_sdmx_ml,
    )

    ind = r.indicator
    declared = {k: (v.dimension, v.codes) for k, v in spec.release.sdmx.items()}
    try:
        # the same rounding as the bundle's tables: last-bit noise in parallel sums must
        # not change the SDMX bytes of a rebuild
        rows, rep = to_sdg_rows(_bundle.stable_floats(r.table), SeriesMapping(
            series=ind.series, ref_area=str(spec.country), time_period=str(as_of.year),
            unit_measure=ind.unit_of_measure, nature=spec.release.sdmx_nature,
            source_detail=f"Citizen data: {spec.name}",
            dims=breakdowns(r.table, declared)), dimensions=r.dims)
    except ValueError as exc:
        notes.append(f"{ind.id}: no SDMX ({exc})")
        return {}
    buf = io.StringIO()
    version = spec.release.sdmx_dsd_version
    write_sdmx_csv(rows, buf, dsd_version=version)
    out = {f"sdmx/{ind.series}.csv": buf.getvalue().encode("utf-8")}
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "data.xml"
        write_sdmx_ml(rows, xml, dsd_version=version,
                      prepared=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
        out[f"sdmx/{ind.series}.xml"] = xml.read_bytes()
    notes.append(f"{ind.id}: {rep.summary()}")
    return out


class ReleaseMethods:
    """Client methods for releases (a mixin: ``self`` is a Client)."""

    def _assemble(self, slug: str, version: int, as_of: date, out: Path,
                  progress: Progress | None = None) -> dict[str, Any]:
        """Write every file of release ``version`` as of ``as_of`` into ``out``."""
        me: Any = self
        with me._estimate_memo():  # linked indicators are estimated once per build
            return self._assemble_files(slug, version, as_of, out,
                                        progress or (lambda _d, _t, _m: None))

    def _assemble_files(self, slug: str, version: int, as_of: date, out: Path,
                        progress: Progress) -> dict[str, Any]:
        from citizendata.quality.report import quality_html_from_json

        me: Any = self
        spec: ProjectSpec = me.project(slug).spec
        ids = spec.release.indicators or [i.id for i in spec.estimation.indicators]
        tables, shown, extra = {}, [], {}
        notes: list[str] = []
        meta: dict[str, Any] = {"indicators": {}}
        provenance: dict[str, Any] = {}
        variance: dict[str, dict[str, Any]] = {}
        maps, labels, shapes_sha = self._release_maps(slug, spec)
        for m in spec.release.maps:
            extra[f"boundaries/{m.boundaries}.geojson"] = _boundaries.dump_boundaries(
                maps[m.dimension])
        steps = len(ids) + 2
        for step, iid in enumerate(ids):
            progress(step, steps, f"estimating: {iid}")
            r = me.estimate(slug, iid, purpose="publication", store=False)
            ind = r.indicator
            tables[iid] = (r.table, r.dims)
            meta["indicators"][iid] = {"year": as_of.year, "series": ind.series or "",
                                       "unit": ind.unit_of_measure, "name": ind.name,
                                       "source": f"Citizen data: {spec.name}",
                                       "protection": r.protection}
            provenance[iid] = {k: r.provenance.get(k) for k in (
                "snapshot", "references", "estimation_spec_sha256", "indicator_sha256",
                "citizendata_version", "variance_assumption")}
            variance[ind.name or ind.id] = {k: r.provenance.get(k) for k in (
                "variance_assumption", "variance_assumption_code", "variance_assumption_params")}
            provenance[iid]["boundaries"] = shapes_sha
            shown.append({"name": ind.name or ind.id, "unit": ind.unit_of_measure,
                          "sdg_series": ind.series or "", "headline": r.total(),
                          "estimates": r.table, "dimensions": r.dims, "labels": labels,
                          "protection": r.protection})
            if ind.series and spec.country:
                extra.update(_sdmx_files(r, spec, as_of, notes))
        if spec.population is not None and spec.population.publish:
            # population and census undercount by area (issue 20): not an SDG series, so a
            # CSV table and the protected answer with its provenance (services/population.py)
            from citizendata.services.population import release_files

            extra.update(release_files(me.population_estimates(slug)))
            notes.append("population/estimates.csv: population and census undercount by "
                         "area and larger area, with intervals (not an SDG series)")
        progress(len(ids), steps, "quality statement")
        small = self._release_small_areas(slug, spec, ids, notes)
        first = spec.estimation.indicator(ids[0]) if ids else None
        quality = me.quality(slug, first.form if first else None, ids[0] if ids else None,
                             today=as_of)
        progress(len(ids) + 1, steps, "report and files")
        with use_locale(spec.release.language):
            # one quality record for both the JSON file and the report's section
            quality_html = quality_html_from_json(quality)
            report = self._report(spec, version, as_of, shown, provenance, quality_html, maps,
                                  variance, small, labels)
        extra["quality.json"] = (json.dumps(_bundle.stable_json(json.loads(json.dumps(
            quality, default=str))), sort_keys=True, ensure_ascii=False, indent=2)
            + "\n").encode("utf-8")
        release = {
            "project": spec.slug, "title": spec.name, "version": f"v{version}",
            "as_of": as_of.isoformat(), "licenses": [{"name": spec.release.licence}],
            "indicators": meta["indicators"], "provenance": provenance, "notes": notes,
        }
        extra["report.html"] = report.encode("utf-8")
        return _bundle.write_bundle(out, release=release, tables=tables, extra_files=extra).__dict__

    @staticmethod
    def _report(spec: ProjectSpec, version: int, as_of: date, shown: list[dict[str, Any]],
                provenance: dict[str, Any], quality_html: str, maps: dict[str, Any],
                variance: Mapping[str, Any] | None = None,
                small_areas: Sequence[Mapping[str, Any]] = (),
                labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
        """The report, in the current language (the release spec's, set by the caller)."""
        from citizendata.publish.report import render_report
        from citizendata.quality.engagement import engagement_summary

        return render_report(
            {"project": spec.name, "initiative": spec.initiator.name, "version": f"v{version}",
             "status": "release", "dates": {_("As of"): as_of.isoformat()},
             "sdg_series": sorted({i["sdg_series"] for i in shown if i["sdg_series"]}),
             "provenance": {f"{k}: {name}": h for k, p in provenance.items()
                            for name, h in (p.get("snapshot") or {}).items()}},
            shown, quality_html=quality_html, engagement=engagement_summary(spec),
            methods=methods_text(variance or {}), references=REFERENCES,
            maps=maps, small_areas=small_areas, labels=labels)

    def _release_small_areas(self, slug: str, spec: ProjectSpec, ids: Sequence[str],
                             notes: list[str]) -> list[dict[str, Any]]:
        """Small area estimates of the released indicators, for the report's side-by-side maps.

        They reuse the build's estimate memo. A model that cannot be fitted (too few areas
        with a published direct estimate), or an entry whose direct tables are not among the
        indicator's declared (coordinated) tables, leaves its section out, with a release note.
        """
        me: Any = self
        out = []
        for s in spec.small_areas:
            if s.indicator not in ids:
                continue
            try:
                out.append(me.small_area_estimates(slug, s.indicator, area=s.area,
                                                   purpose="publication"))
            except (BadInput, Forbidden) as exc:
                notes.append(f"Small area estimates of {s.indicator} by {s.area} were not "
                             f"made: {exc.code}: {exc.message}")
        return out

    def _release_maps(self, slug: str, spec: ProjectSpec
                      ) -> tuple[dict[str, Any], dict[str, dict[str, str]], dict[str, str]]:
        """The report's boundaries per area dimension, area names as labels, and their hashes."""
        from citizendata.services.estimation import read_boundaries

        if not spec.release.maps:
            return {}, {}, {}
        me: Any = self
        files, hashes = me._read(read_boundaries, slug)
        maps: dict[str, Any] = {}
        labels: dict[str, dict[str, str]] = {}
        used: dict[str, str] = {}
        for i, m in enumerate(spec.release.maps):
            if m.boundaries not in files:
                raise BadInput("input.invalid", f"release.maps names boundaries {m.boundaries!r}, "
                               "which the project does not have",
                               where=Where(field=f"release.maps[{i}].boundaries"),
                               fix="Add them: citizendata reference add PROJECT NAME FILE "
                                   "--kind boundaries, or change the name.")
            maps[m.dimension] = files[m.boundaries]
            labels[m.dimension] = {f["properties"]["code"]: f["properties"].get("name")
                                   or f["properties"]["code"]
                                   for f in files[m.boundaries]["features"]}
            used[m.boundaries] = hashes[m.boundaries]
        return maps, labels, used

    def build_release(self, slug: str, *, as_of: date | None = None,
                      progress: Progress | None = None) -> dict[str, Any]:
        """Build the next version's bundle and keep it, awaiting sign-off.

        ``progress(done, total, step)`` is told each step (an indicator, the quality
        statement, the report).
        """
        me: Any = self
        version = me._read(releases_svc.next_version, slug)
        seen = me._read(releases_svc.latest_withdrawal, slug)
        as_of = as_of or date.today()
        # kept relative to the workspace: a moved or copied workspace still serves it
        folder = releases_svc.release_folder(slug, version)
        out = (me.workspace.settings.workspace / folder).resolve()
        if out.exists():
            shutil.rmtree(out)
        manifest = self._assemble(slug, version, as_of, out, progress)
        info: dict[str, Any] = me._run(releases_svc.record_release, slug, version=version,
                                       as_of=as_of, path=folder, manifest=manifest,
                                       withdrawals_seen=seen)
        return info

    def release_dir(self, slug: str, version: int) -> Path:
        """The folder holding a release's files in this workspace (members only)."""
        me: Any = self
        stored = me._read(releases_svc.stored_path, slug, version)
        folder = releases_svc.locate(me.workspace.settings.workspace, stored)
        assert folder is not None
        return folder

    def release_file(self, slug: str, version: int, name: str) -> Path:
        """One file of a release, pending or published, for the project's members (the
        community representatives read the report before they sign). Only the files the
        manifest names, and the manifest itself."""
        folder = self.release_dir(slug, version)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        path = releases_svc.locate(folder, str(folder), name)
        if (name != "manifest.json" and name not in manifest.get("files", {})) or \
                path is None or not path.is_file():
            raise NotFound("release.not_found", f"release v{version} has no file {name!r}",
                           where=Where(field="name"))
        return path

    def verify_release(self, slug: str, version: int) -> dict[str, Any]:
        """Rebuild a release from the same inputs and compare every file's hash."""
        me: Any = self
        info = next((r for r in me.releases(slug) if r["version"] == version), None)
        if info is None:
            from citizendata.errors import NotFound

            raise NotFound("release.not_found", f"no release v{version}")
        with tempfile.TemporaryDirectory() as tmp:
            again = self._assemble(slug, version, date.fromisoformat(info["as_of"]), Path(tmp))
        kept = json.loads((self.release_dir(slug, version) / "manifest.json")
                          .read_text(encoding="utf-8"))
        differ = sorted(n for n in set(kept["files"]) | set(again["files"])
                        if kept["files"].get(n) != again["files"].get(n))
        return {"version": version, "identical": not differ, "differ": differ}

    def releases(self, slug: str) -> list[dict[str, Any]]:
        """The project's releases, newest first, with their sign-offs."""
        me: Any = self
        out: list[dict[str, Any]] = me._read(releases_svc.releases, slug)
        return out

    def sign_release(self, slug: str, version: int, decision: str = "approve",
                     note: str = "") -> dict[str, Any]:
        """Approve (or refuse) a release as a community representative or the NSO."""
        me: Any = self
        out: dict[str, Any] = me._run(releases_svc.sign, slug, version, decision, note)
        return out

    def publish_release(self, slug: str, version: int) -> dict[str, Any]:
        """Make a signed-off release public."""
        me: Any = self
        out: dict[str, Any] = me._run(releases_svc.publish, slug, version)
        return out

    def withdraw_release(self, slug: str, version: int, reason: str) -> dict[str, Any]:
        """End public access to a release (the record is kept)."""
        me: Any = self
        out: dict[str, Any] = me._run(releases_svc.withdraw, slug, version, reason)
        return out

    def audit_release(self, slug: str, version: int) -> dict[str, Any]:
        """Read a release as an outsider would and judge it against the true counts.

        The outsider's attack (``citizendata.privacy.outsider``) runs on the release's
        files as published, with the project's geography as public knowledge, by linear
        and by integer programming; each sensitive cell's interval is then compared with
        its protection interval using the unprotected estimates, so only owners and
        managers may ask. Returns, per indicator and programme, how many cells are
        sensitive, pinned to one value, and narrowed below their protection.
        """
        from citizendata.privacy.client import sees_unprotected
        from citizendata.privacy.outsider import (
            attack_tables,
            judge,
            read_release_tables,
            summary,
        )
        from citizendata.services.estimation import read_reference_tables

        me: Any = self
        if not me._read(sees_unprotected, slug):
            from citizendata.errors import Forbidden

            raise Forbidden("auth.forbidden", "only owners and managers may judge a release "
                            "against the unprotected figures",
                            fix="Ask an owner or manager, or run the outsider's attack alone "
                                "(citizendata.privacy.outsider.attack_release).")
        folder = self.release_dir(slug, version)
        manifest = json.loads((folder / "manifest.json").read_bytes())
        files = {name: (folder / name).read_bytes()
                 for name in [*manifest["files"], "manifest.json"]}
        spec: ProjectSpec = me.project(slug).spec
        refs, _ = me._read(read_reference_tables, slug)
        rollups = {}
        for name, d in spec.estimation.derived.items():
            geo = refs.get(str(d.geography))
            if d.kind == "rollup" and geo is not None and d.field and d.level in geo.columns:
                pairs = geo[[d.field, str(d.level)]].drop_duplicates().astype(str)
                rollups[name] = (d.field, dict(zip(pairs.iloc[:, 0], pairs.iloc[:, 1],
                                                   strict=True)))
        tables = read_release_tables(files)
        truths = {t.indicator: me.estimate(slug, t.indicator, purpose="publication",
                                           protect=False, store=False) for t in tables}
        out: dict[str, Any] = {"version": version, "lp": {}, "integer": {}}
        for mode, integer in (("lp", False), ("integer", True)):
            found = attack_tables(tables, rollups, integer=integer)
            for t in tables:
                truth = truths[t.indicator]
                rules = manifest["release"]["indicators"][t.indicator]["protection"]["rules"]
                mine = found[found["indicator"].str.split("+").map(
                    lambda ids, i=t.indicator: i in ids)].drop(columns="indicator")
                judged = judge(mine, t, truth.table, rollups, threshold=rules["threshold"],
                               ratio=rules["protection_ratio"],
                               minimum=rules["protection_minimum"],
                               respondents=None if truth.indicator.unit is None else "n_psu",
                               distinguish=bool(rules.get("distinguish_secondary")))
                out[mode][t.indicator] = {"hidden": int(t.hidden.sum()), **summary([judged])}
        return out
