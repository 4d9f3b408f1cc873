"""Point-in-polygon: 10,000,000 points against 1,500 areas, vectorised vs a naive shapely loop.

Workload (issue 20): 1,500 areas (Voronoi cells of random seeds over a Kenya-sized
8° × 10° box, edges densified to ~190 vertices per area, as digitised boundaries have)
and 10,000,000 uniform points over a slightly larger box (about 4 % fall outside every
area). Target < 30 s on 2 cores. ``Areas.locate_index`` answers most points by grid
lookup and the rest with the STRtree (integrate.places.grid). Timed alternatives in the
same run: the naive loop everyone writes first (for each point, ``contains`` on each
area until one holds) on a sample, scaled; and the plain STRtree query with a predicate
on 1,000,000 points, scaled. Answers are compared with the naive loop on its sample.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely
from _common import write_results

from citizendata.integrate.places import Areas


def areas(n: int = 1500, seed: int = 20) -> Areas:
    rng = np.random.default_rng(seed)
    box = shapely.box(34.0, -5.0, 42.0, 5.0)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(34, 42, n), rng.uniform(-5, 5, n)]))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box))
    cells = shapely.segmentize(shapely.intersection(cells, box), 0.005)
    return Areas([f"A{i:04d}" for i in range(len(cells))], cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--sample", type=int, default=20_000, help="points of the naive loop")
    args = ap.parse_args()
    a = areas()
    rng = np.random.default_rng(1)
    x, y = rng.uniform(33.9, 42.1, args.points), rng.uniform(-5.1, 5.1, args.points)
    t0, c0 = time.perf_counter(), time.process_time()
    got = a.locate_index(x, y)  # the grid is built inside, on first use: timed too
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    assert a._grid is not None
    # plain STRtree with a predicate (no grid) on a million points, scaled
    m = min(1_000_000, args.points)
    t0, c0 = time.perf_counter(), time.process_time()
    tree = a._exact(x[:m], y[:m])
    scale = args.points / m
    t_tree, c_tree = (time.perf_counter() - t0) * scale, (time.process_time() - c0) * scale
    # the naive loop on a sample, scaled
    k = args.sample
    t0, c0 = time.perf_counter(), time.process_time()
    naive = np.full(k, -1)
    for i in range(k):
        p = shapely.Point(x[i], y[i])
        for j, g in enumerate(a.geometries):
            if g.covers(p):
                naive[i] = j
                break
    t_naive = (time.perf_counter() - t0) * args.points / k
    c_naive = (time.process_time() - c0) * args.points / k
    result = {
        "points": args.points, "areas": len(a),
        "vertices_per_area": round(float(shapely.get_num_coordinates(a.geometries).mean()), 1),
        "share_in_an_area": round(float((got >= 0).mean()), 4),
        "grid_cells": int(a._grid.labels.size),
        "grid_boundary_share": round(a._grid.boundary_share, 4),
        "seconds": round(t_ours, 2), "cpu_seconds": round(c_ours, 2),
        "points_per_second": round(args.points / t_ours),
        "strtree_only_seconds_scaled": round(t_tree, 1),
        "strtree_only_cpu_seconds_scaled": round(c_tree, 1),
        "naive_loop_seconds_scaled": round(t_naive, 0),
        "naive_loop_cpu_seconds_scaled": round(c_naive, 0), "naive_sample": k,
        "speedup_vs_naive": round(t_naive / t_ours, 0),
        "speedup_vs_naive_cpu": round(c_naive / c_ours, 0),
        "speedup_vs_strtree_only_cpu": round(c_tree / c_ours, 1),
        "agrees_with_naive_on_sample": bool((naive == got[:k]).all()),
        "agrees_with_strtree_on_first_million": bool((tree == got[:m]).all()),
    }
    write_results("places", result, list(result),
                  f"Point in polygon: {args.points:,} points, {len(a):,} areas")


if __name__ == "__main__":
    main()
