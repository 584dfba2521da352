"""Every picture the project draws: each level's prediction beside its ground truth
(:class:`HierarchicalSegVisualizer`), CAST's nested regions (:mod:`.hierarchy`) and their change
under test-time adaptation (:func:`adaptation_picture`)."""
from .adaptation import adaptation_picture
from .hierarchical_visualizer import HierarchicalSegVisualizer
from .hierarchy import hierarchy_panel, hierarchy_tiles, nested_colors, overlay, parent_of

__all__ = [
    'HierarchicalSegVisualizer', 'adaptation_picture', 'hierarchy_panel', 'hierarchy_tiles',
    'nested_colors', 'overlay', 'parent_of'
]
