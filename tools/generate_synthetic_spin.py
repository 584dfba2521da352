"""Generate the small synthetic SPIN dataset (or the same scenes in PartImageNet's layout).

    python tools/generate_synthetic_spin.py data/synthetic_spin [--num-train 96 --num-val 32
        --num-test 0 --seed 0 --min-size 128 --max-size 192 --format spin|partimagenet
        --style release|coco]

Running it again with the same arguments does nothing once the data is complete (and finishes
an interrupted run); a folder with other files or other arguments is refused, never
overwritten.
"""
import argparse
import sys

from cast.datasets.synthetic import generate_synthetic_partimagenet, generate_synthetic_spin


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a synthetic SPIN dataset')
    parser.add_argument('out_dir', metavar='OUT_DIR', help='output folder')
    parser.add_argument('--num-train', type=int, default=96, help='training images (96)')
    parser.add_argument('--num-val', type=int, default=32, help='validation images (32)')
    parser.add_argument('--num-test', type=int, default=0, help='test images (0: no test split)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (0)')
    parser.add_argument('--min-size', type=int, default=128, help='smallest image side (128)')
    parser.add_argument('--max-size', type=int, default=192, help='largest image side (192)')
    parser.add_argument('--format', choices=['spin', 'partimagenet'], default='spin',
                        help="annotation layout: SPIN's three files per split (default) or "
                        "PartImageNet_Seg's")
    parser.add_argument('--style', choices=['release', 'coco'], default='release',
                        help="SPIN only: 'release' (as published: no supercategory on wholes, "
                        "SPIN's subpart names, compressed RLE; default) or 'coco' "
                        '(supercategories everywhere, polygons); the label maps are the same')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    generate = dict(spin=generate_synthetic_spin,
                    partimagenet=generate_synthetic_partimagenet)[args.format]
    options = dict(style=args.style) if args.format == 'spin' else {}
    try:
        generate(args.out_dir, num_train=args.num_train, num_val=args.num_val,
                 num_test=args.num_test, seed=args.seed, min_size=args.min_size,
                 max_size=args.max_size, show_progress=True, **options)
    except (FileExistsError, ValueError) as err:
        sys.exit(f'error: {err}')


if __name__ == '__main__':
    main()
