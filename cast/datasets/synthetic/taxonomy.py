"""The synthetic taxonomy (3 superclasses, 2 classes each, parts and subparts) and its COCO
categories in the styles of the SPIN release, of plain COCO, and of PartImageNet."""
from typing import Dict, List

#: The fixed hierarchy: superclass -> (object classes as (synset, name), parts -> subparts).
SYNTHETIC_TAXONOMY: Dict[str, dict] = {
    'Quadruped': dict(
        classes=(('n90000001', 'tabby cat'), ('n90000002', 'dalmatian')),
        parts={'Head': ('Eye', 'Nose'), 'Body': ('Belly', ), 'Foot': ('Paw', ),
               'Tail': ('Tip', )}),
    'Car': dict(
        classes=(('n90000011', 'sports car'), ('n90000012', 'jeep')),
        parts={'Body': ('Window', 'Door', 'Light'), 'Tier': ('Rim', ), 'Side Mirror': ()}),
    'Fish': dict(
        classes=(('n90000021', 'goldfish'), ('n90000022', 'clownfish')),
        parts={'Head': ('Eye', 'Mouth'), 'Body': ('Stripe', ), 'Fin': (), 'Tail': ()}),
}


STYLES = ('release', 'coco')

#: SPIN's part words in subpart names where they differ from PartImageNet's part names.
SPIN_PART_WORDS = {'Body': 'Torso', 'Foot': 'Legs', 'Hand': 'Arm', 'Tier': 'Tire',
                   'Side Mirror': 'Side_Mirror'}


def synthetic_categories(style: str = 'release') -> Dict[str, List[dict]]:
    """COCO ``categories`` of the three levels.

    Args:
        style (str): 'release': as SPIN is published: whole categories with ids from 0 and no
            supercategory, parts ('Quadruped Head', supercategory 'Quadruped') from 0, subparts
            from 1 named 'Superclass-Part-Subpart' with SPIN's part words ('Car-Tire-Rim' under
            the part 'Car Tier'); 'coco': every level from 1 with a supercategory (superclass
            for wholes and parts, the part for subparts) and names 'Car Tier Rim';
            'partimagenet': parts only, ids from 0, supercategory = superclass.

    Returns:
        dict: ``{'wholes': [...], 'parts': [...], 'subparts': [...]}``; each entry has ``id``,
        ``name`` (and ``supercategory`` where the style has one) and ``key``, the generator's
        own name of the class (not written to the files).
    """
    if style not in STYLES + ('partimagenet', ):
        raise ValueError(f"style must be one of {STYLES + ('partimagenet', )}, got {style!r}")
    coco = style == 'coco'
    cats = dict(wholes=[], parts=[], subparts=[])
    for superclass, spec in SYNTHETIC_TAXONOMY.items():
        for _, name in spec['classes']:
            cats['wholes'].append(dict(key=name, name=name, supercategory=superclass))
        for part, subparts in spec['parts'].items():
            part_name = f'{superclass} {part}'
            cats['parts'].append(dict(key=part_name, name=part_name, supercategory=superclass))
            for sub in subparts:
                name = (f'{part_name} {sub}' if coco else
                        f'{superclass}-{SPIN_PART_WORDS.get(part, part)}-{sub}')
                cats['subparts'].append(dict(key=f'{part_name} {sub}', name=name,
                                             supercategory=part_name))
    first = dict(wholes=1, parts=1, subparts=1) if coco else dict(wholes=0, parts=0, subparts=1)
    for level, entries in cats.items():
        for i, entry in enumerate(entries):
            entry['id'] = first[level] + i
            if style == 'release' and level != 'parts':
                del entry['supercategory']
    return cats
