"""The colombia-press-freedom scenario's truth: counts, capture dependence, noise, backlog."""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from citizendata.scenarios import colombia_press_freedom as co
from citizendata.scenarios.colombia_press_freedom.names import NICKNAMES, typo
from citizendata.scenarios.colombia_press_freedom.records import MEDIOS_DUPLICATES


@pytest.fixture(scope="module")
def full() -> co.ColombiaScenario:
    return co.generate()


def _independence_estimate(histories: dict[str, int], k: int) -> float:
    """N-hat of the log-linear independence model (Poisson GLM by IRLS on the 2^k - 1 cells)."""
    pats = np.array(list(itertools.product([0, 1], repeat=k)))[1:]
    y = np.array([histories.get("".join(map(str, p)), 0) for p in pats], dtype=float)
    x = np.column_stack([np.ones(len(pats)), pats])
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(y.mean())
    for _ in range(200):
        mu = np.exp(x @ beta)
        step = np.linalg.solve(x.T @ (x * mu[:, None]), x.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    return float(y.sum() + np.exp(beta[0]))


# -- determinism and size ---------------------------------------------------------------
def test_same_seed_same_data_other_seed_differs() -> None:
    a, b, c = co.generate(11, 0.15), co.generate(11, 0.15), co.generate(12, 0.15)
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.truth == b.truth and a.backlog.equals(b.backlog)
    assert not a.records["victim_surnames"].equals(c.records["victim_surnames"])


@settings(max_examples=12, deadline=None)
@given(seed=st.sampled_from([2016, 7]),
       scale=st.floats(min_value=0.01, max_value=0.2, allow_nan=False))
@example(seed=2016, scale=0.01).via("a list without duplicates raised a TypeError")
@example(seed=7, scale=0.02).via("a list without duplicates raised a TypeError")
def test_small_scales_give_a_whole_scenario(seed: int, scale: float) -> None:
    data = co.generate(seed, scale)
    ev, rec = data.events, data.records
    assert set(rec["source"]) <= set(co.LISTS)
    # every record of a case is a record of a true event; the truth counts those events
    cases = rec[rec["_event_id"].notna()]
    assert cases["_event_id"].isin(ev["event_id"]).all()
    assert data.truth["true_total"] == len(ev)
    assert data.truth["documented"] == cases["_event_id"].nunique()
    assert set(data.files) == set(co.LISTS)
    assert sum(len(f) for f in data.files.values()) == len(rec)


def test_counts_are_in_the_intended_ranges(full: co.ColombiaScenario) -> None:
    ev, t = full.events, full.truth
    assert 2500 <= t["true_total"] == len(ev) <= 4000
    assert ev["event_id"].is_unique
    assert ev["event_date"].dt.year.between(2016, 2024).all()
    share = ev["violation"].value_counts(normalize=True)
    assert 0.5 < share["killing"] < 0.65 and 0.03 < share["enforced_disappearance"] < 0.08
    killed = ev[ev["violation"] == "killing"].groupby(["year", "victim_role"]).size().unstack()
    # OHCHR / Somos Defensores: 100-200 defenders a year; FLIP: a handful of journalists
    assert killed["hr_defender"].between(70, 260).all()
    assert killed["journalist"].max() <= 10
    assert killed["trade_unionist"].between(3, 40).all()
    assert (ev["victim_role"] == "hr_defender").mean() > 0.7
    assert set(ev["region"]) == set(co.REGIONS)
    assert (ev["municipality"].str[:2] == ev["department"]).all()
    small = co.generate(2016, 0.1)
    assert 0.05 < small.truth["true_total"] / t["true_total"] < 0.15


def test_truth_adds_up(full: co.ColombiaScenario) -> None:
    t, ev, rec, on = full.truth, full.events, full.records, full.capture
    assert sum(c["n"] for c in t["by_violation_year_region"]) == t["true_total"]
    true_records = rec[rec["_event_id"].notna()]
    assert t["documented"] == true_records["_event_id"].nunique() == int((on.sum(axis=1) > 0).sum())
    assert t["documented"] == sum(t["histories"].values())
    for name in co.LISTS:
        ids = true_records.loc[true_records["source"] == name, "_event_id"]
        assert t["list_events"][name] == ids.nunique() == int(on[name].sum())
        assert t["list_records"][name] == len(full.files[name])
    for code, violations in co.SERIES.items():
        s = t["series"][code]
        assert s["total"] == int(ev["violation"].isin(violations).sum())
        assert sum(s["by_year"].values()) == sum(s["by_period"].values()) == s["total"]
        assert s["documented"] == sum(s["histories"].values()) < s["total"]


# -- the capture model ----------------------------------------------------------------
def _overlap_ratio(on: pd.DataFrame, a: str, b: str) -> float:
    """Observed overlap over the overlap expected if the lists were independent."""
    n = len(on)
    return float((on[a] & on[b]).sum() * n / (on[a].sum() * on[b].sum()))


def test_lists_overlap_as_designed(full: co.ColombiaScenario) -> None:
    on = full.capture.astype(bool)
    ratio = {(a, b): _overlap_ratio(on, a, b) for a, b in itertools.combinations(co.LISTS, 2)}
    # referrals (Defensoría -> Fiscalía) and shared sources (media monitor -> FLIP)
    assert ratio[("fiscalia", "defensoria")] > 1.4
    assert ratio[("flip", "medios")] > 2.0
    # FLIP and the unions document different people: far fewer shared than independence
    assert ratio[("flip", "sindical")] < 0.6
    # heterogeneity makes the other pairs positively dependent too
    assert ratio[("fiscalia", "somos")] > 1.05 and ratio[("medios", "somos")] > 1.05
    role_rate = on.groupby(full.events["victim_role"]).mean()
    assert role_rate.loc["trade_unionist", "sindical"] > 0.8 > 0.1 > role_rate.loc["hr_defender", "sindical"]
    assert role_rate.loc["journalist", "flip"] > 0.6 > 0.1 > role_rate.loc["hr_defender", "flip"]
    assert role_rate.loc["hr_defender", "somos"] > 0.5


def test_remote_regions_are_under_covered(full: co.ColombiaScenario) -> None:
    documented = (full.capture.sum(axis=1) > 0).groupby(full.events["region"]).mean()
    assert documented["andina"] > documented["caribe"] > documented["amazonia"]
    assert documented["andina"] - documented["amazonia"] > 0.1


def test_independence_model_underestimates(full: co.ColombiaScenario) -> None:
    t = full.truth
    k = len(co.LISTS)
    n_hat = _independence_estimate(t["histories"], k)
    assert t["documented"] < n_hat < 0.9 * t["true_total"]
    kill = t["series"]["VC_VAW_MTUHRA"]
    kill_hat = _independence_estimate(kill["histories"], k)
    assert kill["documented"] < kill_hat < 0.95 * kill["total"]
    # the figures the README quotes for the default seed
    readme = (Path(__file__).parents[1] / "examples" / "colombia-press-freedom" / "README.md"
              ).read_text(encoding="utf-8")
    assert f"N̂ ≈ {round(n_hat):,} for all violations against a true {t['true_total']:,}" in readme
    assert f"≈ {round(kill_hat):,} killings against a true {kill['total']:,}" in readme


def test_independence_fit_recovers_n_when_lists_are_independent() -> None:
    # the estimator of the test above is right: on truly independent lists it is unbiased
    rng = np.random.default_rng(5)
    p = np.array([0.1, 0.4, 0.3, 0.15, 0.25, 0.45])
    on = (rng.random((3000, 6)) < p).astype(int)
    code = on @ (1 << np.arange(5, -1, -1))
    hist = {format(int(c), "06b"): int(n) for c, n in zip(*np.unique(code[code > 0],
                                                                      return_counts=True), strict=True)}
    assert _independence_estimate(hist, 6) == pytest.approx(3000, rel=0.03)


# -- the records' noise ------------------------------------------------------------------
def _ascii(text: str) -> bool:
    return all(not unicodedata.combining(c) for c in unicodedata.normalize("NFKD", text))


def test_noise_rates_are_as_intended(full: co.ColombiaScenario) -> None:
    rec = full.records[full.records["_event_id"].notna() & ~full.records["_duplicate"]]
    true_act = rec["_event_id"].map(full.events.set_index("event_id")["violation"])
    reclassifiable = true_act.isin(["kidnapping", "enforced_disappearance"])
    for name in co.LISTS:
        flags = rec.loc[rec["source"] == name, "_noise"].str.split(",")
        for kind, rate in zip(co.NOISE_KINDS, co.NOISE[name], strict=True):
            # a reclassification can only happen to kidnappings and disappearances
            kflags = flags[reclassifiable] if kind == "violation" else flags
            n = len(kflags)
            observed = kflags.map(lambda f, k=kind: k in f).mean()
            tol = 4 * np.sqrt(rate * (1 - rate) / n) + 0.01
            if kind == "nickname":  # only names with a nickname can get one
                assert observed <= rate + tol, (name, kind)
            elif kind == "accents":  # names without accents cannot lose them
                assert observed <= rate + tol and (rate < 0.2 or observed > rate / 3), (name, kind)
            else:
                assert abs(observed - rate) < tol, (name, kind, observed, rate)


def test_noise_flags_match_the_records(full: co.ColombiaScenario) -> None:
    rec = full.records[full.records["_event_id"].notna()].copy()
    ev = full.events.set_index("event_id").loc[rec["_event_id"]]
    ev.index = rec.index
    flags = rec["_noise"].str.split(",")

    def has(kind: str) -> pd.Series:
        return flags.map(lambda f: kind in f)

    date_diff = (pd.to_datetime(rec["event_date"]) - ev["event_date"]).dt.days
    assert (date_diff[~has("date_days") & ~has("date_month")] == 0).all()
    assert date_diff[has("date_days") & ~has("date_month")].abs().between(1, 5).all()
    assert date_diff[has("date_month")].abs().between(25, 36).all()
    # every record is dated within the lists' window 2016-2024 (periods start in 2016)
    assert rec["event_date"].between("2016-01-01", "2024-12-31").all()
    assert full.records["event_date"].str[:4].min() == "2016"
    age_diff = rec["victim_age"].astype(int) - ev["victim_age"]
    assert (age_diff[has("age")].abs() == 1).all() and (age_diff[~has("age")] == 0).all()
    assert ((rec["municipality"] == "") == has("municipality")).all()
    reclassified = rec["violation"] != ev["violation"]
    assert (reclassified == has("violation")).all()
    assert set(zip(ev.loc[reclassified, "violation"], rec.loc[reclassified, "violation"],
                   strict=True)) == {("kidnapping", "enforced_disappearance"),
                                     ("enforced_disappearance", "kidnapping")}
    assert ((rec["victim_sex"] == "") == has("sex")).all()
    assert (rec.loc[~has("municipality"), "municipality"] == ev.loc[~has("municipality"), "municipality"]).all()
    # names untouched by noise are the true names (capitals at the prosecutor's)
    clean = flags.map(lambda f: not set(f) & {"accents", "second_surname", "swap", "nickname",
                                              "typo"})
    true_surnames = ev["surname1"] + " " + ev["surname2"]
    upper = rec["source"] == "fiscalia"
    want_given = ev["given_names"].where(~upper, ev["given_names"].str.upper())
    want_surnames = true_surnames.where(~upper, true_surnames.str.upper())
    assert (rec.loc[clean, "victim_given_names"] == want_given[clean]).all()
    assert (rec.loc[clean, "victim_surnames"] == want_surnames[clean]).all()
    swapped = has("swap")
    given = rec["victim_given_names"].where(~swapped, rec["victim_surnames"])
    surnames = rec["victim_surnames"].where(~swapped, rec["victim_given_names"])
    accents = has("accents")
    assert given[accents].map(_ascii).all() and surnames[accents].map(_ascii).all()
    only_second = has("second_surname") & ~has("typo") & ~accents & ~upper
    assert (surnames[only_second] == ev.loc[only_second, "surname1"]).all()
    nick = has("nickname") & ~has("typo") & ~accents & ~upper
    assert nick.sum() > 20
    first = given[nick].str.split(" ").str[0]
    assert first.isin(set(NICKNAMES.values())).all()


def test_names_look_colombian(full: co.ColombiaScenario) -> None:
    ev = full.events
    surnames = pd.concat([ev["surname1"], ev["surname2"]])
    compound = surnames.str.contains(r"^(?:de |del )|\w de |-", regex=True)
    assert 0.02 < compound.mean() < 0.12
    assert {"de la Hoz", "Ruiz de Castilla"} <= set(surnames)
    two_given = ev["given_names"].str.contains(" ").mean()
    assert 0.3 < two_given < 0.55
    pacific = ev["region"] == "pacifica"
    afro = {"Mosquera", "Palacios", "Rentería", "Caicedo", "Angulo", "Hurtado", "Quiñones"}
    assert ev.loc[pacific, "surname1"].isin(afro).mean() > 3 * ev.loc[~pacific, "surname1"].isin(afro).mean()


def test_medios_has_within_list_duplicates(full: co.ColombiaScenario) -> None:
    med = full.records[full.records["source"] == "medios"]
    dups = med[med["_duplicate"]]
    assert abs(len(dups) / (len(med) - len(dups)) - MEDIOS_DUPLICATES) < 0.03
    assert dups["_event_id"].isin(med.loc[~med["_duplicate"], "_event_id"]).all()
    assert med["record_id"].is_unique
    assert not full.records.loc[full.records["source"] != "medios", "_duplicate"].any()
    assert full.truth["medios_duplicates"] == len(dups)


def test_flip_backlog(full: co.ColombiaScenario) -> None:
    b = full.backlog
    flip = full.records[full.records["source"] == "flip"].set_index("record_id")
    assert list(b["record_id"]) == list(flip.index)
    assert set(b["status"]) == {"verified", "not_verified", "pending"}
    assert b.loc[b["status"] == "verified", "is_case"].all()
    assert not b.loc[b["status"] == "not_verified", "is_case"].any()
    pending = b[b["status"] == "pending"]
    assert pending["is_case"].any() and not pending["is_case"].all()
    assert set(b.loc[b["status"] == "not_verified", "reason"]) == {
        "not_16_10_1", "not_journalism", "insufficient_evidence"}
    non_cases = flip[flip["_event_id"].isna()]
    assert (non_cases.index == b.loc[~b["is_case"], "record_id"].to_numpy()).all()
    assert set(non_cases["violation"]) >= {"threat", "other_attack"}
    assert "other" in set(non_cases["victim_role"])
    recent = b["record_id"].str.startswith("FLIP-2024")
    assert (b.loc[recent, "status"] == "pending").mean() > 2 * (b.loc[~recent, "status"] == "pending").mean()
    f = full.truth["flip"]
    assert f["reports"] == len(b) and f["verified"] + f["not_verified"] + f["pending"] == len(b)


@given(st.text(alphabet="abcdefghijklmnñopqrstuvwxyzáéíóú ÁÉÍÓÚ-", min_size=3, max_size=30),
       st.integers(0, 2**32 - 1))
def test_a_typo_is_one_edit_away(name: str, seed: int) -> None:
    out = typo(np.random.default_rng(seed), name)
    inner = [i for i in range(1, len(name)) if name[i].isalpha() and name[i - 1].isalpha()]
    if not inner:  # only one-letter words: nothing to mistype but initials
        assert out == name
        return
    assert out != name
    # every word keeps its initial and no word disappears
    assert [w[0] for w in name.split()] == [w[0] for w in out.split()]
    assert abs(len(out) - len(name)) <= 1
    if len(out) == len(name):  # a substitution or two neighbours swapped
        diff = [i for i, (a, b) in enumerate(zip(name, out, strict=True)) if a != b]
        assert len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and name[diff[0]] == out[diff[1]])
    else:  # a letter dropped or doubled
        short, long_ = sorted((name, out), key=len)
        assert any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def test_some_victims_suffer_two_acts(full: co.ColombiaScenario) -> None:
    from citizendata.scenarios.colombia_press_freedom.population import (
        KILLED_AFTER_KIDNAPPING,
        TORTURED_IN_DETENTION,
    )

    ev = full.events
    twice = ev[ev["person_id"].duplicated(keep=False)].sort_values(["person_id", "event_date"])
    pairs = twice.groupby("person_id")
    assert (pairs.size() == 2).all()
    acts = pairs["violation"].agg(lambda v: "+".join(sorted(v)))
    assert set(acts) == {"arbitrary_detention+torture", "kidnapping+killing"}
    torture = int((ev["violation"] == "torture").sum())
    kidnap = int((ev["violation"] == "kidnapping").sum())
    assert (acts == "arbitrary_detention+torture").sum() == round(TORTURED_IN_DETENTION * torture)
    assert (acts == "kidnapping+killing").sum() == round(KILLED_AFTER_KIDNAPPING * kidnap)
    same = ["given_names", "surname1", "surname2", "victim_age", "municipality", "victim_role"]
    assert (pairs[same].nunique() == 1).all().all()
    gap = pairs["event_date"].agg(lambda d: (d.max() - d.min()).days)
    assert (gap[acts == "arbitrary_detention+torture"] == 0).all()
    assert gap[acts == "kidnapping+killing"].between(0, 60).all()
    # both acts of one victim on one list: two records a linkage must keep apart
    rec = full.records[full.records["_person_id"].notna()]
    per_list = rec.groupby(["source", "_person_id"])["_event_id"].nunique()
    assert (per_list == 2).sum() > 10


def test_names_have_namesakes(full: co.ColombiaScenario) -> None:
    ev = full.events.drop_duplicates("person_id")
    first_given = ev["given_names"].str.split(" ").str[0]
    # as in real registers a few names are common: many victims share name and first surname
    key = first_given + " " + ev["surname1"]
    shared = key.map(key.value_counts()) > 1
    assert 0.1 < shared.mean() < 0.6
    assert ev["surname1"].value_counts().iloc[0] > 3 * ev["surname1"].value_counts().median()
