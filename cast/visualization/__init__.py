"""Every picture the project draws: each level's prediction beside its ground truth
(:class:`HierarchicalSegVisualizer`) and CAST's nested regions (:mod:`.hierarchy`)."""
from .hierarchical_visualizer import HierarchicalSegVisualizer
from .hierarchy import hierarchy_panel, hierarchy_tiles, nested_colors, overlay, parent_of

__all__ = [
    'HierarchicalSegVisualizer', 'hierarchy_panel', 'hierarchy_tiles', 'nested_colors', 'overlay',
    'parent_of'
]
