"""configs/cast/metafile.yaml (MMSeg's / MIM's model index) matches configs/cast/: every Config it
names exists and loads, every config there is in it, and its README links every config."""
from pathlib import Path

import yaml
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
CAST_CONFIGS = ROOT / 'configs' / 'cast'


def load_metafile():
    with open(CAST_CONFIGS / 'metafile.yaml') as f:
        return yaml.safe_load(f)


def test_metafile_configs_exist_and_load():
    meta = load_metafile()
    collections = {c['Name'] for c in meta['Collections']}
    for collection in meta['Collections']:
        assert (ROOT / collection['README']).is_file(), collection['README']
        assert collection['Paper']['URL'].startswith('https://'), collection['Name']
    names = set()
    for model in meta['Models']:
        assert model['Name'] not in names, f"{model['Name']} appears twice"
        names.add(model['Name'])
        assert model['In Collection'] in collections, model['Name']
        path = ROOT / model['Config']
        assert path.is_file(), f"{model['Name']}: {model['Config']} does not exist"
        assert path.stem == model['Name'], f"{model['Name']} names {model['Config']}"
        Config.fromfile(str(path))
        metadata = model['Metadata']
        assert {'Training Data', 'Batch Size', 'Architecture'} <= set(metadata), model['Name']
        assert 'Iterations' in metadata or 'Epochs' in metadata, model['Name']
        if model['Results'] is not None:
            assert {'Task', 'Dataset', 'Metrics'} <= set(model['Results']), model['Name']
        assert 'Weights' in model, model['Name']


def test_every_config_is_in_the_metafile_and_its_readme():
    listed = {Path(model['Config']).name for model in load_metafile()['Models']}
    readme = (CAST_CONFIGS / 'README.md').read_text()
    for path in sorted(CAST_CONFIGS.glob('*.py')):
        assert path.name in listed, f'{path.name} is missing from configs/cast/metafile.yaml'
        assert f']({path.name})' in readme, f'configs/cast/README.md does not link {path.name}'
