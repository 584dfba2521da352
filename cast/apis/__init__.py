"""Inference in one call: MMSeg's ``init_model`` / ``inference_model`` / inferencer for our
configs (every level of a hierarchical model), and CAST's region hierarchy for any CAST config."""
from .hierarchical_inferencer import HierarchicalInferencer, add_region_hierarchy
from .hierarchy_predictor import HierarchyPredictor, find_transform, superpixels_from_config
from .inference import inference_model, init_model, show_result

__all__ = [
    'HierarchicalInferencer', 'HierarchyPredictor', 'add_region_hierarchy', 'find_transform',
    'inference_model', 'init_model', 'show_result', 'superpixels_from_config'
]
