"""Visualizers for hierarchical segmentation (every level's ground truth beside prediction)."""
from .hierarchical_visualizer import HierarchicalSegVisualizer

__all__ = ['HierarchicalSegVisualizer']
