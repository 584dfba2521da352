"""cast.utils.config: the transforms a tool reads from a config's pipelines."""
import os.path as osp

from mmengine.config import Config

from cast.utils import find_transform, superpixels_from_config


def test_superpixel_settings_come_from_the_config(tiny_config_dir):
    cfg = Config.fromfile(osp.join(tiny_config_dir, 'tiny_upernet_cast.py'))
    assert superpixels_from_config(cfg).area_per_superpixel == 256
    sp = superpixels_from_config(cfg, num_superpixels=50)
    assert sp.num_superpixels == 50


def test_find_transform_searches_nested_pipelines():
    cfg = dict(test_dataloader=dict(dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='RandomChoice', transforms=[[dict(type='Resize', scale=(8, 8))]])])))
    assert find_transform(cfg, 'Resize') == dict(type='Resize', scale=(8, 8))
    assert find_transform(cfg, 'Superpixels') is None
