"""CAST's nested regions as pictures: a child region shares its parent's hue."""
import colorsys

import numpy as np

from cast.visualization import hierarchy_panel, hierarchy_tiles, nested_colors, parent_of
from cast.visualization.drawing import header_bar
from cast.visualization.hierarchy import tile_grid


def hue_of(rgb):
    return colorsys.rgb_to_hsv(*(np.asarray(rgb) / 255.))[0]


def test_nested_colours_children_share_their_parents_hue():
    rng = np.random.default_rng(0)
    fine = rng.integers(0, 40, (32, 32)).repeat(2, 0).repeat(2, 1)
    mid = fine % 10        # every fine region lies in one mid region
    coarse = mid % 3       # and every mid region in one coarse region
    top = np.zeros_like(coarse)
    levels = [fine, mid, coarse, top]
    pictures = nested_colors(levels, max_spread=0.12)
    assert [p.shape for p in pictures] == [(64, 64, 3)] * 4
    assert (pictures[3] == pictures[3][0, 0]).all()  # one region above the root: grey
    roots = {int(r): hue_of(pictures[2][coarse == r][0]) for r in np.unique(coarse)}
    assert len(roots) == 3 and min(abs(a - b) for a in roots.values()
                                   for b in roots.values() if a != b) > 0.3
    for index, (child_map, parent_map) in enumerate(((fine, mid), (mid, coarse))):
        child_pic = pictures[index]
        parents = parent_of(child_map, parent_map)
        for child, parent in parents.items():
            root = int(coarse[child_map == child][0])
            h = hue_of(child_pic[child_map == child][0])
            diff = abs((h - roots[root] + 0.5) % 1.0 - 0.5)
            assert diff <= 0.06 + 1e-3  # within the root's interval (max_spread / 2)


def test_hierarchy_tiles_caption_every_level_with_its_region_count():
    fine = np.arange(64).reshape(8, 8) % 12
    levels = [fine, fine % 4, fine % 2]
    tiles = hierarchy_tiles(levels)
    assert [caption for caption, _ in tiles] == ['superpixels (12)', 'stage1 (4)', 'stage2 (2)']
    for (_, picture), level in zip(tiles, levels):
        assert picture.shape == (8, 8, 3) and picture.dtype == np.uint8
        # region boundaries are black, inside a region the colour is its own
        edge = np.zeros(level.shape, bool)
        edge[:, :-1] |= level[:, :-1] != level[:, 1:]
        edge[:-1] |= level[:-1] != level[1:]
        assert (picture[edge] == 0).all() and (picture[~edge].max(axis=1) > 0).all()


def test_one_tile_layout_a_row_or_a_box():
    """The tool's panel (one row at the tiles' size) and the visualizer's strip (fitted into a
    box, one or two rows) lay out the same captioned tiles."""
    fine = np.arange(48 * 64).reshape(48, 64) // 97
    tiles = hierarchy_tiles([fine, fine // 4, fine // 16])
    image = np.full((48, 64, 3), 128, np.uint8)
    panel = hierarchy_panel(image, tiles, gap=4)
    cap_h = panel.shape[0] - 48
    assert panel.shape == (48 + cap_h, 4 * 64 + 3 * 4, 3)
    for k, (_, picture) in enumerate(tiles, start=1):  # after the image, at their own size
        np.testing.assert_array_equal(panel[cap_h:, k * 68:k * 68 + 64], picture)
    wide = tile_grid(tiles, 0.4, gap=4, box=(60, 400))  # one row, tiles scaled down
    tall = tile_grid(tiles, 0.4, gap=4, box=(200, 150))  # two rows fit larger tiles
    assert wide.shape == (60, 400, 3) and tall.shape == (200, 150, 3)
    tw = int(64 * (60 - header_bar('x', 10, 0.4).shape[0]) / 48)  # the row's height bounds
    assert (wide[:, :3 * tw + 8] != 255).any(axis=2).mean() > 0.5
    assert (wide[:, 3 * tw + 8:] == 255).all()
    assert (tall[100:] != 255).any()  # the second row is used
