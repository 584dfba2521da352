"""What the tests share, imported as ``from tests.helpers.<module> import ...`` (pytest.ini puts
the repository root on ``sys.path``; the tools' subprocesses get it through ``PYTHONPATH``).

- :mod:`~tests.helpers.hierarchies`: toy class hierarchies (a tree, a DAG, random ones) and
  brute-force chain references;
- :mod:`~tests.helpers.hier_maps`: hand-made 4x4 hierarchical maps for the metric tests;
- :mod:`~tests.helpers.segmentors`: a tiny CAST, a superpixel-pooling backbone, data samples;
- :mod:`~tests.helpers.configs`: ``shrink``, a repository config cut to tiny data and one
  iteration;
- :mod:`~tests.helpers.tools`: the tools run as a user runs them (the tiny training run), or
  loaded to call their ``main`` in process;
- :mod:`~tests.helpers.spin_release`: SPIN copies in the format of the public release;
- :mod:`~tests.helpers.reference`: the reference implementation's outputs on a tiny CAST;
- :mod:`~tests.helpers.hooks`: hooks that interrupt a run, loaded by the tiny configs through
  ``custom_imports``.
"""
