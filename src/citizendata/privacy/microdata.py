"""Public microdata protection: k-anonymity, l-diversity, global recoding and local suppression.

A release is k-anonymous when every record shares its quasi-identifier values with at
least k − 1 others (Sweeney 2002), and distinct l-diverse when every such group holds at
least l different values of each sensitive variable (Machanavajjhala et al. 2007). A
missing (or locally suppressed) quasi-identifier value matches any value, as in
sdcMicro: an attacker cannot rule any record out on it. The search over recodings and
the information-loss measure are described in docs/methods/k-anonymity.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.projects.protection import MicrodataSpec

__all__ = [
    "AnonymisationReport",
    "AnonymisedMicrodata",
    "RiskReport",
    "anonymise",
    "measure",
    "recode",
]

_MASK_VALUES = 256  # up to this many sensitive values, value sets are bit masks
_MAX_NODES = 20_000  # a larger lattice means ladders far longer than any real recoding plan


# --------------------------------------------------------------------------- encoding

def _codes(series: pd.Series) -> np.ndarray:
    """Integer codes of a column, −1 for a missing value."""
    codes, _ = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def _key(codes: np.ndarray) -> np.ndarray:
    """One dense integer key per row for the combination of the given code columns."""
    n, q = codes.shape
    if q == 0:
        return np.zeros(n, dtype=np.int64)
    key = codes[:, 0] + 1
    for j in range(1, q):
        col = codes[:, j] + 1
        card = int(col.max()) + 1 if n else 1
        # re-densify before the mixed key could overflow int64
        if n and int(key.max()) + 1 > (2**62) // max(card, 1):
            key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
        key = key * card + col
    return np.asarray(pd.factorize(key)[0], dtype=np.int64)


class _Matcher:
    """Who matches whom under the NA-matches-anything rule, computed per missingness pattern.

    Records are grouped by which quasi-identifiers they have; for two patterns a and b
    only the columns both have decide a match, so each (pattern, shared columns) pair is
    one bincount over a dense key instead of a comparison of record pairs.
    """

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes
        self.n, self.q = codes.shape
        present = codes >= 0
        weights = (1 << np.arange(self.q, dtype=np.int64))
        self.pattern = (present.astype(np.int64) @ weights) if self.q else np.zeros(self.n, np.int64)
        self.patterns, self.inverse = np.unique(self.pattern, return_inverse=True)
        self._keys: dict[int, np.ndarray] = {}
        self._blocks: list[tuple[np.ndarray, int, list[tuple[int, np.ndarray]]]] | None = None

    def key(self, bits: int) -> np.ndarray:
        """Dense keys over the columns in the bit set (cached)."""
        if bits not in self._keys:
            cols = [j for j in range(self.q) if bits >> j & 1]
            self._keys[bits] = _key(self.codes[:, cols])
        return self._keys[bits]

    def blocks(self) -> list[tuple[np.ndarray, int, list[tuple[int, np.ndarray]]]]:
        """For each pattern: its rows, its bits, and (shared bits, rows of partners) groups."""
        if self._blocks is None:
            self._blocks = []
            for a, pa in enumerate(self.patterns):
                rows_a = np.flatnonzero(self.inverse == a)
                shared = self.pattern & int(pa)
                groups = [(int(s), shared == s) for s in pd.unique(shared)]
                self._blocks.append((rows_a, int(pa), groups))
        return self._blocks

    def sizes(self) -> np.ndarray:
        """For each record, the number of records it cannot be told apart from (itself included)."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        if len(self.patterns) == 1:
            key = self.key(int(self.patterns[0]))
            return np.bincount(key)[key]
        fk = np.zeros(self.n, dtype=np.int64)
        for rows_a, _, groups in self.blocks():
            for s, src in groups:
                key = self.key(s)
                counts = np.bincount(key[src], minlength=int(key.max()) + 1)
                fk[rows_a] += counts[key[rows_a]]
        return fk

    def distinct(self, sens: np.ndarray) -> np.ndarray:
        """For each record, the number of distinct sensitive values among the records it matches."""
        if self.n == 0:
            return np.zeros(0, dtype=np.int64)
        has = sens >= 0
        nvals = int(sens.max()) + 1 if has.any() else 1
        if len(self.patterns) == 1:
            key = self.key(int(self.patterns[0]))
            pairs = np.unique(key[has] * nvals + sens[has])
            per_class = np.bincount(pairs // nvals, minlength=int(key.max()) + 1)
            return per_class[key]
        if nvals <= _MASK_VALUES:
            return self._distinct_masks(sens, has, nvals)
        out = np.zeros(self.n, dtype=np.int64)
        for rows_a, pa, groups in self.blocks():
            own = self.key(pa)[rows_a]
            parts = []
            for s, src in groups:
                key_s = self.key(s)
                pick = src & has
                values = pd.DataFrame({"s": key_s[pick], "v": sens[pick]}).drop_duplicates()
                classes = pd.DataFrame({"c": own, "s": key_s[rows_a]}).drop_duplicates()
                parts.append(classes.merge(values, on="s")[["c", "v"]])
            pairs = pd.concat(parts, ignore_index=True).drop_duplicates()
            per_class = pairs.groupby("c").size()
            out[rows_a] = per_class.reindex(own, fill_value=0).to_numpy()
        return out

    def _distinct_masks(self, sens: np.ndarray, has: np.ndarray, nvals: int) -> np.ndarray:
        """distinct() with the set of values seen as bit masks: a union is a bitwise or."""
        words = (nvals + 63) // 64
        word, bit = sens // 64, np.left_shift(np.uint64(1), (sens % 64).astype(np.uint64))
        seen = np.zeros((self.n, words), dtype=np.uint64)
        for rows_a, _, groups in self.blocks():
            for s, src in groups:
                key_s = self.key(s)
                pick = np.flatnonzero(src & has)
                masks = np.zeros((int(key_s.max()) + 1, words), dtype=np.uint64)
                np.bitwise_or.at(masks, (key_s[pick], word[pick]), bit[pick])
                seen[rows_a] |= masks[key_s[rows_a]]
        return np.bitwise_count(seen).sum(axis=1).astype(np.int64)


def _entropy_l(codes: np.ndarray, sens: np.ndarray) -> float:
    """The smallest exp(entropy) of the sensitive values in an exact class (NA as its own value)."""
    has = sens >= 0
    if not has.any():
        return 0.0
    key = _key(codes)[has]
    frame = pd.DataFrame({"c": key, "v": sens[has]})
    counts = frame.groupby(["c", "v"]).size()
    p = counts / counts.groupby(level="c").transform("sum")
    h = -(p * np.log(p)).groupby(level="c").sum()
    return float(np.exp(h.min()))


# --------------------------------------------------------------------------- measure

@dataclass(frozen=True)
class RiskReport:
    """Re-identification risk of a table under k-anonymity and l-diversity."""

    n_records: int
    k: int
    l: int  # noqa: E741 (the name of the rule)
    k_reached: int  # the smallest number of records any record matches
    n_classes: int  # distinct combinations of quasi-identifier values (NA as its own value)
    records_below_k: int
    share_below_k: float
    l_reached: dict[str, int]  # per sensitive variable, the smallest distinct count
    l_entropy: dict[str, float] | None
    fk: np.ndarray = field(repr=False)  # per record, the number of records it matches
    classes: pd.DataFrame = field(repr=False)  # the classes and their sizes (column "n")

    @property
    def satisfied(self) -> bool:
        """Whether the table reaches k and l."""
        return self.k_reached >= self.k and all(v >= self.l for v in self.l_reached.values())


def _check_columns(df: pd.DataFrame, columns: Sequence[str], role: str) -> None:
    """Refuse names that are not columns of the table."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise BadInput("privacy.invalid_table",
                       f"the {role} {missing} are not columns of the microdata",
                       where=Where(field=", ".join(missing)),
                       fix=f"Name columns of the table: {list(map(str, df.columns))}.")


def measure(df: pd.DataFrame, quasi_identifiers: Sequence[str], sensitive: Sequence[str] = (),
            k: int = 5, l: int = 1, entropy: bool = False) -> RiskReport:  # noqa: E741
    """The class sizes, k reached and l-diversity of a table; a missing value matches any value."""
    qis, sens_names = list(quasi_identifiers), list(sensitive)
    _check_columns(df, qis, "quasi-identifiers")
    _check_columns(df, sens_names, "sensitive variables")
    codes = (np.column_stack([_codes(df[c]) for c in qis]) if qis
             else np.zeros((len(df), 0), dtype=np.int64))
    return _measure_codes(df, qis, codes, sens_names, k, l, entropy)


def _measure_codes(df: pd.DataFrame, qis: list[str], codes: np.ndarray, sens_names: list[str],
                   k: int, l: int, entropy: bool) -> RiskReport:  # noqa: E741
    """measure() on already encoded quasi-identifiers."""
    n = len(df)
    matcher = _Matcher(codes)
    fk = matcher.sizes()
    l_reached: dict[str, int] = {}
    l_ent: dict[str, float] | None = {} if entropy else None
    for s in sens_names:
        sc = _codes(df[s])
        l_reached[s] = int(matcher.distinct(sc).min()) if n else 0
        if l_ent is not None:
            l_ent[s] = _entropy_l(codes, sc)
    if qis:
        classes = (df[qis].astype(object).where(codes >= 0, None)
                   .groupby(qis, dropna=False, sort=True).size().rename("n").reset_index())
    else:
        classes = pd.DataFrame({"n": [n]})
    below = int((fk < k).sum())
    return RiskReport(n_records=n, k=k, l=l, k_reached=int(fk.min()) if n else 0,
                      n_classes=len(classes) if n else 0, records_below_k=below,
                      share_below_k=below / n if n else 0.0, l_reached=l_reached,
                      l_entropy=l_ent, fk=fk, classes=classes)


# --------------------------------------------------------------------------- recoding

def _fmt(x: float) -> str:
    """A number as a label: integers without a decimal point."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _numeric(values: pd.Series, qi: str) -> np.ndarray:
    """The values as floats; text that is not a number is refused."""
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput("privacy.invalid_table",
                       f"quasi-identifier {qi!r} has a value that is not a number "
                       f"({values.iloc[row]!r}) but its recoding needs numbers",
                       where=Where(row=row, column=qi),
                       fix="Use a 'map' recoding for categories, or clean the column.")
    return np.asarray(num, dtype=float)


def _breaks(raw: Any, qi: str) -> list[float]:
    """Band breaks from a list or a text such as '0 18 30 45 65'."""
    items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    try:
        out = sorted(float(b) for b in items)
    except (TypeError, ValueError):
        out = []
    if not out:
        raise BadInput("privacy.invalid_table", f"the breaks of {qi!r} are not numbers: {raw!r}",
                       where=Where(field=f"recode.{qi}"),
                       fix="Give breaks as increasing numbers, e.g. [0, 18, 30, 45, 65].")
    return out


def _rollup(values: pd.Series, level: str, geography: pd.DataFrame | None, qi: str) -> pd.Series:
    """The higher-level area of each code, through a reference table with one column per level."""
    if geography is None or level not in geography.columns:
        cols = [] if geography is None else list(map(str, geography.columns))
        raise BadInput("privacy.invalid_table",
                       f"the roll-up of {qi!r} to {level!r} needs a geography table with a "
                       f"{level!r} column (columns given: {cols})",
                       where=Where(field=f"recode.{qi}"),
                       fix="Pass the geography reference table, one column per level, lowest first.")
    text = values.astype(object).where(values.notna(), None)
    codes = pd.Series([None if v is None else str(v) for v in text], index=values.index, dtype=object)
    present = set(codes.dropna())
    # the source level is the one holding the codes; on a tie the lowest (first) level
    best, best_hits = None, -1
    for c in geography.columns:
        if c == level:
            continue
        hits = len(present & set(geography[c].dropna().astype(str)))
        if hits > best_hits:
            best, best_hits = c, hits
    if best is None:
        raise BadInput("privacy.invalid_table", "the geography table needs at least two levels",
                       where=Where(field=f"recode.{qi}"), fix="Give one column per level.")
    pairs = geography[[best, level]].dropna().astype(str).drop_duplicates()
    clash = pairs[pairs.duplicated(best, keep=False)]
    if not clash.empty:
        raise BadInput("privacy.invalid_table",
                       f"the geography table puts {best} {clash[best].iloc[0]!r} in several {level}s",
                       where=Where(column=str(best)), fix="Give every area exactly one parent.")
    mapping = dict(zip(pairs[best], pairs[level], strict=True))
    unknown = sorted(present - mapping.keys())
    if unknown:
        raise BadInput("privacy.invalid_table",
                       f"codes of {qi!r} not in the geography table's {best!r} column: {unknown[:10]}",
                       where=Where(column=qi),
                       fix="Complete the geography table, or correct the codes.")
    mapped = codes.map(mapping).astype(object)
    return mapped.where(mapped.notna(), None)


def recode(values: pd.Series, rung: Mapping[str, Any], geography: pd.DataFrame | None = None,
           name: str | None = None) -> pd.Series:
    """One rung of a recoding ladder applied to the original values (text labels, None if missing).

    A rung combines: ``bottom``/``top`` coding (values below bottom become '<b', values at or
    above top 'T+'), ``width`` or ``breaks`` bands ('30-34'), ``map`` (category merging),
    ``rollup`` (a higher level of the geography table).
    """
    qi = name or str(values.name)
    allowed = {"width", "breaks", "top", "bottom", "map", "rollup"}
    unknown = sorted(set(rung) - allowed)
    if unknown or not rung:
        raise BadInput("privacy.invalid_table", f"unknown recoding {unknown or rung} for {qi!r}",
                       where=Where(field=f"recode.{qi}"),
                       fix=f"Use one or more of {sorted(allowed)} in each rung.")
    if "rollup" in rung:
        return _rollup(values, str(rung["rollup"]), geography, qi)
    if "map" in rung:
        mapping = rung["map"]
        if not isinstance(mapping, Mapping):
            raise BadInput("privacy.invalid_table", f"the map of {qi!r} is not a mapping",
                           where=Where(field=f"recode.{qi}"), fix="Give {old: new, …}.")
        keyed = {str(a): str(b) for a, b in mapping.items()}
        return pd.Series([None if pd.isna(v) else keyed.get(str(v), str(v)) for v in values],
                         index=values.index, dtype=object)
    x = _numeric(values, qi)
    missing = np.isnan(x)
    labels = np.array([None] * len(x), dtype=object)
    banded = np.zeros(len(x), dtype=bool)
    if "width" in rung or "breaks" in rung:
        if "width" in rung:
            w = float(rung["width"])
            if not w > 0:
                raise BadInput("privacy.invalid_table", f"the band width of {qi!r} must be positive",
                               where=Where(field=f"recode.{qi}"), fix="Give e.g. {\"width\": 5}.")
            lo = np.floor(np.where(missing, 0, x) / w) * w
            hi = lo + w
        else:
            br = np.asarray(_breaks(rung["breaks"], qi))
            idx = np.searchsorted(br, np.where(missing, br[0], x), side="right") - 1
            below = idx < 0
            idx = np.clip(idx, 0, len(br) - 1)
            lo = br[idx]
            hi = np.where(idx + 1 < len(br), br[np.minimum(idx + 1, len(br) - 1)], np.inf)
            lo = np.where(below, -np.inf, lo)
            hi = np.where(below, br[0], hi)
        integral = bool(np.all(np.mod(np.where(missing, 0, x), 1) == 0))
        uniq, inv = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
        names = []
        for a, b in uniq:
            if not np.isfinite(a):
                names.append(f"<{_fmt(b)}")
            elif not np.isfinite(b):
                names.append(f"{_fmt(a)}+")
            elif integral and float(a).is_integer() and float(b).is_integer():
                names.append(f"{_fmt(a)}-{_fmt(b - 1)}")
            else:
                names.append(f"[{_fmt(a)}, {_fmt(b)})")
        labels[:] = np.asarray(names, dtype=object)[inv.ravel()]
        banded[:] = True
    if not banded.all():
        labels[~banded] = [_fmt(v) if not np.isnan(v) else None for v in x[~banded]]
    if "bottom" in rung:
        b = float(rung["bottom"])
        labels[x < b] = f"<{_fmt(b)}"
    if "top" in rung:
        t = float(rung["top"])
        labels[x >= t] = f"{_fmt(t)}+"
    labels[missing] = None
    return pd.Series(labels, index=values.index, dtype=object)


def _identity(values: pd.Series, rung: Mapping[str, Any]) -> pd.Series:
    """The labels the values would have if the rung left them unchanged (to count changes)."""
    if "map" in rung or "rollup" in rung:
        return pd.Series([None if pd.isna(v) else str(v) for v in values], index=values.index,
                         dtype=object)
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return pd.Series([None if np.isnan(v) else _fmt(v) for v in x], index=values.index,
                     dtype=object)


# --------------------------------------------------------------------------- anonymise

@dataclass(frozen=True)
class AnonymisationReport:
    """What anonymise() did and what it cost in information."""

    k: int
    l: int  # noqa: E741 (the name of the rule)
    k_reached: int
    l_reached: dict[str, int]
    levels: dict[str, int]  # ladder rung chosen per quasi-identifier (0: not recoded)
    recoding: dict[str, dict[str, Any] | None]  # the rung itself
    suppressed: dict[str, int]  # local suppressions per quasi-identifier
    records_suppressed: int  # records with at least one value suppressed
    share_suppressed: float
    records_changed: int  # records with any quasi-identifier value recoded or suppressed
    share_changed: float
    classes_before: int
    classes_after: int
    k_before: int
    discernibility: float  # Bayardo & Agrawal's DM: Σ|E|² over classes + n per suppressed record
    discernibility_normalised: float  # DM / n², 1/n (nothing lost) … 1
    nodes_evaluated: int
    nodes_total: int


@dataclass(frozen=True)
class AnonymisedMicrodata:
    """The released table and the report."""

    data: pd.DataFrame
    report: AnonymisationReport


class _Node:
    """One combination of ladder rungs, evaluated."""

    def __init__(self, levels: tuple[int, ...], unsafe: np.ndarray, k_min: int, dm: float) -> None:
        self.levels, self.unsafe, self.k_min, self.dm = levels, unsafe, k_min, dm


def _unsafe(codes: np.ndarray, sens: list[np.ndarray], k: int, l: int) -> tuple[np.ndarray, int]:  # noqa: E741
    """Records that match fewer than k records or see fewer than l sensitive values; and min fk."""
    matcher = _Matcher(codes)
    fk = matcher.sizes()
    bad = fk < k
    if l > 1:
        for sc in sens:
            bad |= matcher.distinct(sc) < l
    return bad, int(fk.min()) if len(fk) else 0


def _discernibility(codes: np.ndarray, suppressed: np.ndarray) -> float:
    """Σ|E|² over the exact classes of the records kept whole, plus n for each suppressed record."""
    n = len(codes)
    kept = ~suppressed
    key = _key(codes[kept])
    sizes = np.bincount(key) if len(key) else np.zeros(0, dtype=np.int64)
    return float((sizes.astype(float) ** 2).sum() + n * float(suppressed.sum()))


def _suppress(codes: np.ndarray, sens: list[np.ndarray], k: int, l: int,  # noqa: E741
              cardinality: np.ndarray) -> np.ndarray:
    """Local suppression: blank the values of unsafe records, most helpful variable first.

    Each round tries every quasi-identifier on all unsafe records at once, and gives each
    unsafe record the first variable (in order of records made safe, then of distinct
    values) that makes it safe, or the best one when none does. Blanking only ever adds
    matches, so safe records stay safe and a record with every value blank matches all.
    """
    codes = codes.copy()
    bad, _ = _unsafe(codes, sens, k, l)
    for _ in range(codes.shape[1] + 1):
        if not bad.any():
            break
        fixes = []
        for j in range(codes.shape[1]):
            trial = codes.copy()
            trial[bad, j] = -1
            still, _ = _unsafe(trial, sens, k, l)
            fixes.append(bad & ~still & (codes[:, j] >= 0))
        helped = np.array([f.sum() for f in fixes])
        order = sorted(range(codes.shape[1]), key=lambda j: (-helped[j], -cardinality[j]))
        todo = bad.copy()
        for j in order:
            take = todo & fixes[j]
            codes[take, j] = -1
            todo &= ~take
        for j in order:  # unfixed records: blank their most helpful remaining value
            take = todo & (codes[:, j] >= 0)
            codes[take, j] = -1
            todo &= ~take
        bad, _ = _unsafe(codes, sens, k, l)
    return codes


def anonymise(df: pd.DataFrame, spec: MicrodataSpec,
              geography: pd.DataFrame | None = None) -> AnonymisedMicrodata:
    """Recode and locally suppress the quasi-identifiers until the table reaches the spec's k and l.

    Searches the lattice of ladder rungs bottom-up (Samarati 2001): a node whose every
    unsafe record can be blanked within ``max_suppressed`` is feasible, its
    generalisations are not considered, and the minimal feasible node with the smallest
    discernibility is released after local suppression.
    """
    qis, sens_names, k, l = list(spec.quasi_identifiers), list(spec.sensitive), spec.k, spec.l  # noqa: E741
    _check_columns(df, qis, "quasi-identifiers")
    _check_columns(df, sens_names, "sensitive variables")
    extra = sorted(set(spec.recode) - set(qis))
    if extra:
        raise BadInput("privacy.invalid_table",
                       f"recodings given for {extra}, which are not quasi-identifiers",
                       where=Where(field="recode"), fix="Declare them as quasi-identifiers too.")
    n = len(df)
    data = df.reset_index(drop=True)
    ladders = [list(spec.recode.get(c, [])) for c in qis]
    # every rung recodes the original values; label texts become dense integer codes
    released: list[list[pd.Series]] = []
    level_codes: list[list[np.ndarray]] = []
    for c, ladder in zip(qis, ladders, strict=True):
        series = [data[c]] + [recode(data[c], rung, geography, c) for rung in ladder]
        released.append(series)
        level_codes.append([_codes(s) for s in series])
    sens = [_codes(data[s]) for s in sens_names]
    budget = math.floor(spec.max_suppressed * n + 1e-9)

    def codes_at(levels: tuple[int, ...]) -> np.ndarray:
        if not qis:
            return np.zeros((n, 0), dtype=np.int64)
        return np.column_stack([level_codes[j][lv] for j, lv in enumerate(levels)])

    shape = [len(lad) + 1 for lad in ladders]
    nodes_total = math.prod(shape)
    if nodes_total > _MAX_NODES:
        raise BadInput("privacy.invalid_table",
                       f"the recoding ladders make {nodes_total} combinations to search",
                       where=Where(field="recode"), fix="Use shorter ladders (a few rungs each).")
    lattice = sorted(itertools.product(*[range(s) for s in shape]), key=lambda t: (sum(t), t))
    feasible_or_above: set[tuple[int, ...]] = set()
    candidates: list[_Node] = []
    evaluated: list[_Node] = []
    for levels in lattice:
        preds = [(*levels[:j], levels[j] - 1, *levels[j + 1:])
                 for j in range(len(levels)) if levels[j] > 0]
        if any(p in feasible_or_above for p in preds):
            # a generalisation of a feasible node: feasible too, never minimal
            feasible_or_above.add(levels)
            continue
        codes = codes_at(levels)
        bad, k_min = _unsafe(codes, sens, k, l)
        node = _Node(levels, bad, k_min, _discernibility(codes, bad))
        evaluated.append(node)
        if int(bad.sum()) <= budget:
            feasible_or_above.add(levels)
            candidates.append(node)

    if not candidates:
        best = max(evaluated, key=lambda nd: (nd.k_min, -int(nd.unsafe.sum())))
        lmsg = f" and l = {l} for {sens_names}" if sens_names and l > 1 else ""
        raise BadInput("privacy.k_anonymity_unreached",
                       f"the quasi-identifiers {qis} cannot reach k = {k}{lmsg} with the recodings "
                       f"allowed and at most {spec.max_suppressed:.1%} of records suppressed; the best "
                       f"k reached is {best.k_min} (at rungs {dict(zip(qis, best.levels, strict=True))}, "
                       f"{int(best.unsafe.sum())} of {n} records still unsafe)",
                       where=Where(field="microdata.quasi_identifiers"),
                       details={"quasi_identifiers": qis, "best_k": best.k_min,
                                "best_levels": list(best.levels)})
    chosen = min(candidates, key=lambda nd: (nd.dm, sum(nd.levels), nd.levels))
    base = codes_at(chosen.levels)
    cardinality = np.array([int(base[:, j].max()) + 1 for j in range(len(qis))])
    final = _suppress(base, sens, k, l, cardinality) if chosen.unsafe.any() else base
    blanked = (final < 0) & (base >= 0)
    suppressed_rows: np.ndarray = np.asarray(blanked.any(axis=1), dtype=bool)

    out = data.copy()
    changed = suppressed_rows.copy()
    for j, c in enumerate(qis):
        lv = chosen.levels[j]
        if lv > 0:
            changed |= (released[j][lv].fillna("\0").to_numpy()
                        != _identity(data[c], ladders[j][lv - 1]).fillna("\0").to_numpy())
        if lv > 0 or blanked[:, j].any():
            vals = released[j][lv].to_numpy(dtype=object).copy()
            vals[blanked[:, j] | pd.isna(vals)] = None
            out[c] = pd.Series(vals, index=out.index, dtype=object)
    out.index = df.index

    after = _Matcher(final)
    fk = after.sizes()
    l_reached = {s: (int(after.distinct(sc).min()) if n else 0)
                 for s, sc in zip(sens_names, sens, strict=True)}
    if n and (int(fk.min()) < k or any(v < l for v in l_reached.values())):
        # only when even blank records cannot reach k or l: fewer than k records, or
        # fewer than l sensitive values in the whole table
        raise BadInput("privacy.k_anonymity_unreached",
                       f"the quasi-identifiers {qis} cannot reach k = {k} (l = {l}) even with every "
                       f"value suppressed: the table has {n} records and l values "
                       f"{l_reached}; the best k reached is {int(fk.min())}",
                       where=Where(field="microdata.quasi_identifiers"),
                       details={"quasi_identifiers": qis, "best_k": int(fk.min()),
                                "best_levels": list(chosen.levels)})
    before_codes = codes_at(tuple(0 for _ in qis))
    before_fk = _Matcher(before_codes).sizes()
    dm = _discernibility(final, suppressed_rows)
    report = AnonymisationReport(
        k=k, l=l, k_reached=int(fk.min()) if n else 0, l_reached=l_reached,
        levels=dict(zip(qis, chosen.levels, strict=True)),
        recoding={c: (dict(ladders[j][lv - 1]) if lv > 0 else None)
                  for j, (c, lv) in enumerate(zip(qis, chosen.levels, strict=True))},
        suppressed={c: int(blanked[:, j].sum()) for j, c in enumerate(qis)},
        records_suppressed=int(suppressed_rows.sum()),
        share_suppressed=float(suppressed_rows.mean()) if n else 0.0,
        records_changed=int(changed.sum()), share_changed=float(changed.mean()) if n else 0.0,
        classes_before=len(np.unique(_key(before_codes))) if n else 0,
        classes_after=len(np.unique(_key(final))) if n else 0,
        k_before=int(before_fk.min()) if n else 0,
        discernibility=dm, discernibility_normalised=dm / n**2 if n else 0.0,
        nodes_evaluated=len(evaluated), nodes_total=nodes_total)
    return AnonymisedMicrodata(data=out, report=report)
