"""Installs the ``cast`` package; see README.md for the full, pinned environment."""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    namespace = {}
    with open(osp.join(osp.dirname(__file__), 'cast', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(path):
    with open(osp.join(osp.dirname(__file__), path)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='cast-seg',
    version=read_version(),
    description='CAST hierarchical segmentation and SPIN evaluation on MMSegmentation',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=('cast', 'cast.*')),
    python_requires='>=3.9',
    install_requires=['torch==2.13.0', 'mmcv==2.1.0', 'fast-slic==0.4.0'] +
    read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt'),
                    'tensorboard': read_requirements('requirements/tensorboard.txt')},
    license='Apache-2.0',
)
