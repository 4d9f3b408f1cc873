"""The offline HTML release report and its inline SVG charts."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd

from citizendata.publish.charts import choropleth, fmt_number, interval_chart
from citizendata.publish.report import render_report, status_banner

NAN = float("nan")
HASH_A = "sha256:" + "a1" * 32
HASH_B = "sha256:" + "b2" * 32
QUALITY = '<section class="quality"><h2>Quality and engagement</h2><p>Rated &amp; checked.</p></section>'


def _square(x0: float, y0: float, size: float = 1.0) -> list[list[float]]:
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


def _boundaries(codes: tuple[str, str] = ("A", "B")) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": codes[0]},
         "geometry": {"type": "Polygon", "coordinates": [_square(36.0, -1.0)]}},
        {"type": "Feature", "properties": {"code": codes[1]},
         "geometry": {"type": "Polygon", "coordinates": [_square(37.0, -1.0)]}},
    ]}


def _table(area_b: str = "B") -> pd.DataFrame:
    rows = [
        # sex, area, value, se, lo, hi, n, flag, conf
        ("_T", "_T", 52.5, 1.2, 50.1, 54.9, 900, "", "F"),
        ("F", "_T", 60.25, 2.0, 56.3, 64.2, 500, "", "F"),
        ("M", "_T", 44.0, 2.5, 39.1, 48.9, 400, "caution", "F"),
        ("_U", "_T", NAN, NAN, NAN, NAN, 3, "low_n", "C"),
        ("_T", "A", 48.0, 1.5, 45.1, 50.9, 600, "", "F"),
        ("_T", area_b, NAN, NAN, NAN, NAN, 4, None, "C"),
        ("F", "A", 55.0, 3.0, 49.1, 60.9, 300, "unreliable", "F"),
        # Secondary suppression that still carries a value: it must never be printed.
        ("F", area_b, 77.77, 9.0, 60.0, 95.0, 2, "", "D"),
    ]
    return pd.DataFrame(rows, columns=["sex", "area", "value", "se", "ci_low", "ci_high", "n",
                                       "flag", "conf_status"])


def _render(project: str = "Water Watch", area_b: str = "B", df: pd.DataFrame | None = None,
            status: str = "published", **kw: Any) -> str:
    release = {"project": project, "initiative": "Community water points", "version": "v1",
               "status": status, "dates": {"Reference period": "2025", "Released": "2026-03-01"},
               "sdg_series": ["SH_H2O_SAFE"], "provenance": {"snapshot": HASH_A, "spec": HASH_B}}
    indicators = [
        {"name": "Households with safe water", "unit": "percent", "sdg_series": "SH_H2O_SAFE",
         "headline": {"value": 52.5, "ci_low": 50.1, "ci_high": 54.9, "n": 900},
         "estimates": _table(area_b) if df is None else df, "dimensions": ["sex", "area"]},
        {"name": "Water points working", "unit": "percent", "sdg_series": "",
         "headline": {"value": 81.0, "ci_low": 77.0, "ci_high": 85.0, "n": 120},
         "estimates": pd.DataFrame({"sex": ["_T"], "value": [81.0], "se": [2.0], "ci_low": [77.0],
                                    "ci_high": [85.0], "n": [120], "flag": [""],
                                    "conf_status": ["F"]}),
         "dimensions": ["sex"]},
    ]
    engagement = {"stages": [{"stage": "design", "group": "planning", "level": 4,
                              "level_name": "shared decision-making", "evidence": "minutes"},
                             {"stage": "collect", "group": "collection", "level": None,
                              "level_name": None, "evidence": ""}],
                  "meets_threshold": True, "p4t_category": "engagement", "p4t_reasons": ["why"]}
    args: dict[str, Any] = {"boundaries": _boundaries(("A", area_b)), "area_dimension": "area"}
    args.update(kw)
    return render_report(release, indicators, quality_html=QUALITY, engagement=engagement,
                         methods="Weighted estimates.\n\nCIs by Taylor linearisation.",
                         references=["UN Statistics Division (2024).",
                                     {"text": "Copenhagen Framework", "url": "https://example.org/cf"}],
                         **args)


class _Refs(HTMLParser):
    """Every attribute value and every <style> text, for checks on external references."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.extend((tag, k, v or "") for k, v in attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.I)
_CSS_EXTERNAL = re.compile(r"url\(\s*['\"]?\s*(?!#)|@import", re.I)


def test_document_has_no_external_references() -> None:
    html = _render()
    assert html.startswith("<!doctype html>")
    p = _Refs()
    p.feed(html)
    for tag, name, value in p.attrs:
        if name in ("src", "href", "xlink:href", "action", "srcset", "data", "poster", "xmlns"):
            assert not _EXTERNAL.match(value), (tag, name, value)
        if name == "style":
            assert not _CSS_EXTERNAL.search(value), (tag, value)
        # Only in-document url(#id) references, e.g. the map's hatch pattern.
        for ref in re.findall(r"url\(([^)]*)\)", value):
            assert ref.strip("'\" ").startswith("#"), (tag, name, value)
    assert p.styles and not any(_CSS_EXTERNAL.search(s) for s in p.styles)
    assert "<script" not in html.lower()
    assert not any(name == "src" for _, name, _ in p.attrs)


def test_document_contents() -> None:
    html = _render()
    assert html.count("<svg") == 3  # sex and area charts and the map; a total-only table has none
    assert 'class="area"' in html and 'fill-rule="evenodd"' in html
    for name in ("Households with safe water", "Water points working"):
        assert name in html
    assert ">suppressed<" in html and "suppressed (secondary)" in html
    assert "77.77" not in html and "77.8" not in html  # the D cell's leaked value stays hidden
    assert QUALITY in html
    assert HASH_A in html and HASH_B in html
    assert "Status: Published v1" in html
    assert "use with caution" in html and "unreliable" in html and "low sample size" not in html
    assert "52.5" in html and "50.1 to 54.9" in html and "n = 900" in html
    assert "https://example.org/cf" in html and 'href="https://' not in html


def test_draft_banner_and_no_map_without_boundaries() -> None:
    html = _render(status="draft", boundaries=None)
    assert "Draft — not for publication" in html
    assert 'class="area"' not in html and html.count("<svg") == 2
    assert status_banner("published", "v2") == ("Published v2", "published")
    assert status_banner("release", "v3") == ("Release v3", "published")


def test_escaping_of_project_name_and_area_code() -> None:
    evil = "<script>alert(1)</script>"
    html = _render(project=evil, area_b=evil)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    svg = choropleth(_boundaries(("A", evil)), {"A": 1.0, evil: None}, evil)
    assert "<script" not in svg and "&lt;script&gt;" in svg


def test_determinism_and_row_order_independence() -> None:
    first = _render()
    assert first == _render()
    shuffled = _table().sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert _render(df=shuffled) == first


def test_fixed_float_formatting() -> None:
    assert fmt_number(0.1 + 0.2) == "0.3"
    assert fmt_number(-0.0001, 2) == "0.00"
    assert fmt_number(np.float64(2.5), 2) == "2.50"
    assert fmt_number(NAN) == "—" and fmt_number(None) == "—" and fmt_number(pd.NA) == "—"
    html = _render()
    assert "60.2" in html or "60.3" in html  # 60.25 at one decimal, not repr'd
    assert "60.25" not in html


def test_choropleth_two_squares_one_suppressed() -> None:
    svg = choropleth(_boundaries(), {"A": 10.0, "B": None}, "Map")
    paths = re.findall(r"<path [^>]*>", svg)
    assert len(paths) == 2
    hatched = [p for p in paths if "url(#" in p]
    assert len(hatched) == 1
    assert "<pattern" in svg and 'class="legend"' in svg
    assert "Class 1: 10.0 to 10.0" in svg and ">suppressed<" in svg
    assert "in 1 quantile class;" in svg and "Class 2" not in svg
    assert "<title" in svg and "<desc" in svg and 'role="img"' in svg
    # Squares one degree apart keep their shape: equal widths after projection.
    xs = [sorted({float(v) for v in re.findall(r"[ML]([-\d.]+),", p)}) for p in paths]
    assert abs((xs[0][-1] - xs[0][0]) - (xs[1][-1] - xs[1][0])) < 0.2


def test_choropleth_multipolygon_with_hole_and_quantiles() -> None:
    outer, hole = _square(0.0, 0.0, 4.0), _square(1.0, 1.0, 2.0)
    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "M"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[outer, hole], [_square(5.0, 0.0)]]}},
    ] + [{"type": "Feature", "properties": {"code": f"Q{i}"},
          "geometry": {"type": "Polygon", "coordinates": [_square(float(i), 6.0)]}} for i in range(5)]}
    values: dict[str, float | None] = {f"Q{i}": float(i) for i in range(5)}
    svg = choropleth(geo, values, "Holes")
    multi = re.search(r'<path class="area" d="([^"]*)" fill="([^"]*)" fill-rule="evenodd"', svg)
    assert multi is not None
    assert multi.group(1).count("M") == 3  # outer ring, hole, second polygon
    assert multi.group(2).startswith("url(#")  # "M" has no value: hatched as no data
    assert ">no data<" in svg
    fills = set(re.findall(r'fill="(#[0-9a-f]{6})" fill-rule', svg))
    assert len(fills) == 5  # five quantile classes of five distinct values


def test_interval_chart_monotone_and_suppressed_gap() -> None:
    rows = [
        {"label": "low", "value": 10.0, "ci_low": 8.0, "ci_high": 12.0, "n": 50, "flag": "",
         "conf_status": "F"},
        {"label": "high", "value": 30.0, "ci_low": 25.0, "ci_high": 35.0, "n": 50,
         "flag": "unreliable", "conf_status": "F"},
        {"label": "hidden", "value": 99.0, "ci_low": 90.0, "ci_high": 110.0, "n": 2, "flag": "",
         "conf_status": "C"},
    ]
    svg = interval_chart(rows, "label", "By group")
    cis = [tuple(map(float, m)) for m in re.findall(r'class="ci" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', svg)]
    dots = [float(m) for m in re.findall(r'class="est" cx="([\d.]+)"', svg)]
    assert len(cis) == 2 and len(dots) == 2
    assert cis[0][0] < cis[1][0] and cis[0][1] < cis[1][1] and dots[0] < dots[1]
    assert cis[0][0] < dots[0] < cis[0][1]
    assert "suppressed" in svg and "99.0" not in svg and "110" not in svg
    assert "unreliable" in svg and 'aria-labelledby="' in svg and "<title id=" in svg
    assert svg == interval_chart(rows, "label", "By group")


def test_nullable_dtypes_render_like_numpy_ones() -> None:
    df = _table().astype({"value": "Float64", "se": "Float64", "ci_low": "Float64",
                          "ci_high": "Float64", "n": "Int64", "flag": "string",
                          "conf_status": "string", "sex": "category"})
    assert _render(df=df) == _render()
