"""A repository config cut down to run in a test: tiny data, small crops, one iteration."""
import os.path as osp

CROP = (64, 64)


def shrink(cfg, data_root, work_dir, crop=CROP):
    """Point ``cfg`` at the tiny data in ``data_root`` and make it run one iteration; nothing else
    changes.

    Crops and padding become ``crop`` (resizes to 128 x 64, slide inference with stride 48),
    the backbone loads no pretrained file, batches are 2 (train) and 1 (val, test) with no
    worker processes, and the visualizer gets a name of its own (MMEngine keeps one instance
    per name, and an earlier test's would save this run's pictures in its folder). Returns
    ``cfg``, changed in place.
    """
    cfg.work_dir = work_dir
    cfg.visualizer.name = osp.basename(osp.dirname(work_dir)) + '_' + osp.basename(work_dir)
    cfg.model.backbone.init_cfg = None  # no pretrained file in tests
    cfg.model.data_preprocessor.size = crop
    cfg.model.test_cfg.crop_size = crop
    cfg.model.test_cfg.stride = (48, 48)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[loader]
        loader.update(batch_size=2 if loader is cfg.train_dataloader else 1, num_workers=0,
                      persistent_workers=False)
        loader.dataset.data_root = data_root
        for step in loader.dataset.pipeline:
            if step.type in ('RandomResize', 'Resize'):
                step.scale = (128, 64)
            if step.type == 'RandomCrop':
                step.crop_size = crop
            if step.type == 'Pad':
                step.size = crop
    cfg.train_cfg.update(max_iters=1, val_interval=1)
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    return cfg
