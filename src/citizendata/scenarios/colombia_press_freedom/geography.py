"""Colombia's departments and a few municipalities, with DIVIPOLA codes and natural regions.

DIVIPOLA (DANE's division político-administrativa) gives each department a two-digit
code and each municipality five digits (the department's two, then three). The
table embeds the 32 departments and Bogotá D.C., each department's capital and
a few municipalities where attacks on social leaders and journalists are
documented often. Every department is placed in one of the five natural regions
(San Andrés, insular, goes with the Caribbean). The ``weight`` of a department is
this scenario's relative share of violations there (invented, shaped after the
concentration in Cauca, Antioquia, Nariño, Valle and Norte de Santander that the
Defensoría's early-warning reports and Somos Defensores describe).

The codes were checked against DANE's DIVIPOLA list.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEPARTMENTS", "MUNICIPALITIES", "REGIONS", "Department", "Municipality",
           "department_of", "region_of"]

REGIONS: tuple[str, ...] = ("caribe", "pacifica", "andina", "orinoquia", "amazonia")
REGION_LABELS: dict[str, str] = {"caribe": "Caribe", "pacifica": "Pacífica", "andina": "Andina",
                                 "orinoquia": "Orinoquía", "amazonia": "Amazonía"}


@dataclass(frozen=True)
class Department:
    """A department (or Bogotá D.C.): DIVIPOLA code, name, natural region, weight."""

    code: str
    name: str
    region: str
    weight: float


@dataclass(frozen=True)
class Municipality:
    """A municipality: DIVIPOLA code (its first two digits are the department's), name."""

    code: str
    name: str
    weight: float

    @property
    def department(self) -> str:
        """The department's two-digit code."""
        return self.code[:2]


DEPARTMENTS: tuple[Department, ...] = (
    Department("05", "Antioquia", "andina", 12.0),
    Department("08", "Atlántico", "caribe", 2.0),
    Department("11", "Bogotá, D.C.", "andina", 4.0),
    Department("13", "Bolívar", "caribe", 4.0),
    Department("15", "Boyacá", "andina", 1.0),
    Department("17", "Caldas", "andina", 1.0),
    Department("18", "Caquetá", "amazonia", 2.5),
    Department("19", "Cauca", "pacifica", 16.0),
    Department("20", "Cesar", "caribe", 2.5),
    Department("23", "Córdoba", "caribe", 3.5),
    Department("25", "Cundinamarca", "andina", 1.5),
    Department("27", "Chocó", "pacifica", 3.0),
    Department("41", "Huila", "andina", 2.0),
    Department("44", "La Guajira", "caribe", 1.5),
    Department("47", "Magdalena", "caribe", 2.0),
    Department("50", "Meta", "orinoquia", 2.5),
    Department("52", "Nariño", "pacifica", 7.0),
    Department("54", "Norte de Santander", "andina", 6.0),
    Department("63", "Quindío", "andina", 0.5),
    Department("66", "Risaralda", "andina", 1.0),
    Department("68", "Santander", "andina", 2.0),
    Department("70", "Sucre", "caribe", 1.0),
    Department("73", "Tolima", "andina", 1.5),
    Department("76", "Valle del Cauca", "pacifica", 8.0),
    Department("81", "Arauca", "orinoquia", 3.0),
    Department("85", "Casanare", "orinoquia", 1.0),
    Department("86", "Putumayo", "amazonia", 4.0),
    Department("88", "Archipiélago de San Andrés, Providencia y Santa Catalina", "caribe", 0.1),
    Department("91", "Amazonas", "amazonia", 0.3),
    Department("94", "Guainía", "amazonia", 0.3),
    Department("95", "Guaviare", "amazonia", 1.0),
    Department("97", "Vaupés", "amazonia", 0.2),
    Department("99", "Vichada", "orinoquia", 0.5),
)

# Capitals (xx001) and municipalities with many documented attacks; weights within department.
MUNICIPALITIES: tuple[Municipality, ...] = (
    Municipality("05001", "Medellín", 3.0), Municipality("05045", "Apartadó", 1.5),
    Municipality("05154", "Caucasia", 1.5), Municipality("05837", "Turbo", 1.0),
    Municipality("08001", "Barranquilla", 3.0), Municipality("08758", "Soledad", 1.0),
    Municipality("11001", "Bogotá, D.C.", 1.0),
    Municipality("13001", "Cartagena de Indias", 2.0), Municipality("13430", "Magangué", 1.0),
    Municipality("15001", "Tunja", 1.0),
    Municipality("17001", "Manizales", 1.0),
    Municipality("18001", "Florencia", 2.0), Municipality("18753", "San Vicente del Caguán", 1.5),
    Municipality("19001", "Popayán", 2.0), Municipality("19698", "Santander de Quilichao", 2.0),
    Municipality("19050", "Argelia", 1.0), Municipality("19821", "Toribío", 1.5),
    Municipality("19212", "Corinto", 1.0),
    Municipality("20001", "Valledupar", 2.0), Municipality("20011", "Aguachica", 1.0),
    Municipality("23001", "Montería", 2.0), Municipality("23466", "Montelíbano", 1.5),
    Municipality("25754", "Soacha", 1.0), Municipality("25001", "Agua de Dios", 0.3),
    Municipality("27001", "Quibdó", 2.0), Municipality("27361", "Istmina", 1.0),
    Municipality("41001", "Neiva", 2.0), Municipality("41551", "Pitalito", 1.0),
    Municipality("44001", "Riohacha", 1.5), Municipality("44430", "Maicao", 1.0),
    Municipality("47001", "Santa Marta", 2.0), Municipality("47189", "Ciénaga", 1.0),
    Municipality("50001", "Villavicencio", 2.0), Municipality("50006", "Acacías", 0.7),
    Municipality("52001", "Pasto", 1.5), Municipality("52835", "San Andrés de Tumaco", 2.0),
    Municipality("52356", "Ipiales", 0.7),
    Municipality("54001", "Cúcuta", 2.0), Municipality("54810", "Tibú", 2.0),
    Municipality("54498", "Ocaña", 1.0),
    Municipality("63001", "Armenia", 1.0),
    Municipality("66001", "Pereira", 1.0),
    Municipality("68001", "Bucaramanga", 1.5), Municipality("68081", "Barrancabermeja", 1.5),
    Municipality("70001", "Sincelejo", 1.0),
    Municipality("73001", "Ibagué", 1.5), Municipality("73268", "Espinal", 0.5),
    Municipality("76001", "Cali", 2.5), Municipality("76109", "Buenaventura", 2.0),
    Municipality("76520", "Palmira", 1.0),
    Municipality("81001", "Arauca", 1.5), Municipality("81736", "Saravena", 1.5),
    Municipality("85001", "Yopal", 1.5), Municipality("85010", "Aguazul", 0.5),
    Municipality("86001", "Mocoa", 1.0), Municipality("86568", "Puerto Asís", 1.5),
    Municipality("88001", "San Andrés", 1.0),
    Municipality("91001", "Leticia", 1.0),
    Municipality("94001", "Inírida", 1.0),
    Municipality("95001", "San José del Guaviare", 1.0),
    Municipality("97001", "Mitú", 1.0),
    Municipality("99001", "Puerto Carreño", 1.0), Municipality("99773", "Cumaribo", 1.0),
)

_DEPT = {d.code: d for d in DEPARTMENTS}


def department_of(municipality: str) -> str:
    """The department code of a municipality code."""
    return municipality[:2]


def region_of(department: str) -> str:
    """The natural region of a department code."""
    return _DEPT[department].region
