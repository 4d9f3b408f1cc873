"""Population by small area and census undercount, on a project's data.

The database side reads, in one transaction, what the estimate is made from: the
census counts and the dwellings (reference tables), the census's person records of
the enumerated areas (a reference table, personal), and the community enumeration:
submissions of the project's enumeration form whose review status analysis admits
(the project's ``validation.analytics``) and whose consent to analysis stands. The
computation (:mod:`citizendata.integrate.population`: records matched, dual-system
coverage by post-stratum, the bottom-up model, the two combined with the census) runs
outside it. Results are kept in memory by a digest of the inputs and settings, so a
repeated call (page, API, release) does not recompute.

What leaves: estimates with intervals and undercounts by area, by each larger area
(``levels``) and in total, and the coverage by post-stratum; an area whose census count
is under the project's table threshold is flagged ``C`` with its figures hidden (the
estimate minus the census would tell how many people a tiny area hides). Names never
leave: matching happens here, and only counts of matched persons come out.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, Where
from citizendata.projects.population import PopulationSpec
from citizendata.services.access import audit, form_in, project_for, project_spec
from citizendata.services.consent import consent_spec, protection_spec
from citizendata.services.validation import analytic_statuses
from citizendata.store.models import Project, ReferenceTable, Submission

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.projects.protection import ProtectionSpec

__all__ = ["PopulationInputs", "audit_event", "compute", "estimate", "population_inputs",
           "population_spec", "release_files", "release_table"]

_CACHE: OrderedDict[str, dict[str, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8
# the linkage fields of match_records -> the census records' (and persons') columns
_LINK_FIELDS = {"given_names": "given_name", "surnames": "surname", "sex": "sex", "age": "age"}


@dataclass
class PopulationInputs:
    """What the estimate reads, in one transaction: personal data, server only."""

    slug: str
    spec: PopulationSpec
    census: pd.DataFrame
    dwellings: pd.DataFrame
    census_records: pd.DataFrame | None
    listing: pd.DataFrame  # one row per enumerated dwelling: area, household, occupied, persons
    persons: pd.DataFrame  # one row per enumerated person: enum_id, area, names, sex, age
    policy: ProtectionSpec
    unprotected: bool  # the caller may see the enumeration's own counts
    country: str | None
    excluded: dict[str, int]  # submissions left out, by reason
    hashes: dict[str, str]  # sha256 of each reference table read


def population_spec(project: Project) -> PopulationSpec:
    """The project's ``population`` settings, or a coded error saying it has none."""
    spec = project_spec(project).population
    if spec is None:
        raise BadInput("population.invalid", f"Project {project.slug!r} declares no population "
                       "estimates.", where=Where(field="population"),
                       fix="Add population: (census, dwellings, enumeration) to the project spec.")
    return spec


def _table(db: Session, project: Project, name: str, what: str, hashes: dict[str, str]
           ) -> pd.DataFrame:
    import io

    import pandas as pd

    row = db.scalar(select(ReferenceTable).where(ReferenceTable.project_id == project.id,
                                                 ReferenceTable.name == name))
    if row is None or row.kind == "boundaries":
        raise BadInput("population.invalid", f"The project has no reference table {name!r} "
                       f"({what}).", where=Where(file=name, field="population"),
                       fix=f"Add the {what} as a reference table named {name!r}.")
    hashes[name] = row.sha256
    return pd.read_csv(io.BytesIO(row.content), dtype=str, keep_default_na=False)


def population_inputs(db: Session, actor: Actor | None, slug: str) -> PopulationInputs:
    """The inputs of the estimate, for a caller allowed to export the project's data."""
    project, role = project_for(db, actor, slug, Action.DATA_EXPORT)
    spec = population_spec(project)
    form = form_in(db, project, spec.enumeration)
    hashes: dict[str, str] = {}
    census = _table(db, project, spec.census, "census counts by area", hashes)
    dwellings = _table(db, project, spec.dwellings, "dwelling counts by area", hashes)
    records = (_table(db, project, spec.census_records, "census person records", hashes)
               if spec.census_records else None)
    listing, persons, excluded = _enumeration(db, project, form.id, spec)
    return PopulationInputs(slug=slug, spec=spec, census=census, dwellings=dwellings,
                            census_records=records, listing=listing, persons=persons,
                            policy=protection_spec(project),
                            unprotected=allowed(role, Action.PERSONAL_DATA_VIEW),
                            country=project_spec(project).country, excluded=excluded,
                            hashes=hashes)


def _enumeration(db: Session, project: Project, form_pk: int, spec: PopulationSpec
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Dwellings and persons of the enumeration submissions analysis may use."""
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from citizendata.services.snapshots import export_batches
    from citizendata.snapshot.synthetic import BATCH_SCHEMA

    stored = db.scalar(select(Submission.id).where(Submission.form_id == form_pk).limit(1))
    batches = [] if stored is None else list(export_batches(
        db, form_pk, withdrawn_scope=consent_spec(project).analysis))
    subs = pa.Table.from_batches(batches, schema=BATCH_SCHEMA)
    statuses = list(analytic_statuses(project))
    m = spec.members

    def js(name: str) -> str:
        return f"json_extract_string(payload, '$.\"{name}\"')"
    consent = js(spec.consent_field) if spec.consent_field else "'yes'"
    member_type = json.dumps({f: "VARCHAR" for f in (m.given_name, m.surname, m.sex, m.age)})
    con = duckdb.connect()
    try:
        con.register("subs", subs)
        con.execute("CREATE TEMP TABLE kept AS SELECT * FROM subs WHERE _review_status IN "
                    f"({', '.join('?' for _ in statuses)})", statuses)
        listing = con.sql(
            f"SELECT _instance_id AS household, {js(spec.area_field)} AS area, "
            f"{js(spec.status_field)} AS status, {consent} AS consent, "
            f"{js(spec.size_field)} AS size, "
            f"json_array_length(payload, '$.\"{m.repeat}\"') AS listed FROM kept ORDER BY _id").df()
        persons = con.sql(
            f"SELECT household || '#' || CAST(k AS VARCHAR) AS enum_id, area, p.* FROM ("
            f"SELECT _id, _instance_id AS household, {js(spec.area_field)} AS area, "
            f"UNNEST(from_json(json_extract(payload, '$.\"{m.repeat}\"'), "
            f"'[{member_type}]')) AS p, generate_subscripts(from_json(json_extract(payload, "
            f"'$.\"{m.repeat}\"'), '[{member_type}]'), 1) AS k FROM kept) ORDER BY _id, k").df()
        total = len(subs)
    finally:
        con.close()
    excluded = {"review_status": total - len(listing)}
    dwelling = listing["status"].isin([spec.occupied, *spec.vacant])
    excluded["not_a_dwelling"] = int((~dwelling).sum())
    listing = listing[dwelling].reset_index(drop=True)
    occupied = listing["status"] == spec.occupied
    size = pd.to_numeric(listing["size"], errors="coerce")
    responded = occupied & (listing["consent"] == "yes")
    # the household's size as answered; else the members listed; blank when not interviewed
    persons_n = size.where(size.notna(), listing["listed"]).where(responded)
    listing = pd.DataFrame({"area": listing["area"], "household": listing["household"],
                            "occupied": occupied.map({True: "yes", False: "no"}),
                            "persons": persons_n})
    persons = persons.rename(columns={m.given_name: "given_name", m.surname: "surname",
                                      m.sex: "sex", m.age: "age"})
    persons["age"] = pd.to_numeric(persons["age"], errors="coerce")
    keep = persons["enum_id"].str.rsplit("#", n=1).str[0].isin(
        listing.loc[listing["occupied"] == "yes", "household"])
    persons = persons[keep].reset_index(drop=True)
    if spec.area_field != "area":
        listing = listing.rename(columns={"area": spec.area_field})
        persons = persons.rename(columns={"area": spec.area_field})
    return listing, persons, excluded


def audit_event(db: Session, actor: Actor | None, slug: str, details: dict[str, Any]) -> None:
    """Log an estimate run (counts and settings only, never names)."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    audit(db, actor, "population.estimate", "population", slug, project_id=project.id,
          details=details)


def _digest(inputs: PopulationInputs) -> str:
    import pandas as pd

    h = hashlib.sha256(inputs.spec.model_dump_json().encode())
    h.update(inputs.policy.model_dump_json().encode())
    for df in (inputs.census, inputs.dwellings, inputs.census_records, inputs.listing,
               inputs.persons):
        if df is None:
            h.update(b"-")
            continue
        h.update(",".join(map(str, df.columns)).encode())
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def estimate(inputs: PopulationInputs) -> dict[str, Any]:
    """Population and undercount by area, by level and in total, protected; cached."""
    import copy

    key = _digest(inputs)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
    if hit is None:
        hit = compute(inputs)
        with _CACHE_LOCK:
            _CACHE[key] = hit
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    out = copy.deepcopy(hit)
    if not inputs.unprotected:
        out["excluded"] = {}
        for s in out.get("coverage", []):
            for k in ("n_enum", "matched", "n_census"):
                s.pop(k, None)
    return out


def release_table(result: dict[str, Any]) -> pd.DataFrame:
    """The estimates as one flat table for a release: level, code, census, estimate,
    lower, upper, undercount (and its bounds), conf_status."""
    import pandas as pd

    rows = [{"level": "total", "code": "_T", **result["total"]}]
    for level, items in result["levels"].items():
        rows += [{"level": level, **r} for r in items]
    rows += [{"level": "area", **r} for r in result["areas"]]
    cols = ["level", "code", "settlement_type", "census", "estimate", "lower", "upper",
            "undercount", "undercount_lower", "undercount_upper", "sampled", "conf_status"]
    df = pd.DataFrame(rows)
    for c in ("census", "estimate", "lower", "upper"):
        df[c] = df[c].astype("Int64")  # whole persons; blank where hidden or not known
    return df.reindex(columns=[c for c in cols if c in df.columns])


# -- the computation -----------------------------------------------------------------

def _area_properties(census: pd.DataFrame, spec: PopulationSpec, file: str) -> pd.DataFrame:
    """Post-strata and levels of each area (one value per area), from the census table."""
    cols = [spec.area_field, *spec.post_strata, *spec.levels, spec.census_count]
    missing = [c for c in cols if c not in census.columns]
    if missing:
        raise BadInput("population.invalid", f"The census table has no column "
                       f"{', '.join(map(repr, missing))}.", where=Where(file=file,
                                                                        column=missing[0]),
                       fix="Name the columns as the project's population settings say.")
    props = census[[spec.area_field, *spec.post_strata, *spec.levels]].astype(str)
    many = props.groupby(spec.area_field).nunique().max(axis=1) > 1 \
        if len(props.columns) > 1 else None
    if many is not None and many.any():
        a = str(many[many].index[0])
        raise BadInput("population.invalid", f"Area {a!r} has more than one post-stratum or "
                       "larger area in the census table.", where=Where(file=file, field=a),
                       fix="Post-strata and levels are properties of the area.")
    return props.drop_duplicates(spec.area_field).set_index(spec.area_field)


def _with_properties(df: pd.DataFrame, props: pd.DataFrame, area: str, cols: list[str],
                     file: str) -> pd.DataFrame:
    """``df`` with the area's properties; a coded error naming the first unknown area."""
    if area not in df.columns:
        raise BadInput("population.invalid", f"The table has no column {area!r}.",
                       where=Where(file=file, column=area),
                       fix="Name each row's area in the column the settings name.")
    codes = df[area].astype(str)
    unknown = ~codes.isin(props.index)
    if unknown.any():
        r = int(unknown.to_numpy().nonzero()[0][0])
        raise BadInput("population.invalid", f"Row {r + 1}: area {codes.iloc[r]!r} is not in "
                       f"the census table ({int(unknown.sum())} row(s) in such areas).",
                       where=Where(file=file, row=r + 1, column=area),
                       fix="Use the census table's area codes everywhere.")
    out = df.drop(columns=[c for c in cols if c in df.columns]).copy()
    for c in cols:
        out[c] = codes.map(props[c]).to_numpy()
    return out


def _dwellings(inputs: PopulationInputs, props: pd.DataFrame) -> pd.DataFrame:
    spec = inputs.spec
    d = _with_properties(inputs.dwellings, props, spec.area_field, spec.post_strata,
                         spec.dwellings)
    lacking = ~props.index.isin(d[spec.area_field].astype(str))
    if lacking.any():
        a = str(props.index[lacking][0])
        raise BadInput("population.invalid", f"Area {a!r} of the census table has no dwelling "
                       f"count ({int(lacking.sum())} area(s) lack one).",
                       where=Where(file=spec.dwellings, field=a),
                       fix="Give every area of the census table its dwelling count.")
    return d


def _coverage(inputs: PopulationInputs, census: pd.DataFrame, props: pd.DataFrame
              ) -> Any:
    """The dual-system estimate, or None without census records or enumerated persons."""
    from citizendata.integrate.population import dual_system, match_records

    spec = inputs.spec
    if inputs.census_records is None or inputs.persons.empty:
        return None
    assert spec.census_records is not None
    enum = _with_properties(inputs.persons, props, spec.area_field, spec.post_strata,
                            spec.enumeration)
    recs = _with_properties(inputs.census_records, props, spec.area_field, spec.post_strata,
                            spec.census_records)
    links = match_records(recs, enum, area=spec.area_field, census_id=spec.census_id,
                          enum_id="enum_id", method=spec.match, keys=spec.match_keys or None,
                          fields=_LINK_FIELDS if spec.match != "key" else None,
                          threshold=spec.match_threshold, seed=spec.seed)
    return dual_system(census, enum, recs, area=spec.area_field, post_strata=spec.post_strata,
                       count=spec.census_count, links=links, census_id=spec.census_id,
                       enum_id="enum_id", confidence=spec.confidence, bootstrap=spec.bootstrap,
                       seed=spec.seed)


def compute(inputs: PopulationInputs) -> dict[str, Any]:
    """Match, estimate coverage, model dwellings and combine: the unprotected answer's
    tables, then protected by the project's threshold."""
    from citizendata.integrate.population import bottom_up, combine_population

    spec = inputs.spec
    census = inputs.census
    props = _area_properties(census, spec, spec.census)
    dwellings = _dwellings(inputs, props)
    dse = _coverage(inputs, census, props)
    bu = bottom_up(dwellings, inputs.listing, area=spec.area_field, strata=spec.post_strata,
                   count=spec.dwellings_count, household="household", occupied="occupied",
                   persons="persons", draws=spec.bootstrap + 1, confidence=spec.confidence,
                   seed=spec.seed)
    comb = combine_population(census, bu, dse, area=spec.area_field, count=spec.census_count,
                              method=spec.method if dse is not None or spec.method != "dse"
                              else "bottom_up", seed=spec.seed)
    return _answer(inputs, props, comb, dse, bu)


def _finite(v: float) -> float | None:
    import math

    return round(float(v), 3) if math.isfinite(float(v)) else None


def _figures(draws: Any, census: float, confidence: float) -> dict[str, Any]:
    """Estimate (mean of the draws), percentile interval and implied undercount."""
    import numpy as np

    a = (1 - confidence) / 2
    est, lo, hi = float(np.mean(draws)), *(float(q) for q in np.quantile(draws, [a, 1 - a]))
    return {"census": round(census), "estimate": round(est), "lower": round(lo),
            "upper": round(hi), **_undercount(census, est, lo, hi)}


def _undercount(census: float, est: float, lo: float, hi: float) -> dict[str, Any]:
    def u(x: float) -> float | None:
        return round(1 - census / x, 4) if x > 0 else None
    return {"undercount": u(est), "undercount_lower": u(lo), "undercount_upper": u(hi)}


def _answer(inputs: PopulationInputs, props: pd.DataFrame, comb: Any, dse: Any, bu: Any
            ) -> dict[str, Any]:
    import numpy as np

    spec = inputs.spec
    a = comb.areas.reset_index(drop=True)
    codes = a["area"].astype(str)
    sampled = set(bu.areas.loc[bu.areas["sampled"], "area"].astype(str))
    areas = []
    for r in a.itertuples(index=False):  # a few hundred areas
        est, lo, hi = float(r.estimate), float(r.lower), float(r.upper)
        code = str(r.area)
        areas.append({"code": code, **{c: props.at[code, c] for c in spec.post_strata
                                        if code in props.index},
                      **{c: props.at[code, c] for c in spec.levels if code in props.index},
                      "census": round(float(r.census)), "estimate": round(est),
                      "lower": round(lo), "upper": round(hi),
                      **_undercount(float(r.census), est, lo, hi),
                      "sampled": code in sampled,
                      "bottom_up": round(float(r.bottom_up_estimate)),
                      "dse": None if not np.isfinite(r.dse_estimate)
                      else round(float(r.dse_estimate)),
                      "weight_dse": round(float(r.weight_dse), 3),
                      # how far the two estimates disagree (z); |z| > 2.6 is a finding
                      "agreement_z": _finite(getattr(r, "agreement_z", float("nan")))})
    draws = getattr(comb, "draws", None)
    notes = [*(dse.notes if dse is not None else []), *bu.notes, *comb.notes]
    levels: dict[str, list[dict[str, Any]]] = {}
    c = a["census"].to_numpy(float)
    for level in spec.levels:
        group = codes.map(props[level])
        rows = []
        for g, idx in sorted(group.groupby(group).indices.items()):
            if draws is not None:
                rows.append({"code": str(g), **_figures(draws[:, idx].sum(axis=1),
                                                        float(c[idx].sum()), comb.confidence)})
            else:
                est = float(a["estimate"].to_numpy()[idx].sum())
                rows.append({"code": str(g), "census": round(float(c[idx].sum())),
                             "estimate": round(est), "lower": None, "upper": None,
                             **_undercount(float(c[idx].sum()), est, float("nan"),
                                           float("nan"))})
        levels[level] = rows
    if draws is None and spec.levels:
        notes.append("The combined draws were not available: totals by level carry no "
                      "interval.")
    t = comb.total
    total = {"code": "_T", "census": round(t["census"]), "estimate": round(t["estimate"]),
             "lower": round(t["lower"]), "upper": round(t["upper"]),
             **_undercount(t["census"], t["estimate"], t["lower"], t["upper"])}
    coverage = [] if dse is None else _coverage_rows(dse)
    out = {"slug": inputs.slug, "method": comb.method, "confidence": comb.confidence,
           "area_field": spec.area_field, "post_strata": spec.post_strata,
           "levels": levels, "areas": areas, "total": total, "coverage": coverage,
           "strata": _rows(bu.strata), "notes": notes,
           "assumptions": dict(dse.assumptions) if dse is not None else {},
           "inputs": {"areas": len(areas), "sampled_areas": len(sampled),
                      "dwellings_listed": len(inputs.listing),
                      "persons_enumerated": len(inputs.persons)},
           "excluded": dict(inputs.excluded), "provenance": _provenance(inputs)}
    out["protection"] = _protect(out, inputs.policy)
    return out


def _provenance(inputs: PopulationInputs) -> dict[str, Any]:
    """What the estimate was made from: reference tables' hashes, the enumeration used
    (a digest of its dwellings and persons, no names), the settings and the version."""
    import pandas as pd

    from citizendata import __version__

    h = hashlib.sha256()
    for df in (inputs.listing, inputs.persons):
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return {"references": {k: inputs.hashes[k] for k in sorted(inputs.hashes)},
            "enumeration": {"form": inputs.spec.enumeration, "dwellings": len(inputs.listing),
                            "persons": len(inputs.persons), "sha256": h.hexdigest()},
            "population_spec_sha256": hashlib.sha256(
                inputs.spec.model_dump_json().encode()).hexdigest(),
            "citizendata_version": __version__}


def release_files(result: dict[str, Any]) -> dict[str, bytes]:
    """The files a release carries: the flat table (CSV) and the whole protected answer
    with its provenance (JSON), under ``population/``."""
    from citizendata.publish.bundle import stable_json

    table = release_table(result).to_csv(index=False, lineterminator="\n").encode()
    doc = {k: v for k, v in result.items() if k != "excluded"}
    return {"population/estimates.csv": table,
            "population/estimates.json": (json.dumps(stable_json(doc), sort_keys=True,
                                                     ensure_ascii=False, indent=1)
                                          + "\n").encode()}


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    import numpy as np

    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else
                 (round(v, 6) if isinstance(v, float) else v))
             for k, v in r.items()} for r in df.astype(object).to_dict("records")]


def _coverage_rows(dse: Any) -> list[dict[str, Any]]:
    """Census coverage by post-stratum: the DSE's counts and ratios."""
    keep = ["post_stratum", "sampled_areas", "n_census", "n_enum", "matched", "match_rate",
            "coverage", "undercount", "undercount_lower", "undercount_upper", "census",
            "estimate", "lower", "upper", "status"]
    s = dse.strata
    return _rows(s[[k for k in keep if k in s.columns]])


def _protect(out: dict[str, Any], policy: ProtectionSpec) -> dict[str, Any]:
    """Hide areas whose census count is under the threshold, and in each level one more
    area where only one would be hidden (so the level's total does not give it away)."""
    thr = policy.tables.threshold
    hidden = {r["code"] for r in out["areas"] if r["census"] < thr}
    levels = list(out["levels"])
    for level in levels:
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in out["areas"]:
            groups.setdefault(str(r.get(level)), []).append(r)
        for rows in groups.values():
            gone = [r for r in rows if r["code"] in hidden]
            rest = sorted((r for r in rows if r["code"] not in hidden), key=lambda r: r["census"])
            if len(gone) == 1 and rest:
                hidden.add(rest[0]["code"])
    for r in out["areas"]:
        r["conf_status"] = "C" if r["code"] in hidden else "F"
        if r["code"] in hidden:
            for k in ("estimate", "lower", "upper", "undercount", "undercount_lower",
                      "undercount_upper", "bottom_up", "dse", "agreement_z"):
                r[k] = None
    return {"threshold": thr, "cells": len(out["areas"]), "suppressed": len(hidden),
            "notes": ["an area whose census count is under the threshold is hidden (its "
                      "estimate minus the census would tell how many people a tiny area "
                      "hides), with one more area of its district when it is the only one"]}
