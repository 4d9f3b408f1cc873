"""The scenario's places: counties, wards and group ranches, with synthetic access figures.

County and ward names are real Kenyan place names used for illustration only. The
group ranch names are invented. Every number here (distances, sizes, coordinates)
is synthetic and says nothing about the real places.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COUNTIES", "RANCHES", "WARDS", "Ranch", "Ward", "geography_csv"]


@dataclass(frozen=True)
class Ward:
    """One ward: its county, a centre point and how far women live from a maternity ward."""

    name: str
    label: str
    county: str
    lat: float
    lon: float
    mean_distance_km: float  # synthetic mean distance from home to the nearest maternity ward
    women: int  # synthetic number of women aged 15-49 (before scaling)


@dataclass(frozen=True)
class Ranch:
    """One group ranch inside a ward."""

    name: str
    label: str
    ward: str
    share: float  # share of the ward's women living on this ranch


COUNTIES: dict[str, str] = {"kajiado": "Kajiado", "narok": "Narok", "samburu": "Samburu"}

WARDS: tuple[Ward, ...] = (
    Ward("kimana", "Kimana", "kajiado", -2.80, 37.53, 9.0, 5200),
    Ward("ildamat", "Ildamat", "kajiado", -1.95, 36.95, 12.0, 4100),
    Ward("magadi", "Magadi", "kajiado", -1.90, 36.28, 24.0, 3300),
    Ward("naroosura", "Naroosura", "narok", -1.55, 35.85, 15.0, 4200),
    Ward("siana", "Siana", "narok", -1.45, 35.10, 21.0, 3900),
    Ward("loita", "Loita", "narok", -1.75, 35.75, 34.0, 3600),
    Ward("wamba_east", "Wamba East", "samburu", 0.98, 37.35, 28.0, 3000),
    Ward("waso", "Waso", "samburu", 0.60, 37.60, 41.0, 2700),
    Ward("baragoi", "Baragoi", "samburu", 1.78, 36.79, 47.0, 3000),
)

# Invented names (illustrative); shares within a ward sum to one.
RANCHES: tuple[Ranch, ...] = (
    Ranch("ilchalai", "Ilchalai", "kimana", 0.45),
    Ranch("osupuko", "Osupuko", "kimana", 0.35),
    Ranch("enkii", "Enkii", "kimana", 0.20),
    Ranch("oloirien", "Oloirien", "ildamat", 0.60),
    Ranch("enkaji_narok", "Enkaji Narok", "ildamat", 0.40),
    Ranch("ol_donyo_keri", "Ol Donyo Keri", "magadi", 0.55),
    Ranch("enkare_pus", "Enkare Pus", "magadi", 0.45),
    Ranch("olmoti_sidai", "Olmoti Sidai", "naroosura", 0.50),
    Ranch("enkutoto_ai", "Enkutoto Ai", "naroosura", 0.50),
    Ranch("oltepesi", "Oltepesi", "siana", 0.40),
    Ranch("enkiteng", "Enkiteng", "siana", 0.35),
    Ranch("olkinyei", "Olkinyei", "siana", 0.25),
    Ranch("entim_sapuk", "Entim Sapuk", "loita", 0.60),
    Ranch("olosho_oibor", "Olosho Oibor", "loita", 0.40),
    Ranch("lkiroi", "Lkiroi", "wamba_east", 0.55),
    Ranch("ngare_nyiro", "Ngare Nyiro", "wamba_east", 0.45),
    Ranch("lorokushu", "Lorokushu", "waso", 0.50),
    Ranch("sereolipi_east", "Sereolipi East", "waso", 0.30),
    Ranch("lmarmaroi", "Lmarmaroi", "waso", 0.20),
    Ranch("lesirikan", "Lesirikan", "baragoi", 0.55),
    Ranch("nalingangor", "Nalingangor", "baragoi", 0.45),
)


def geography_csv() -> bytes:
    """The place hierarchy as a reference table: group_ranch, ward, county (one row per ranch)."""
    county = {w.name: w.county for w in WARDS}
    lines = ["group_ranch,ward,county"] + [f"{r.name},{r.ward},{county[r.ward]}" for r in RANCHES]
    return ("\n".join(lines) + "\n").encode()
