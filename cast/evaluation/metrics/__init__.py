from .hierarchical_metric import HierarchicalMetric

__all__ = ['HierarchicalMetric']
