"""Census and enumeration persons of the sampled areas matched one to one.

``method="key"``: exact agreement on normalised key columns within an area (several
persons with the same key are paired in order). ``method="linkage"``: the
Fellegi–Sunter model of :func:`citizendata.integrate.linkage.link_records` (splink; names
with their variants, sex, age, birth date as the event date with a tolerance, the area
as the place), then a one-to-one assignment of census to enumeration records within
an area by mutual best match probability at or above ``threshold``.
``method="similarity"`` (fast, the service's default): every census × enumeration pair of
an area (blocking by area, as a post-enumeration survey does) scored in DuckDB by
Jaro–Winkler similarity of the normalised given name and surname, sex and age, with the
fixed Fellegi–Sunter weights of ``WEIGHTS`` and the area's prior odds, then the same
one-to-one assignment. Errors name the row and column, never a name.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from citizendata.errors import Where
from citizendata.integrate.population._check import bad, check_columns, check_keys, text

__all__ = ["WEIGHTS", "match_records", "one_to_one"]

# Fixed agreement weights (log2 Bayes factors m/u) of the "similarity" method. A given name
# or surname agrees exactly, at Jaro-Winkler >= 0.9 (one dropped or doubled letter, a
# spelling variant), at >= 0.8, or not; sex agrees or not; ages differ by 0, 1, 2 or more
# years. Missing values weigh 0. Set so that one typo in one name with an age a year off
# still links at 0.9 in an area of 300 persons, while a namesake of another age does not.
WEIGHTS: dict[str, tuple[float, ...]] = {
    "given_name": (8.0, 6.0, 2.0, -6.0),  # exact, jw >= 0.9, jw >= 0.8, else
    "surname": (5.0, 4.0, 1.5, -5.0),
    "sex": (1.0, -6.0),  # same, different
    "age": (3.0, 2.0, 0.0, -8.0),  # |difference| 0, 1, 2, more
}

_LINK_FIELDS = ("given_names", "surnames", "sex", "age", "birth_date")


def _norm(s: pd.Series) -> pd.Series:
    t = s.astype("string").str.normalize("NFKD").str.encode("ascii", "ignore") \
        .str.decode("ascii").str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True) \
        .str.strip()
    return t.mask(t == "")


def one_to_one(pairs: pd.DataFrame, score: str = "match_probability") -> pd.DataFrame:
    """Pairs (census_id, enum_id, score) kept when each is the other's best, in rounds.

    Each round accepts the mutual best pairs and drops every other pair of their
    records; ties break on the ids, so the result does not depend on the row order.
    """
    p = pairs.sort_values([score, "census_id", "enum_id"], ascending=[False, True, True])
    kept = []
    while len(p):
        best_c = ~p["census_id"].duplicated()
        best_e = ~p["enum_id"].duplicated()
        take = p[best_c & best_e]
        kept.append(take)
        p = p[~p["census_id"].isin(take["census_id"]) & ~p["enum_id"].isin(take["enum_id"])]
    return pd.concat(kept, ignore_index=True) if kept else pairs.iloc[0:0]


def _by_key(c: pd.DataFrame, e: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    def keyed(df: pd.DataFrame) -> pd.DataFrame:
        k = pd.DataFrame({col: _norm(df[col]) for col in keys})
        ok = k.notna().all(axis=1)
        out = k[ok].assign(_area=df.loc[ok, "_area"], _id=df.loc[ok, "_id"])
        out["_n"] = out.groupby(["_area", *keys]).cumcount()
        return out
    kc, ke = keyed(c), keyed(e)
    m = kc.merge(ke, on=["_area", *keys, "_n"], suffixes=("_c", "_e"))
    return pd.DataFrame({"census_id": m["_id_c"].to_numpy(), "enum_id": m["_id_e"].to_numpy(),
                         "area": m["_area"].to_numpy()})


def _by_linkage(c: pd.DataFrame, e: pd.DataFrame, fields: Mapping[str, str],
                threshold: float, tolerance: int, seed: int) -> pd.DataFrame:
    from citizendata.integrate.linkage import link_records

    areas = pd.Index(sorted(set(c["_area"]) | set(e["_area"])))
    if len(areas) > 99_000:
        raise bad("The linkage matches within at most 99,000 areas.", where=Where(field="area"))
    code = areas.get_indexer
    both = pd.concat([c.assign(_src="census"), e.assign(_src="enumeration")],
                     ignore_index=True)
    i = code(both["_area"])
    dept = pd.Series([f"{x // 1000 + 1:02d}" for x in i])
    muni = dept + pd.Series([f"{x % 1000:03d}" for x in i])

    def col(part: str) -> pd.Series:
        name = fields.get(part)
        return both[name].reset_index(drop=True) if name else pd.Series([None] * len(both))
    sex = col("sex").astype("string").str.strip().str.lower().str[:1] \
        .map({"f": "female", "m": "male"})
    bd = pd.to_datetime(col("birth_date"), errors="coerce")
    records = pd.DataFrame({
        "source": both["_src"], "record_id": both["_id"], "victim_given_names":
        col("given_names"), "victim_surnames": col("surnames"), "victim_sex": sex,
        "victim_age": col("age"), "victim_role": None, "violation": None,
        "event_date": bd.dt.strftime("%Y-%m-%d"), "department": dept, "municipality": muni})
    res = link_records(records, date_tolerance_days=tolerance, seed=seed, compatible=None)
    p = res.pairs
    lsrc, rsrc = p["left_key"].str.split(":", n=1), p["right_key"].str.split(":", n=1)
    cross = lsrc.str[0] != rsrc.str[0]
    p = p[cross & (p["match_probability"] >= threshold)]
    lk, rk = p["left_key"].str.split(":", n=1).str[1], p["right_key"].str.split(":", n=1).str[1]
    pairs = pd.DataFrame({"census_id": lk.to_numpy(), "enum_id": rk.to_numpy(),
                          "match_probability": p["match_probability"].to_numpy()})
    # census: < enumeration: in key order, so left is always the census record
    area_c = c.set_index("_id")["_area"]
    area_e = e.set_index("_id")["_area"]
    pairs = pairs[area_c.reindex(pairs["census_id"]).to_numpy()
                  == area_e.reindex(pairs["enum_id"]).to_numpy()]
    out = one_to_one(pairs)
    out.insert(2, "area", area_c.reindex(out["census_id"]).to_numpy())
    return out


# abbreviations written out before comparing names ("Jn Baptiste" = "Jean-Baptiste")
_ABBREVIATIONS = {r"\bjn\b": "jean", r"\bste\b": "sainte", r"\bst\b": "saint"}


def _name(s: pd.Series) -> pd.Series:
    t = _norm(s)
    for pat, full in _ABBREVIATIONS.items():
        t = t.str.replace(pat, full, regex=True)
    return t


def _level_sql(col: str, w: tuple[float, ...]) -> str:
    a, b = f"c.{col}", f"e.{col}"
    return (f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN 0 WHEN {a} = {b} THEN {w[0]} "
            f"WHEN jaro_winkler_similarity({a}, {b}) >= 0.9 THEN {w[1]} "
            f"WHEN jaro_winkler_similarity({a}, {b}) >= 0.8 THEN {w[2]} ELSE {w[3]} END")


def _by_similarity(c: pd.DataFrame, e: pd.DataFrame, fields: Mapping[str, str],
                   threshold: float) -> pd.DataFrame:
    import duckdb

    def prep(df: pd.DataFrame) -> pd.DataFrame:
        def col(part: str) -> pd.Series:
            name = fields.get(part)
            return df[name] if name else pd.Series(pd.NA, index=df.index)
        sex = col("sex").astype("string").str.strip().str.lower().str[:1]
        age = pd.to_numeric(col("age"), errors="coerce")
        bd = pd.to_datetime(col("birth_date"), errors="coerce")
        # with a birth date and no age, compare the years of birth as ages
        age = age.fillna(-bd.dt.year)
        return pd.DataFrame({"area": df["_area"].to_numpy(), "id": df["_id"].to_numpy(),
                             "given_name": _name(col("given_names")).to_numpy(),
                             "surname": _name(col("surnames")).to_numpy(),
                             "sex": sex.to_numpy(), "age": age.to_numpy(dtype=float)})
    pc, pe = prep(c), prep(e)
    n = pd.DataFrame({"nc": pc.groupby("area").size(), "ne": pe.groupby("area").size()}) \
        .dropna()
    # prior odds of a pair being a match: at most min(nc, ne) of the nc * ne pairs are
    prior = pd.DataFrame({"area": n.index, "logprior": np.log2(
        np.minimum(n["nc"], n["ne"]) / np.maximum(n["nc"] * n["ne"] - np.minimum(
            n["nc"], n["ne"]), 1))})
    w = WEIGHTS
    sex = f"CASE WHEN c.sex IS NULL OR e.sex IS NULL THEN 0 WHEN c.sex = e.sex " \
          f"THEN {w['sex'][0]} ELSE {w['sex'][1]} END"
    age = (f"CASE WHEN c.age IS NULL OR e.age IS NULL OR isnan(c.age) OR isnan(e.age) "
           f"THEN 0 WHEN abs(c.age - e.age) < 0.5 THEN {w['age'][0]} WHEN abs(c.age - e.age)"
           f" < 1.5 THEN {w['age'][1]} WHEN abs(c.age - e.age) < 2.5 THEN {w['age'][2]} "
           f"ELSE {w['age'][3]} END")
    # log2 odds below which a pair cannot reach the threshold
    floor = float(np.log2(threshold / (1 - threshold))) if threshold < 1 else 60.0
    con = duckdb.connect()
    try:
        con.register("pc", pc)
        con.register("pe", pe)
        con.register("prior", prior)
        sql = (f"SELECT * FROM (SELECT c.id AS census_id, e.id AS enum_id, c.area AS area, "
               f"p.logprior + {_level_sql('given_name', w['given_name'])} + "
               f"{_level_sql('surname', w['surname'])} + {sex} + {age} AS s "
               f"FROM pc c JOIN pe e ON c.area = e.area JOIN prior p ON p.area = c.area) "
               f"WHERE s >= {floor - 1e-9}")
        pairs = con.execute(sql).df()
    finally:
        con.close()
    pairs["match_probability"] = 1.0 / (1.0 + np.exp2(-pairs.pop("s").to_numpy(float)))
    out = one_to_one(pairs[pairs["match_probability"] >= threshold])
    return out[["census_id", "enum_id", "area", "match_probability"]].reset_index(drop=True)


def match_records(census: pd.DataFrame, enumeration: pd.DataFrame, *, area: str = "area",
                  census_id: str = "person_id", enum_id: str = "person_id",
                  keys: list[str] | None = None, method: str = "key",
                  fields: Mapping[str, str] | None = None, threshold: float = 0.9,
                  date_tolerance_days: int = 0, seed: int = 2016) -> pd.DataFrame:
    """Links (census_id, enum_id, area[, match_probability]) of the sampled areas' persons.

    ``method="key"`` needs ``keys`` (columns of both tables, e.g. a household number,
    line number, sex and year of birth). ``method="similarity"`` (fast, fixed weights)
    and ``method="linkage"`` (splink) need ``fields``, mapping any of given_names,
    surnames, sex, age and birth_date to columns of both tables.
    """
    if method not in ("key", "linkage", "similarity"):
        raise bad(f"method {method!r}: use 'key', 'similarity' or 'linkage'.",
                  where=Where(field="method"))
    if method == "key" and not keys:
        raise bad("Matching by key needs the key columns.", where=Where(field="keys"),
                  fix="Give keys=[...], or method='linkage' with fields.")
    f = dict(fields or {})
    unknown = sorted(set(f) - set(_LINK_FIELDS))
    if method != "key" and (unknown or not f):
        raise bad(f"fields maps {', '.join(_LINK_FIELDS)} to columns"
                  + (f"; {', '.join(unknown)} is not one" if unknown else "") + ".",
                  where=Where(field="fields"))
    if not 0 < threshold <= 1:
        raise bad(f"threshold is a probability in (0, 1], got {threshold!r}.",
                  where=Where(field="threshold"))
    cols = list(keys or []) if method == "key" else list(f.values())
    tables = []
    for df, table, idcol in ((census, "census records", census_id),
                             (enumeration, "enumeration", enum_id)):
        t = check_columns(df, table, [area, idcol, *cols])
        check_keys(t, table, [area, idcol])
        t = t.assign(_area=text(t[area]), _id=text(t[idcol]))
        dup = t["_id"].duplicated()
        if dup.any():
            r = int(np.flatnonzero(dup)[0])
            raise bad(f"{table.capitalize()} row {r + 1}: the id in column {idcol!r} appears "
                      f"earlier.", where=Where(field=table, row=r + 1, column=idcol))
        tables.append(t)
    c, e = tables
    if method == "key":
        return _by_key(c, e, list(keys or []))
    if method == "similarity":
        return _by_similarity(c, e, f, threshold)
    return _by_linkage(c, e, f, threshold, date_tolerance_days, seed)
