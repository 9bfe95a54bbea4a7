"""Fig. 7's panel (e), the most probable class per occluder position: one colour per class across
the whole figure (a class keeps its colour from row to row), each row's legend naming its classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from paperlab.interpret.occlusion import OcclusionMaps
from paperlab.papers.zeiler_fergus import occlude

NAMES = [f"class {k}" for k in range(10)]


def row(name: str, top_class: list[list[int]]) -> dict[str, Any]:
    classes = torch.tensor(top_class)
    n = classes.shape[0]
    maps = OcclusionMaps(activation=torch.rand(n, n), probability=torch.rand(n, n), top_class=classes,
                         top=torch.arange(n) * 4, left=torch.arange(n) * 4)
    return {"maps": maps, "pixels": np.random.default_rng(0).random((16, 16)), "projection": np.zeros((16, 16)),
            "target": int(classes[0, 0]), "channel": 0, "layer": "conv5", "name": name, "p_clean": 0.9}


def test_a_class_has_one_colour_in_every_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = []
    save = occlude.save_figure
    monkeypatch.setattr(occlude, "save_figure", lambda fig, path: (figures.append(fig), save(fig, path))[1])
    # class 3 is the second class of the first row and the first of the second: a colour by rank in
    # each row would give it two colours
    rows = [row("a", [[0, 0, 3, 3]] * 4), row("b", [[3, 3, 6, 6]] * 4), row("c", [[9, 6, 3, 0]] * 4)]
    occlude.occlusion_figure(rows, NAMES, square=4, path=tmp_path / "occlusion.png")
    (fig,) = figures
    panels = [ax for ax in fig.axes if ax.get_title().startswith("(e)")]
    assert len(panels) == 3
    colour_of: dict[str, tuple] = {}
    for ax, d in zip(panels, rows, strict=True):
        legend = {t.get_text(): to_rgba(h.get_facecolor()) for t, h in
                  zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles, strict=True)}
        classes = d["maps"].top_class
        assert list(legend) == [NAMES[c] for c in sorted(set(classes.flatten().tolist()))]  # the row's classes
        for label, colour in legend.items():
            assert colour_of.setdefault(label, colour) == colour, label  # the same in every row
        # and the map's cells are drawn in their class's colour
        cells = ax.collections[0].get_facecolor()[:, :3]
        expected = np.array([legend[NAMES[c]][:3] for c in classes.flatten().tolist()])
        assert np.allclose(cells, expected)
    assert len(set(colour_of.values())) == 4  # classes 0, 3, 6, 9: four distinct colours
    assert (tmp_path / "occlusion.png").is_file()


def test_class_colours_stay_distinct_for_many_classes() -> None:
    for n in (3, 10, 20, 60, 100):
        colours = occlude.class_colours(list(range(0, 2 * n, 2)))
        assert len(colours) == n and len(set(colours.values())) == n
