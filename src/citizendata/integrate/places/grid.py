"""A grid over the areas that answers most point-in-polygon queries by array lookup.

Each cell of a G×G grid over the areas' extent is either crossed by a boundary (then
its points get the exact STRtree test) or lies wholly inside one area, or outside all.
Cells crossed by a boundary are found from the boundaries' vertices, densified to less
than half a cell apart: a segment between two such vertices can only touch cells of
the 3×3 block around one of its ends, so marking those blocks marks every crossed
cell (and a few more). The unmarked cells split into 4-connected regions that no
boundary crosses, so each region lies in one area (or none): one exact test of a
representative point per region labels all its cells. A point in an unmarked cell is
answered by indexing; the answer is exact, not an approximation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["GridIndex"]

BOUNDARY = -2  # cell crossed by a boundary: test its points exactly
_MAX_CELLS = 8_000_000  # int32 labels: 32 MB at most


class GridIndex:
    """Cell → area position (-1 outside every area, -2 on a boundary: test exactly)."""

    def __init__(self, geometries: NDArray[np.object_],
                 exact: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.int64]],
                 cells_per_area: int = 64) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(geometries)
        n = max(len(geometries), 1)
        g = int(np.clip(cells_per_area * np.sqrt(n), 64, np.sqrt(_MAX_CELLS)))
        span = max(x1 - x0, y1 - y0) or 1.0
        self.x0, self.y0 = float(x0), float(y0)
        self.size = span / g * (1 + 1e-9)  # square cells; the extent fits inside
        self.nx = int(np.ceil((x1 - x0) / self.size)) + 1
        self.ny = int(np.ceil((y1 - y0) / self.size)) + 1
        marked = np.zeros((self.ny, self.nx), bool)
        edges = shapely.segmentize(shapely.boundary(geometries), self.size / 2)
        xy = shapely.get_coordinates(edges)
        ix, iy = self._cell(xy[:, 0], xy[:, 1])
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                marked[np.clip(iy + dy, 0, self.ny - 1), np.clip(ix + dx, 0, self.nx - 1)] = True
        regions, k = ndimage.label(~marked)  # 4-connected by default
        # one representative cell per region: its first cell in row-major order
        flat = regions.ravel()
        first = np.unique(flat, return_index=True)[1][1:]  # skip region 0 (the marked)
        ry, rx = np.divmod(first, self.nx)
        where = exact(self.x0 + (rx + 0.5) * self.size, self.y0 + (ry + 0.5) * self.size)
        lookup = np.concatenate([[BOUNDARY], where]).astype(np.int32)
        self.labels: NDArray[np.int32] = lookup[regions]
        self.regions = int(k)
        self.boundary_share = float(marked.mean())

    def _cell(self, x: NDArray[np.float64], y: NDArray[np.float64]
              ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        return (np.floor((x - self.x0) / self.size).astype(np.int64),
                np.floor((y - self.y0) / self.size).astype(np.int64))

    def lookup(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int32]:
        """Area position per point (-1 outside the grid or every area, -2: test exactly)."""
        with np.errstate(invalid="ignore"):
            ix, iy = self._cell(x, y)
        inside = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        out = np.full(x.size, -1, np.int32)
        out[inside] = self.labels[iy[inside], ix[inside]]
        return out
