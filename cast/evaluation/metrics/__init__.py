from .hierarchical_metric import HierarchicalMetric
from .prompt_metric import PromptMetric
from .region_metric import UnsupervisedRegionMetric

__all__ = ['HierarchicalMetric', 'PromptMetric', 'UnsupervisedRegionMetric']
