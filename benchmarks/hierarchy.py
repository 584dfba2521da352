"""Hierarchy-aware learning on the synthetic SPIN: heads x loss x seeds, every decoding.

    python -m benchmarks.hierarchy WORK_DIR [--iters N] [--seeds 0 1 2]
        [--variants heads+ce heads+chain shared+ce shared+chain heads+hssn]
        [--decodings independent greedy joint hssn] [--num-test 64 --test-seed 1]
        [--lr LR] [--loss-scale S] [--eval-split val]

Trains the demo model (``configs/demo/synthetic_spin.py``, which the variants inherit) with
each of {one head per level ('heads'), one shared trunk with a 1x1 classifier per level
('shared')} x {per-level cross-entropy ('ce'), cross-entropy plus the chain likelihood loss
('chain', :class:`~cast.losses.ChainLikelihoodLoss`)} and every seed; 'heads+hssn' (not run
by default) is the peer, HSSN's recipe: the cross-entropies plus :class:`~cast.losses.TreeMinLoss`
and :class:`~cast.losses.TreeTripletLoss` at HSSN's weights. Each run is
``tools/train.py`` in its own process (MMEngine's runner; a finished run is reused, an
interrupted one resumed with ``--resume``, nothing is overwritten). The training data is
``--train-root`` (generated as ``make demo`` does when missing); the test data is a test split
generated with another seed (``tools/generate_synthetic_spin.py --seed 1 --num-test 64``) under
WORK_DIR. Every checkpoint is tested with MMEngine's Runner (``tools/test.py``'s config handling)
once per decoding (independent, greedy, joint, hssn). ``--lr`` and ``--loss-scale`` (a factor
on the hierarchy losses' weights) name a tuning point, and ``--eval-split val`` scores on the
training data's validation split instead, so both recipes can get the same search before the
held-out table. Prints per-level mIoU, SpCS_S2P, SpCS_P2O and
SeCS as mean ± sample standard deviation over the seeds, and writes them with every run's
figures to WORK_DIR/results_it{ITERS}.json.

Schedule: ``--iters`` (default :data:`ITERS`, 600; warm-up and poly decay are scaled to it) at
``--lr`` (default :data:`LR`, 2e-3): the cross-entropy demo's
(``benchmarks/configs/synthetic_spin_ce.py``), the same for every variant whatever the inherited
config says. ``make demo`` itself trains 480 iterations at 4e-3 (its chain loss costs more per
iteration, so it trains fewer in the same time): ``--variants heads+chain --iters 480 --lr 4e-3``
gives its row. On a 2-core CPU one 600-iteration run takes about 6-7 minutes with its tests on a
quiet machine.
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time

from benchmarks.common import REPO

DEMO_CONFIG = osp.join(REPO, 'configs', 'demo', 'synthetic_spin.py')
ITERS, LR = 600, 2e-3  # the benchmark's schedule: the cross-entropy demo's
CHAIN = dict(type='ChainLikelihoodLoss', loss_weight=1.0)
# HSSN (Li et al., CVPR 2022) with its own weights: per-level cross-entropy (the level losses),
# tree-min loss x 5, tree-triplet loss on a 256-d embedding of the stride-8 features (HSSN's
# embedding reads its stride-8 backbone output) with its cosine ramp over the whole run
TREE_MIN = dict(type='TreeMinLoss', loss_weight=5.0)
TRIPLET = dict(type='TreeTripletLoss', loss_weight=1.0, margin=0.6, max_triplets=200)
VARIANTS = {  # each sets its hierarchy loss: the demo config trains with the chain loss
    'heads+ce': dict(hierarchy_loss=None),
    'heads+chain': dict(hierarchy_loss=CHAIN),
    'shared+ce': dict(shared=True, hierarchy_loss=None),
    'shared+chain': dict(shared=True, hierarchy_loss=CHAIN),
    'heads+hssn': dict(hierarchy_loss=TREE_MIN, embedding_loss=TRIPLET, embedding_in_index=1),
}
DEFAULT_VARIANTS = ['heads+ce', 'heads+chain', 'shared+ce', 'shared+chain']
DECODINGS = ('independent', 'greedy', 'joint', 'hssn')
METRICS = ('mIoU.object', 'mIoU.part', 'mIoU.subpart', 'SpCS_S2P', 'SpCS_P2O', 'SeCS')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='folder of the runs, configs, test data and results')
    parser.add_argument('--iters', type=int, default=ITERS,
                        help=f'training iterations ({ITERS})')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS))
    parser.add_argument('--decodings', nargs='+', default=list(DECODINGS), choices=DECODINGS)
    parser.add_argument('--config', default=DEMO_CONFIG, help='the config the variants inherit')
    parser.add_argument('--train-root', default=osp.join(REPO, 'data', 'synthetic_spin'),
                        help='training data (generated with the default arguments if missing)')
    parser.add_argument('--num-test', type=int, default=64, help='test images (64)')
    parser.add_argument('--test-seed', type=int, default=1,
                        help='seed of the test data, not that of the training data (1)')
    parser.add_argument('--lr', type=float, default=LR, help=f"the optimizer's lr ({LR:g})")
    parser.add_argument('--loss-scale', type=float, default=1.0,
                        help="factor on the hierarchy and embedding losses' weights (1)")
    parser.add_argument('--eval-split', choices=('test', 'val'), default='test',
                        help="'val': score on the training data's validation split (tuning); "
                        "'test': on the generated held-out test split (the table)")
    parser.add_argument('--out', help='results JSON (default WORK_DIR/results_it{ITERS}.json; '
                        'an existing one made by another command is not overwritten)')
    return parser.parse_args(argv)


def run_name(variant: str, seed: int, iters: int, lr=LR, loss_scale=1.0) -> str:
    tuned = (f'_lr{lr:g}' if lr != LR else '') + (
        f'_x{loss_scale:g}' if loss_scale != 1 else '')
    return f"{variant.replace('+', '_')}{tuned}_seed{seed}_it{iters}"


def write_config(args, variant: str, seed: int, test_root: str) -> str:
    """A config inheriting ``args.config`` with the variant, seed and run length; an existing
    file with other content is an error (nothing is overwritten)."""
    iters, warmup = args.iters, min(50, args.iters // 2)
    train_root = osp.abspath(args.train_root)
    head = dict(VARIANTS[variant])
    if 'embedding_loss' in head:  # HSSN's triplet ramp spans its whole schedule
        head['embedding_loss'] = dict(head['embedding_loss'], warmup_iters=iters)
    for key in ('hierarchy_loss', 'embedding_loss'):
        if head.get(key) is not None and args.loss_scale != 1:
            head[key] = dict(head[key], loss_weight=head[key]['loss_weight'] * args.loss_scale)
    split = 'val' if args.eval_split == 'val' else 'test'
    text = '\n'.join([
        f'# {variant}, seed {seed}, {iters} iterations: written by benchmarks/hierarchy.py',
        f'_base_ = [{osp.abspath(args.config)!r}]',
        f'model = dict(decode_head=dict({", ".join(f"{k}={v!r}" for k, v in head.items())}))',
        f'train_cfg = dict(max_iters={iters}, val_interval={iters + 1})',  # no validation pass
        'param_scheduler = [',
        f"    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end={warmup}),",
        f"    dict(type='PolyLR', eta_min=0.0, power=1.0, begin={warmup}, end={iters},",
        '         by_epoch=False)]',
        f'default_hooks = dict(checkpoint=dict(interval={iters}, max_keep_ckpts=1))',
        f'randomness = dict(seed={seed})',
        f'train_dataloader = dict(dataset=dict(data_root={train_root!r}))',
        f'val_dataloader = dict(dataset=dict(data_root={train_root!r}))',
        f"test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict("
        f"data_root={test_root!r}, split={split!r}))",
        f'optim_wrapper = dict(optimizer=dict(lr={args.lr!r}))', ''])
    path = osp.join(args.work_dir, 'configs',
                    run_name(variant, seed, iters, args.lr, args.loss_scale) + '.py')
    if osp.exists(path):
        with open(path) as f:
            if f.read() != text:
                raise FileExistsError(f'{path} exists with other settings; use another '
                                      'WORK_DIR')
    else:
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
    return path


def make_data(args, test_root: str) -> None:
    from cast.datasets.synthetic import generate_synthetic_spin
    generate_synthetic_spin(args.train_root)  # the demo's data; a no-op when complete
    generate_synthetic_spin(test_root, num_train=0, num_val=0, num_test=args.num_test,
                            seed=args.test_seed)


def train(config: str, work_dir: str, iters: int, log: dict) -> str:
    """tools/train.py in a subprocess; returns the final checkpoint."""
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if osp.isfile(ckpt):
        print(f'{work_dir}: trained, reusing {ckpt}', flush=True)
        return ckpt
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')
    print(f"{time.strftime('%H:%M:%S')} training {work_dir} (load {os.getloadavg()[0]:.1f})",
          flush=True)
    start = time.time()
    with open(osp.join(osp.dirname(work_dir), osp.basename(work_dir) + '.log'), 'a') as out:
        proc = subprocess.run(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONPATH=REPO,
                                       OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1')))
    if proc.returncode or not osp.isfile(ckpt):
        raise RuntimeError(f'training {work_dir} failed (exit {proc.returncode}); see '
                           f'{out.name}')
    log['train_seconds'] = round(time.time() - start, 1)
    return ckpt


def test(config: str, ckpt: str, work_dir: str, decodings) -> dict:
    """Per decoding, the metrics of MMEngine's test loop on the test split (cached)."""
    from cast.engine import load_config, select_eval_metrics, test_decoding
    cache = osp.join(work_dir, 'test_results.json')
    results = {}
    if osp.isfile(cache):
        with open(cache) as f:
            results = json.load(f)
        if results.get('checkpoint') != ckpt:
            results = {}
    results['checkpoint'] = ckpt
    missing = [decoding for decoding in decodings if decoding not in results]
    if not missing:
        return results
    cfg = load_config(config, 'none', None, work_dir)
    cfg.load_from = ckpt
    cfg.log_level = 'WARNING'
    select_eval_metrics(cfg, ['mIoU', 'SpCS', 'SeCS'])
    for decoding in missing:
        results[decoding] = test_decoding(cfg, decoding)
        with open(cache, 'w') as f:
            json.dump(results, f, indent=1)
    return results


def mean_std(values):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return float('nan'), float('nan')
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float('nan')
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def table(summary: dict, baseline) -> str:
    head = '| training | decoding | ' + ' | '.join(METRICS) + ' |'
    lines = [head, '|' + '---|' * 2 + '---:|' * len(METRICS)]
    for (variant, decoding), stats in summary.items():
        cells = [f'{m:.2f} ± {s:.2f}' for m, s in (stats[k] for k in METRICS)]
        lines.append(f'| {variant} | {decoding} | ' + ' | '.join(cells) + ' |')
    if baseline in summary:
        base = summary[baseline]
        lines += ['', f'Difference of the means from {baseline[0]} / {baseline[1]}:', '',
                  head, lines[1]]
        for (variant, decoding), stats in summary.items():
            cells = [f'{stats[k][0] - base[k][0]:+.2f}' for k in METRICS]
            lines.append(f'| {variant} | {decoding} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault('PYTHONPATH', REPO)
    import cast  # noqa: F401
    args.work_dir = osp.abspath(args.work_dir)
    command = ' '.join(['python', '-m', 'benchmarks.hierarchy'] + list(
        sys.argv[1:] if argv is None else argv))
    out_file = args.out or osp.join(args.work_dir, f'results_it{args.iters}.json')
    if osp.isfile(out_file):
        with open(out_file) as f:
            if json.load(f).get('command') != command:
                raise FileExistsError(f'{out_file} holds the results of another command; '
                                      'pass --out')
    if args.eval_split == 'val':
        from cast.datasets.synthetic import generate_synthetic_spin
        generate_synthetic_spin(args.train_root)
        test_root = osp.abspath(args.train_root)
    else:
        test_root = osp.join(args.work_dir, f'test_data_seed{args.test_seed}_n{args.num_test}')
        make_data(args, test_root)
    started = time.strftime('%Y-%m-%d %H:%M:%S')
    runs = {}
    for seed in args.seeds:  # seeds outermost: an interrupted benchmark has every variant
        for variant in args.variants:
            name = run_name(variant, seed, args.iters, args.lr, args.loss_scale)
            config = write_config(args, variant, seed, test_root)
            work_dir = osp.join(args.work_dir, name)
            log = dict(variant=variant, seed=seed, config=config)
            ckpt = train(config, work_dir, args.iters, log)
            log['metrics'] = test(config, ckpt, work_dir, args.decodings)
            runs[name] = log
            print(f'{name}: ' + '; '.join(
                f"{d} " + ' '.join(f"{k}={log['metrics'][d][k]:.2f}" for k in METRICS)
                for d in args.decodings), flush=True)
    summary = {}
    for variant in args.variants:
        for decoding in args.decodings:
            per_seed = [r['metrics'][decoding] for r in runs.values() if r['variant'] == variant]
            summary[(variant, decoding)] = {k: mean_std([m[k] for m in per_seed])
                                            for k in METRICS}
    text = table(summary, ('heads+ce', 'independent'))
    print(f'\n{len(args.seeds)} seeds {args.seeds}, {args.iters} iterations, test split of '
          f'{args.num_test} images (seed {args.test_seed}); mean ± std over seeds\n')
    print(text)
    out = dict(command=command, started=started, finished=time.strftime('%Y-%m-%d %H:%M:%S'),
               iters=args.iters, seeds=args.seeds, test_root=test_root, runs=runs,
               summary={f'{v} / {d}': s for (v, d), s in summary.items()}, table=text)
    with open(out_file, 'w') as f:
        json.dump(out, f, indent=1)
    print(f'\nresults written to {out_file}')


if __name__ == '__main__':
    main()
