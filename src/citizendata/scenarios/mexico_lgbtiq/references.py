"""The reference table the project needs and the groupings its protection policy uses.

``geography`` rolls municipalities up to states; ``GENDER_GROUPS`` and
``ORIENTATION_GROUPS`` (and their tables ``identity_groups`` and ``orientation_groups``)
merge the self-identified categories into broader groups, for coarser tables (the
derived ``gender_group`` and ``orientation_group``) and for recoding microdata.
The groupings are the scenario's choice, to be agreed with the community.
"""

from __future__ import annotations

from citizendata.scenarios.mexico_lgbtiq.geography import geography_csv

__all__ = ["GENDER_GROUPS", "ORIENTATION_GROUPS", "REFERENCE_TABLES", "geography_csv",
           "identity_groups_csv", "orientation_groups_csv", "reference_bytes"]

GENDER_GROUPS: dict[str, str] = {
    "woman": "woman",
    "man": "man",
    "trans_woman": "trans_or_nonbinary",
    "trans_man": "trans_or_nonbinary",
    "non_binary": "trans_or_nonbinary",
    "other": "trans_or_nonbinary",
    "prefer_not_to_say": "prefer_not_to_say",
}
ORIENTATION_GROUPS: dict[str, str] = {
    "lesbian": "lesbian_or_gay",
    "gay": "lesbian_or_gay",
    "bisexual": "bisexual_or_pansexual",
    "pansexual": "bisexual_or_pansexual",
    "asexual": "other",
    "heterosexual": "other",
    "other": "other",
    "prefer_not_to_say": "prefer_not_to_say",
}




def _csv(header: str, rows: dict[str, str]) -> bytes:
    return ("\n".join([header, *(f"{k},{v}" for k, v in rows.items())]) + "\n").encode()


def identity_groups_csv() -> bytes:
    """gender_identity -> gender_group, one row per answer code (for the derived gender_group)."""
    return _csv("gender_identity,gender_group", GENDER_GROUPS)


def orientation_groups_csv() -> bytes:
    """sexual_orientation -> orientation_group, one row per answer code."""
    return _csv("sexual_orientation,orientation_group", ORIENTATION_GROUPS)


# name -> (kind, note) of the reference tables the project needs
REFERENCE_TABLES: dict[str, tuple[str, str]] = {
    "geography": ("geography", "municipality -> state (INEGI codes)"),
    "identity_groups": ("other", "gender identity -> broader group"),
    "orientation_groups": ("other", "sexual orientation -> broader group"),
}


def reference_bytes() -> dict[str, bytes]:
    """Every reference table's CSV bytes, by name."""
    return {"geography": geography_csv(), "identity_groups": identity_groups_csv(),
            "orientation_groups": orientation_groups_csv()}
