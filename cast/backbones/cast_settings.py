"""CAST's settings: the arch table, the allowed argument values and the
checks and defaults of :class:`CAST`'s arguments (which keeps the constants
as class attributes)."""
from typing import Optional, Sequence, Tuple, Union

from .fps import BACKENDS

ARCH_ZOO = {
    **dict.fromkeys(['s', 'small'], {
        'embed_dims': 384, 'num_layers': [3, 3, 3, 2], 'num_heads': 12}),
    **dict.fromkeys(['sd', 'small-deep'], {
        'embed_dims': 384, 'num_layers': [6, 3, 3, 3], 'num_heads': 12}),
    **dict.fromkeys(['b', 'base'], {
        'embed_dims': 768, 'num_layers': [3, 3, 3, 2], 'num_heads': 12}),
    **dict.fromkeys(['bd', 'base-deep'], {
        'embed_dims': 768, 'num_layers': [6, 3, 3, 3], 'num_heads': 12}),
}
ESSENTIAL_KEYS = {'embed_dims', 'num_layers', 'num_heads'}
OUT_TYPES = ('featmap', 'cls_token', 'raw')
POS_EMBED_TYPES = ('learned', 'sincos')
FEATURE_RESIZES = ('bilinear', 'nearest')
SEG_CLUSTERS = (320, 160, 80, 40)
CLS_CLUSTERS = (64, 32, 16, 8)


def parse_arch(arch: Union[str, dict]) -> dict:
    """A copy of the :data:`ARCH_ZOO` entry named ``arch`` (any case), or of
    a checked custom dict."""
    if isinstance(arch, str):
        key = arch.lower()
        if key not in ARCH_ZOO:
            raise ValueError(f'CAST: arch {arch!r} is not in '
                             f'{sorted(set(ARCH_ZOO))}')
        return dict(ARCH_ZOO[key])
    if not isinstance(arch, dict):
        raise TypeError(f'CAST: arch must be a str or dict, got {arch!r}')
    missing = ESSENTIAL_KEYS - set(arch)
    if missing:
        raise ValueError(f'CAST: custom arch misses keys {sorted(missing)}'
                         f' (needs {sorted(ESSENTIAL_KEYS)})')
    layers = arch['num_layers']
    if isinstance(layers, int) or not all(
            isinstance(d, int) and d > 0 for d in layers):
        raise ValueError('CAST: arch num_layers must list a positive '
                         f'depth per stage, got {layers}')
    return dict(arch)


def resolve_settings(arch_settings: dict,
                     img_size: Union[int, Tuple[int, int]],
                     patch_size: int,
                     num_clusters: Optional[Sequence[int]],
                     out_indices: Union[int, Sequence[int]],
                     out_type: str,
                     out_strides: Sequence[int],
                     pos_embed_type: Optional[str],
                     feature_resize: Optional[str],
                     frozen_last_pool: Optional[bool],
                     fps_backend: str,
                     pool_num_heads: int) -> dict:
    """Check :class:`CAST`'s arguments and fill in their defaults.

    Args:
        arch_settings (dict): from :func:`parse_arch`.
        The others: as :class:`CAST`'s.

    Returns:
        dict: ``out_type``, ``num_clusters`` (list), ``out_indices`` (sorted
        list of stages in [0, L)), ``out_strides`` (list),
        ``pos_embed_type``, ``feature_resize``, ``frozen_last_pool``,
        ``img_size`` (h, w), ``patch_size`` and ``grid_size``
        (``ceil(img_size / patch_size)``).
    """
    embed_dims = arch_settings['embed_dims']
    depths = list(arch_settings['num_layers'])
    num_heads = arch_settings['num_heads']
    num_stages = len(depths)
    if out_type not in OUT_TYPES:
        raise ValueError(f'CAST: out_type must be one of '
                         f'{OUT_TYPES}, got {out_type!r}')
    is_cls = out_type == 'cls_token'
    if num_clusters is None:
        num_clusters = CLS_CLUSTERS if is_cls else SEG_CLUSTERS
    num_clusters = list(num_clusters)
    if len(num_clusters) != num_stages or not all(
            isinstance(k, int) and k > 0 for k in num_clusters):
        raise ValueError(
            f'CAST: num_clusters must be {num_stages} positive ints (one '
            f'per stage of num_layers={depths}), got {num_clusters}')

    if isinstance(out_indices, int):
        out_indices = [out_indices]
    out_indices = [i % num_stages if isinstance(i, int) and
                   -num_stages <= i < num_stages else None
                   for i in out_indices]
    if not out_indices or None in out_indices:
        raise ValueError(f'CAST: out_indices must be stage indices in '
                         f'[0, {num_stages}), got {out_indices}')
    out_strides = list(out_strides)
    if len(out_strides) != num_stages or not all(
            isinstance(s, int) and s > 0 for s in out_strides):
        raise ValueError(f'CAST: out_strides must be {num_stages} '
                         f'positive ints, got {out_strides}')

    if pos_embed_type is None:
        pos_embed_type = 'sincos' if is_cls else 'learned'
    if pos_embed_type not in POS_EMBED_TYPES:
        raise ValueError(f'CAST: pos_embed_type must be one of '
                         f'{POS_EMBED_TYPES}, got {pos_embed_type!r}')
    if feature_resize is None:
        feature_resize = 'nearest' if is_cls else 'bilinear'
    if feature_resize not in FEATURE_RESIZES:
        raise ValueError(f'CAST: feature_resize must be one of '
                         f'{FEATURE_RESIZES}, got {feature_resize!r}')
    if fps_backend not in BACKENDS:
        raise ValueError(f'CAST: fps_backend must be one of {BACKENDS}, '
                         f'got {fps_backend!r}')

    if patch_size != 8:
        raise ValueError(
            'CAST: the ConvStem has stride 8, got '
            f'patch_size={patch_size}')
    if embed_dims % 8 != 0 or embed_dims % pool_num_heads != 0:
        raise ValueError(
            f'CAST: embed_dims ({embed_dims}) must be divisible by 8 '
            f'(ConvStem) and by pool_num_heads ({pool_num_heads})')
    if embed_dims % num_heads != 0:
        raise ValueError(f'CAST: embed_dims ({embed_dims}) must be '
                         f'divisible by num_heads ({num_heads})')
    if pos_embed_type == 'sincos' and embed_dims % 4 != 0:
        raise ValueError('CAST: sin-cos position embedding needs '
                         f'embed_dims divisible by 4, got {embed_dims}')
    if isinstance(img_size, int):
        img_size = (img_size, img_size)
    if len(img_size) != 2:
        raise ValueError(f'CAST: img_size must be an int or (h, w), got '
                         f'{img_size}')
    img_size = tuple(img_size)
    if frozen_last_pool is None:
        frozen_last_pool = out_type != 'raw'
    return dict(
        out_type=out_type,
        num_clusters=num_clusters,
        out_indices=sorted(set(out_indices)),
        out_strides=out_strides,
        pos_embed_type=pos_embed_type,
        feature_resize=feature_resize,
        frozen_last_pool=frozen_last_pool,
        img_size=img_size,
        patch_size=patch_size,
        grid_size=tuple(-(-s // patch_size) for s in img_size))
