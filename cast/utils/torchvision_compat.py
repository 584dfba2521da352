"""Make ``import torchvision`` work beside a CPU-only torch.

MMPretrain imports torchvision (transforms, box utilities). PyPI's torchvision wheel is a CUDA
build: beside the CPU build of torch its C++ library fails to load, which torchvision tolerates,
except that ``torchvision/_meta_registrations.py`` then registers fake kernels for the missing
``torchvision::nms`` and ``torchvision::qnms`` operators and the import fails with "operator
torchvision::nms does not exist". :func:`ensure_torchvision_importable` defines those two operators
with a plain PyTorch CPU kernel before torchvision is imported. The rest of torchvision's C++ ops
stay unavailable (they raise torchvision's own "Couldn't load custom C++ ops" error); nothing in
this project uses them. With a matching CUDA build of torch the real library loads and this
function does nothing.
"""
import importlib.util
import os.path as osp

import torch

_LIBRARY = None  # keeps the operator definition alive


def nms_cpu(dets, scores, iou_threshold):
    """Greedy non-maximum suppression.

    Args:
        dets (Tensor): (N, 4) boxes as (x1, y1, x2, y2).
        scores (Tensor): (N, ) scores.
        iou_threshold (float): Boxes overlapping a kept box by more than this are dropped.

    Returns:
        Tensor: (M, ) int64 indices of kept boxes, by decreasing score.
    """
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    keep = []
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool, device=dets.device)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        w = (torch.minimum(x2, x2[i]) - torch.maximum(x1, x1[i])).clamp(min=0)
        h = (torch.minimum(y2, y2[i]) - torch.maximum(y1, y1[i])).clamp(min=0)
        inter = w * h
        iou = inter / (areas + areas[i] - inter).clamp(min=torch.finfo(dets.dtype).tiny)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.int64, device=dets.device)


def ensure_torchvision_importable():
    """Define ``torchvision::nms``/``qnms`` when torchvision's own C++ library cannot be loaded."""
    global _LIBRARY
    spec = importlib.util.find_spec('torchvision')
    if spec is None or _LIBRARY is not None or hasattr(torch.ops.torchvision, 'nms'):
        return
    library = osp.join(osp.dirname(spec.origin), '_C.so')
    try:
        torch.ops.load_library(library)
        return
    except (OSError, ImportError, RuntimeError):
        pass
    _LIBRARY = torch.library.Library('torchvision', 'DEF')
    for name in ('nms', 'qnms'):
        _LIBRARY.define(f'{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    _LIBRARY.impl('nms', nms_cpu, 'CPU')
    _LIBRARY.impl('qnms', lambda dets, scores, thr: nms_cpu(
        dets.dequantize(), scores.dequantize(), thr), 'CPU')
