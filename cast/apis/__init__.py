"""Inference in one call: MMSeg's ``init_model`` / ``inference_model`` / inferencer for our
configs (every level of a hierarchical model), and CAST's region hierarchy for any CAST config."""
from .hierarchical_inferencer import HierarchicalInferencer
from .inference import inference_model, init_model, show_result
from .region_hierarchy import HierarchyPredictor, add_region_hierarchy, init_region_model

__all__ = [
    'HierarchicalInferencer', 'HierarchyPredictor', 'add_region_hierarchy', 'inference_model',
    'init_model', 'init_region_model', 'show_result'
]
