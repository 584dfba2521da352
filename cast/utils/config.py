"""Reading a config's pipelines: the transforms a tool needs outside a data loader."""
from typing import Optional

from mmengine.config import Config

#: Pipeline keys searched (in order) for the config's Superpixels settings.
PIPELINE_SOURCES = ('test_dataloader', 'val_dataloader', 'train_dataloader')


def find_transform(node, type_name: str) -> Optional[dict]:
    """The first ``dict(type=type_name, ...)`` nested anywhere in ``node`` (a config, a
    dataloader, a pipeline), as a new dict; None when there is none."""
    if isinstance(node, dict):
        if node.get('type') == type_name:
            return dict(node)
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = find_transform(child, type_name)
        if found is not None:
            return found
    return None


def superpixels_from_config(cfg: Config, **overrides):
    """The config's ``Superpixels`` transform (test, val, then train pipeline; defaults when
    none), with ``overrides`` applied.

    Args:
        cfg (Config): A model config.
        **overrides: Superpixels arguments that win (None values are ignored), e.g.
            ``num_superpixels=196``.

    Returns:
        :class:`~cast.datasets.transforms.Superpixels`: The transform.
    """
    from cast.datasets.transforms import Superpixels  # cast.datasets imports cast.utils

    args = {}
    for key in PIPELINE_SOURCES:
        found = find_transform(cfg.get(key), 'Superpixels')
        if found is not None:
            found.pop('type')
            args = found
            break
    args.update({k: v for k, v in overrides.items() if v is not None})
    if args.get('num_superpixels') is not None:
        args.pop('area_per_superpixel', None)
    return Superpixels(**args)
