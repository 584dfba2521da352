"""MMSeg's inferencer for hierarchical models: every level returned, drawn and saved."""
import copy
import os.path as osp
import time
from typing import List, Optional

import mmcv
import mmengine
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from PIL import Image

from mmseg.apis import MMSegInferencer
from mmseg.registry import VISUALIZERS

from .inference import fallback_dataset_meta, inference_pipeline_config
from .region_hierarchy import add_region_hierarchy


class HierarchicalInferencer(MMSegInferencer):
    """:class:`mmseg.apis.MMSegInferencer` that keeps every level of a hierarchical model.

    Same interface (``__call__(inputs, return_datasamples=False, batch_size=1,
    return_vis=False, show=False, wait_time=0, out_dir='', img_out_dir='vis',
    pred_out_dir='pred', opacity=0.6)``), with these differences:

    - the checkpoint's whole ``dataset_meta`` is kept (levels, per-level classes and palettes,
      the hierarchy consistent decoding needs); the test pipeline loses every annotation loader;
    - ``predictions`` are, per image, ``{level: (H, W) array}`` for a hierarchical model (an
      (H, W) array otherwise), and ``pred_out_dir`` receives ``{level}/{name}.png`` label maps
      (the layout ``tools/eval_hierarchy.py`` scores);
    - pictures (``show``, ``out_dir``, ``return_vis``) are drawn by
      :class:`~cast.visualization.HierarchicalSegVisualizer`: the image, then every level with
      numbered tags and a legend; ``with_hierarchy=True`` adds CAST's regions beside the image
      and returns them as ``region_hierarchy`` in the data samples.

    Args:
        model (str | Config): Config file or object.
        weights (str, optional): Checkpoint file. Defaults to None.
        classes, palette: Override the checkpoint's ``classes`` / ``palette`` (the main or
            only level), as in MMSegInferencer. Default to None.
        dataset_name (str, optional): As in MMSegInferencer. Defaults to None.
        device (str, optional): Device; None picks CUDA when available. Defaults to None.
        scope (str): Registry scope. Defaults to 'mmseg'.
    """
    forward_kwargs: set = {'mode', 'out_dir', 'with_hierarchy'}
    visualize_kwargs: set = {'show', 'wait_time', 'img_out_dir', 'opacity', 'return_vis'}
    postprocess_kwargs: set = {'pred_out_dir', 'return_datasample'}

    def __init__(self, model, weights: Optional[str] = None, classes=None, palette=None,
                 dataset_name: Optional[str] = None, device: Optional[str] = None,
                 scope: Optional[str] = 'mmseg') -> None:
        super().__init__(model, weights, classes, palette, dataset_name, device, scope)
        if classes is not None or palette is not None:
            self.model.dataset_meta = dict(self.model.dataset_meta, **{
                k: v for k, v in (('classes', classes), ('palette', palette)) if v is not None})

    def _load_weights_to_model(self, model, checkpoint: Optional[dict], cfg) -> None:
        meta = None
        if checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)
            meta = checkpoint.get('meta', {}).get('dataset_meta')
        model.dataset_meta = meta if meta is not None else fallback_dataset_meta(model)

    def _init_pipeline(self, cfg):
        pipeline = inference_pipeline_config(cfg)
        pipeline[0] = dict(pipeline[0], type='InferencerLoader')
        return Compose(pipeline)

    def _init_visualizer(self, cfg):
        """The config's visualizer when it is a HierarchicalSegVisualizer, else one built
        with the config's visualizer arguments (e.g. MMSeg's SegLocalVisualizer's)."""
        vis_cfg = copy.deepcopy(cfg.get('visualizer') or dict())
        vis_cfg['type'] = 'HierarchicalSegVisualizer'
        vis_cfg['name'] = f'inferencer{time.time()}'
        return VISUALIZERS.build(vis_cfg)

    @torch.no_grad()
    def forward(self, inputs: dict, with_hierarchy: bool = False, **kwargs) -> list:
        """Predict a batch; with ``with_hierarchy`` also CAST's regions."""
        samples = self.model.test_step(inputs)
        if with_hierarchy:
            add_region_hierarchy(self.model, inputs, samples)
        return samples

    def visualize(self, inputs: list, preds: list, return_vis: bool = False, show: bool = False,
                  wait_time: int = 0, img_out_dir: str = '',
                  opacity: float = 0.6) -> Optional[List[np.ndarray]]:
        """Draw each prediction (every level); saved to ``img_out_dir/{name}.png``."""
        if not show and not img_out_dir and not return_vis:
            return None
        self.visualizer.dataset_meta = dict(self.model.dataset_meta)
        self.visualizer.alpha = opacity
        results = []
        for single_input, pred in zip(inputs, preds):
            if isinstance(single_input, str):
                img = mmcv.imread(single_input, channel_order='rgb')
                stem = osp.splitext(osp.basename(single_input))[0]
            else:
                img = np.ascontiguousarray(single_input[..., ::-1])
                stem = f'{self.num_visualized_imgs:08d}_vis'
            out_file = osp.join(img_out_dir, f'{stem}.png') if img_out_dir else None
            self.visualizer.add_datasample(stem, img, pred, draw_gt=False, draw_pred=True,
                                           show=show, wait_time=wait_time, out_file=out_file)
            if return_vis:
                results.append(self.visualizer.get_image())
            self.num_visualized_imgs += 1
        return results if return_vis else None

    def postprocess(self, preds: list, visualization: Optional[List[np.ndarray]],
                    return_datasample: bool = False, pred_out_dir: str = ''):
        """Data samples, or ``dict(predictions, visualization)``; label maps saved per level."""
        if return_datasample:
            return preds[0] if len(preds) == 1 else preds
        levels = self.model.dataset_meta.get('levels') or ()
        predictions = []
        for pred in preds:
            if levels and all(f'pred_seg_{lv}' in pred for lv in levels):
                maps = {lv: pred.get(f'pred_seg_{lv}').cpu().numpy().data[0] for lv in levels}
            else:
                maps = {None: pred.pred_sem_seg.cpu().numpy().data[0]}
            if pred_out_dir:
                path = pred.metainfo.get('img_path')
                stem = osp.splitext(osp.basename(path))[0] if isinstance(path, str) else \
                    f'{self.num_pred_imgs:08d}_pred'
                for level, label_map in maps.items():
                    folder = pred_out_dir if level is None else osp.join(pred_out_dir, level)
                    mmengine.mkdir_or_exist(folder)
                    Image.fromarray(label_map.astype(np.uint8)).save(
                        osp.join(folder, f'{stem}.png'))
            predictions.append(maps[None] if None in maps else maps)
            self.num_pred_imgs += 1
        results = dict(predictions=predictions, visualization=visualization or [])
        if len(predictions) == 1:
            results['predictions'] = predictions[0]
            if visualization:
                results['visualization'] = visualization[0]
        return results
