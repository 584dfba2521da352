"""Choices the tools make before building a runner."""
import torch


def select_dist_backend(cfg):
    """Use NCCL with CUDA and gloo without, unless the config names a backend itself.

    Args:
        cfg (mmengine.Config): The config; ``cfg.env_cfg.dist_cfg.backend`` is filled in place.

    Returns:
        str: The backend in use.
    """
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if not torch.cuda.is_available() and dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    dist_cfg.setdefault('backend', 'nccl')
    return dist_cfg['backend']
