"""The scenario's places: eight Mexican states and a few municipalities in each.

State and municipality names are real; the codes are INEGI's geostatistical codes
(two-digit entidad, five-digit entidad + municipio) as recalled for this scenario,
not downloaded: check them against INEGI's Catálogo Único de Claves de Áreas
Geoestadísticas before any real use. Every number here (sizes, coordinates of the
meeting places) is synthetic or approximate and says nothing about the real places.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MUNICIPALITIES", "STATES", "Municipality", "geography_csv"]


@dataclass(frozen=True)
class Municipality:
    """One municipality (alcaldía in Mexico City): its INEGI code, state and a meeting point."""

    code: str  # five-digit INEGI code: state (2) + municipality (3)
    label: str
    state: str  # two-digit INEGI state code
    lat: float  # approximate centre, for the synthetic meeting places
    lon: float
    weight: float  # synthetic share of the network's reachable population (before scaling)


# two-digit INEGI code -> name
STATES: dict[str, str] = {
    "08": "Chihuahua",
    "09": "Ciudad de México",
    "14": "Jalisco",
    "19": "Nuevo León",
    "20": "Oaxaca",
    "21": "Puebla",
    "30": "Veracruz de Ignacio de la Llave",
    "31": "Yucatán",
}

MUNICIPALITIES: tuple[Municipality, ...] = (
    Municipality("08019", "Chihuahua", "08", 28.64, -106.09, 3.0),
    Municipality("08037", "Juárez", "08", 31.69, -106.42, 4.0),
    Municipality("08017", "Cuauhtémoc", "08", 28.41, -106.87, 0.8),
    Municipality("09003", "Coyoacán", "09", 19.35, -99.16, 5.0),
    Municipality("09007", "Iztapalapa", "09", 19.36, -99.06, 6.0),
    Municipality("09015", "Cuauhtémoc", "09", 19.43, -99.15, 9.0),
    Municipality("09016", "Miguel Hidalgo", "09", 19.43, -99.20, 4.0),
    Municipality("14039", "Guadalajara", "14", 20.67, -103.35, 7.0),
    Municipality("14120", "Zapopan", "14", 20.72, -103.39, 4.0),
    Municipality("14098", "San Pedro Tlaquepaque", "14", 20.64, -103.31, 2.0),
    Municipality("14067", "Puerto Vallarta", "14", 20.62, -105.23, 2.0),
    Municipality("19039", "Monterrey", "19", 25.67, -100.31, 7.0),
    Municipality("19026", "Guadalupe", "19", 25.68, -100.26, 3.0),
    Municipality("19046", "San Nicolás de los Garza", "19", 25.74, -100.30, 2.5),
    Municipality("20067", "Oaxaca de Juárez", "20", 17.06, -96.73, 2.5),
    Municipality("20043", "Heroica Ciudad de Juchitán de Zaragoza", "20", 16.43, -95.02, 1.2),
    Municipality("20515", "Santo Domingo Tehuantepec", "20", 16.32, -95.24, 0.6),
    Municipality("21114", "Puebla", "21", 19.04, -98.21, 7.0),
    Municipality("21119", "San Andrés Cholula", "21", 19.05, -98.30, 1.5),
    Municipality("21156", "Tehuacán", "21", 18.46, -97.39, 1.5),
    Municipality("30087", "Xalapa", "30", 19.54, -96.91, 4.0),
    Municipality("30193", "Veracruz", "30", 19.17, -96.13, 4.0),
    Municipality("30039", "Coatzacoalcos", "30", 18.13, -94.46, 2.0),
    Municipality("31050", "Mérida", "31", 20.97, -89.62, 4.5),
    Municipality("31102", "Valladolid", "31", 20.69, -88.20, 0.8),
    Municipality("31096", "Tizimín", "31", 21.14, -88.15, 0.5),
)


def geography_csv() -> bytes:
    """The place hierarchy as a reference table: municipality, state (one row per municipality)."""
    lines = ["municipality,state"] + [f"{m.code},{m.state}" for m in MUNICIPALITIES]
    return ("\n".join(lines) + "\n").encode()
