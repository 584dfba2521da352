from .hierarchical_metric import HierarchicalMetric
from .region_metric import UnsupervisedRegionMetric

__all__ = ['HierarchicalMetric', 'UnsupervisedRegionMetric']
