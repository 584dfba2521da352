"""HierarchicalMetric.evaluate() in two real gloo processes equals one process, exactly."""
import pickle
import socket

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp

from cast.evaluation import HierarchicalMetric
from tests.helpers.hier_maps import meta, random_samples

NUM_SAMPLES = 7  # odd: the second rank gets a padded duplicate, as with MMEngine's DefaultSampler


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _shard(rank, world_size):
    """The indices MMEngine's DefaultSampler(shuffle=False, round_up=True) gives ``rank``."""
    indices = list(range(NUM_SAMPLES))
    indices += indices[:(-NUM_SAMPLES) % world_size]
    return indices[rank::world_size]


def _worker(rank, world_size, port, out_file):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        samples = random_samples(NUM_SAMPLES)
        metric = HierarchicalMetric()
        metric.dataset_meta = meta()
        for index in _shard(rank, world_size):
            metric.process({}, [samples[index]])
        results = metric.evaluate(NUM_SAMPLES)
        with open(f'{out_file}.{rank}', 'wb') as f:
            pickle.dump(results, f)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_equal_one(tmp_path):
    metric = HierarchicalMetric()
    metric.dataset_meta = meta()
    metric.process({}, random_samples(NUM_SAMPLES))
    expected = metric.evaluate(NUM_SAMPLES)

    out_file = str(tmp_path / 'results')
    mp.start_processes(_worker, args=(2, _free_port(), out_file), nprocs=2, start_method='fork')
    for rank in range(2):  # evaluate() broadcasts the metrics to every rank
        with open(f'{out_file}.{rank}', 'rb') as f:
            np.testing.assert_equal(pickle.load(f), expected)
    assert expected['SpCS_S2P_skipped'] >= 0 and 0 < expected['SeCS'] < 100
