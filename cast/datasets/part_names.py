"""How PartImageNet and SPIN name their classes, and reading parents off the names.

PartImageNet's 11 superclasses and their 40 parts (https://github.com/TACJu/PartImageNet):
part categories are named ``'{Superclass} {Part}'`` ('Quadruped Head', 'Car Side Mirror') with
the superclass as ``supercategory``. SPIN keeps those parts and names its subparts
``'{Superclass}-{Part word}-{Subpart}'`` ('Quadruped-Head-Eyes'), where the part word is not
always PartImageNet's part name: :data:`PART_WORD_ALIASES` lists the words seen in SPIN and in
public code that reads PartImageNet/SPIN, and the part each stands for.

Names are compared case- and separator-insensitively: 'Side_Mirror', 'side mirror' and
'Side-Mirror' are one name (:func:`norm`).
"""
import re
from typing import Dict, Optional, Sequence, Tuple

#: PartImageNet's superclasses (in its category order) and their parts.
PARTIMAGENET_PARTS: Dict[str, Tuple[str, ...]] = {
    'Quadruped': ('Head', 'Body', 'Foot', 'Tail'),
    'Biped': ('Head', 'Body', 'Hand', 'Foot', 'Tail'),
    'Fish': ('Head', 'Body', 'Fin', 'Tail'),
    'Bird': ('Head', 'Body', 'Wing', 'Foot', 'Tail'),
    'Snake': ('Head', 'Body'),
    'Reptile': ('Head', 'Body', 'Foot', 'Tail'),
    'Car': ('Body', 'Tier', 'Side Mirror'),
    'Bicycle': ('Head', 'Body', 'Seat', 'Tier'),
    'Boat': ('Body', 'Sail'),
    'Aeroplane': ('Head', 'Body', 'Wing', 'Engine', 'Tail'),
    'Bottle': ('Body', 'Mouth'),
}

#: Part words of subpart names -> the part they stand for, tried when the word itself names no
#: part of the superclass. SPIN: Torso (Body), Legs (Foot), Arm (Hand), Tire (Tier),
#: Side_Mirror (Side Mirror, equal under :func:`norm`). Public PartImageNet readers also write
#: Leg, Wheel and Mirror; plurals are accepted for every part.
PART_WORD_ALIASES: Dict[str, str] = {
    'torso': 'body',
    'legs': 'foot',
    'leg': 'foot',
    'feet': 'foot',
    'arm': 'hand',
    'arms': 'hand',
    'hands': 'hand',
    'tire': 'tier',
    'tires': 'tier',
    'tyre': 'tier',
    'wheel': 'tier',
    'wheels': 'tier',
    'mirror': 'side mirror',
    'mirrors': 'side mirror',
    'side mirrors': 'side mirror',
}


def norm(name) -> str:
    """Case- and separator-insensitive form: 'Car-Side_Mirror' -> 'car side mirror'."""
    return ' '.join(w for w in re.split(r'[\s\-_/]+', str(name).strip().lower()) if w)


def superclass_of_part(name: str, supercategory: Optional[str],
                       superclasses: Sequence[str]) -> Optional[str]:
    """The superclass of a part category: its ``supercategory`` if that is a superclass, else
    the superclass its name starts with ('Car Side Mirror' -> 'Car'); None if neither."""
    by_norm = {norm(s): s for s in superclasses}
    if supercategory and norm(supercategory) in by_norm:
        return by_norm[norm(supercategory)]
    words = norm(name)
    starts = [s for s in by_norm if words == s or words.startswith(s + ' ')]
    return by_norm[max(starts, key=len)] if starts else None


def split_subpart_name(name: str) -> Optional[Tuple[str, str, str]]:
    """('Quadruped', 'Head', 'Eyes') from 'Quadruped-Head-Eyes'; None unless the name has at
    least three '-'-separated fields (the subpart itself may hold more dashes)."""
    fields = [f.strip() for f in str(name).split('-')]
    if len(fields) < 3 or not all(fields):
        return None
    return fields[0], fields[1], '-'.join(fields[2:])


def part_word_candidates(word: str) -> Tuple[str, ...]:
    """The part names a subpart's part word may stand for, in the order tried: the word, its
    alias (:data:`PART_WORD_ALIASES`), the word without a plural 's'."""
    word = norm(word)
    out = [word]
    if word in PART_WORD_ALIASES:
        out.append(PART_WORD_ALIASES[word])
    if word.endswith('s') and len(word) > 3:
        out.append(word[:-1])
    return tuple(dict.fromkeys(out))


def parent_part_by_name(subpart: str, part_classes: Sequence[str]) -> Optional[Tuple[int, str]]:
    """The part class a 'Superclass-Part-Subpart' name points to.

    Args:
        subpart (str): the subpart category name.
        part_classes (Sequence[str]): the part level's class names (index 0 background).

    Returns:
        tuple | None: (index into ``part_classes``, how: 'name' or 'alias'), or None when the
        name does not have that form or names no part class.
    """
    fields = split_subpart_name(subpart)
    if fields is None:
        return None
    superclass, word, _ = fields
    by_norm = {norm(c): i for i, c in enumerate(part_classes) if i > 0}
    for rank, candidate in enumerate(part_word_candidates(word)):
        index = by_norm.get(f'{norm(superclass)} {candidate}')
        if index is not None:
            return index, 'name' if rank == 0 else 'alias'
    return None
