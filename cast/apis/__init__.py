"""Inference in one call: MMSeg's ``init_model`` / ``inference_model`` / inferencer for our
configs (every level of a hierarchical model), CAST's region hierarchy for any CAST config, and
test-time adaptation of a recognition CAST to images."""
from .adaptation import adapt_images, init_recognition_model, list_inputs, load_image
from .hierarchical_inferencer import HierarchicalInferencer
from .inference import inference_model, init_model, show_result
from .region_hierarchy import HierarchyPredictor, add_region_hierarchy, init_region_model

__all__ = [
    'HierarchicalInferencer', 'HierarchyPredictor', 'adapt_images', 'add_region_hierarchy',
    'inference_model', 'init_model', 'init_recognition_model', 'init_region_model',
    'list_inputs', 'load_image', 'show_result'
]
