"""Test-time adaptation of a recognition CAST to each image, with a picture per image of its
segments and top classes before, after every step and at the end (docs/adaptation.md).

    python tools/adapt.py CONFIG CHECKPOINT INPUT [--steps N] [--views V] [--lr LR]
        [--objective memo|cosine] [--params all|backbone|norm] [--online] [--out-dir DIR]
        [--draw-every K]
    torchrun --nproc_per_node=G tools/adapt.py CONFIG CHECKPOINT INPUT --launcher pytorch [...]

INPUT is an image file, a folder of images, or a dataset split of the config ('val'). CHECKPOINT
may be 'random' (the config's initialisation, seeded by --seed). The out dir receives
``results.json`` and one PNG per image; an out dir that already holds files is refused unless
``--overwrite`` is given.
"""
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.dist import barrier, get_dist_info, init_dist

import cast  # noqa: F401  registers CAST's modules and the safe checkpoint loader
from cast.apis.adaptation import adapt_images, init_recognition_model, list_inputs
from cast.engine import finish_distributed, parse_launch_args
from cast.recognition import TestTimeAdapter
from cast.recognition.adaptation import OBJECTIVES, PARAM_SETS
from cast.utils.io import atomic_write


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test-time adaptation of a recognition CAST')
    parser.add_argument('config', help='recognition config (DeiT classifier or MoCo v3)')
    parser.add_argument('checkpoint', help="checkpoint file, or 'random'")
    parser.add_argument('input', help="image file, folder, or dataset split ('val')")
    parser.add_argument('--steps', type=int, default=1, help='optimisation steps per image')
    parser.add_argument('--views', type=int, default=16, help='augmented views per step')
    parser.add_argument('--lr', type=float, default=1e-5, help='AdamW learning rate')
    parser.add_argument('--weight-decay', type=float, default=0.01, help='AdamW weight decay')
    parser.add_argument('--objective', choices=OBJECTIVES,
                        help="default: 'memo' for a classifier, 'cosine' for MoCo v3")
    parser.add_argument('--params', choices=PARAM_SETS, default='all', help='what adapts')
    parser.add_argument('--online', action='store_true',
                        help='keep adapting across images (default: restore after each)')
    parser.add_argument('--amp', action='store_true', help='mixed precision (CUDA)')
    parser.add_argument('--out-dir', default='work_dirs/adapt', help='pictures and results.json')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into an out dir that already holds files')
    parser.add_argument('--no-pictures', action='store_true', help='write results.json only')
    parser.add_argument('--draw-every', type=int, default=1,
                        help='pictures show before, every K-th step and the last (default 1)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the views (image i: +i)')
    parser.add_argument('--device', help="'cpu', 'cuda:0'; default: CUDA when available")
    return parse_launch_args(parser, argv)


def check_out_dir(out_dir, overwrite):
    """Refuse an out dir that holds files (a previous run's results), unless ``overwrite``."""
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        names = ', '.join(sorted(os.listdir(out_dir))[:4])
        raise FileExistsError(f'{out_dir} already holds files ({names}, ...): a new run would '
                              'overwrite them; choose another --out-dir, or pass --overwrite')


def init_distributed(launcher):
    """Start the process group: MMEngine's ``init_dist`` with CUDA; without it (MMEngine's
    launcher needs CUDA), a gloo group from torchrun's environment."""
    if launcher == 'none':
        return
    if torch.cuda.is_available():
        init_dist(launcher, backend='nccl')
    elif launcher == 'pytorch':
        torch.distributed.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                             world_size=int(os.environ['WORLD_SIZE']))
    else:
        raise RuntimeError(f'distributed runs without CUDA are supported with torchrun '
                           f'(--launcher pytorch), not "{launcher}"')


def main(argv=None):
    args = parse_args(argv)
    if args.checkpoint != 'random' and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint file "{args.checkpoint}" does not exist')
    init_distributed(args.launcher)
    rank, _ = get_dist_info()
    device = args.device
    if device is None and torch.cuda.is_available():
        device = f'cuda:{torch.cuda.current_device()}'
    try:
        check_out_dir(args.out_dir, args.overwrite)
        model = init_recognition_model(args.config,
                                       None if args.checkpoint == 'random' else args.checkpoint,
                                       device or 'cpu', args.cfg_options, args.seed)
        images = list_inputs(args.input, model.cfg)
        optim_wrapper = dict(type='AmpOptimWrapper' if args.amp else 'OptimWrapper',
                             optimizer=dict(type='AdamW', lr=args.lr,
                                            weight_decay=args.weight_decay))
        adapter = TestTimeAdapter.from_config(
            model, model.cfg, objective=args.objective, params=args.params, steps=args.steps,
            num_views=args.views, optim_wrapper=optim_wrapper, online=args.online,
            classes=model.dataset_meta.get('classes'))
        barrier()  # every rank checked the out dir before any writes
        os.makedirs(args.out_dir, exist_ok=True)
        results = adapt_images(adapter, images, None if args.no_pictures else args.out_dir,
                               seed=args.seed, draw_every=args.draw_every)
        if rank == 0:
            run = dict(config=args.config, checkpoint=args.checkpoint,
                       objective=adapter.objective_name, params=args.params, steps=args.steps,
                       views=args.views, lr=args.lr, weight_decay=args.weight_decay,
                       online=args.online, seed=args.seed, images=results)
            path = osp.join(args.out_dir, 'results.json')
            with atomic_write(path) as f:  # never a half-written results.json
                json.dump(run, f, indent=1)
            print(f'\nresults of {len(results)} images: {path}')
    finally:
        finish_distributed()


if __name__ == '__main__':
    main()
