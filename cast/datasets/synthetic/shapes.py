"""Object templates: polygons of each part and subpart in a local frame (x forward, y down,
about [-1, 1]). A part instance is (part name, [polygons], [(subpart name, [polygons])]); paint
order = list order, so later parts occlude earlier ones."""
import numpy as np


def _ellipse(cx, cy, rx, ry, rot=0.0, n=36):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(rot), np.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def _rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def _rot_rect(cx, cy, length, width, angle):
    """A rectangle whose long axis starts at (cx, cy) and points along ``angle``."""
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]]) * width / 2
    p0, p1 = np.array([cx, cy]), np.array([cx, cy]) + d * length
    return np.stack([p0 + n, p1 + n, p1 - n, p0 - n])


def _poly(*points):
    return np.array(points, float)


def _quadruped(rng, variant):
    # variant 0 tabby cat: long, low, short legs; 1 dalmatian: taller, long legs
    brx = rng.uniform(0.55, 0.65) if variant == 0 else rng.uniform(0.48, 0.56)
    bry = rng.uniform(0.2, 0.25) if variant == 0 else rng.uniform(0.24, 0.3)
    leg = rng.uniform(0.28, 0.36) if variant == 0 else rng.uniform(0.45, 0.55)
    lw = 0.09 if variant == 0 else 0.1
    hr = rng.uniform(0.18, 0.23)
    tail_angle = rng.uniform(-2.6, -2.0)
    parts = []
    tx, ty = -brx * 0.9, -bry * 0.3
    tail_len = rng.uniform(0.45, 0.6)
    tip = _ellipse(tx + np.cos(tail_angle) * tail_len, ty + np.sin(tail_angle) * tail_len,
                   0.13, 0.1, tail_angle)
    parts.append(('Tail', [_rot_rect(tx, ty, tail_len, 0.08, tail_angle),
                           _ellipse(tx + np.cos(tail_angle) * tail_len,
                                    ty + np.sin(tail_angle) * tail_len, 0.06, 0.05)],
                  [('Tip', [tip])]))

    def foot(x):
        y0 = bry * 0.4
        return ('Foot', [_rect(x - lw / 2, y0, x + lw / 2, y0 + leg)],
                [('Paw', [_rect(x - lw / 2 - 0.02, y0 + leg - 0.1, x + lw / 2 + 0.06,
                                y0 + leg)])])

    far, near = (-brx * 0.55, brx * 0.6), (-brx * 0.7, brx * 0.45)
    parts += [foot(x) for x in far]
    parts.append(('Body', [_ellipse(0, 0, brx, bry)],
                  [('Belly', [_ellipse(0, bry * 0.75, brx * 0.65, bry * 0.45)])]))
    parts += [foot(x) for x in near]
    hx, hy = brx * 0.95, -bry * 0.95
    head = [_ellipse(hx, hy, hr * 1.1, hr)]
    if variant == 0:  # pointed ears
        head += [_poly((hx - hr * 0.7, hy - hr * 0.5), (hx - hr * 0.4, hy - hr * 1.6),
                       (hx - hr * 0.05, hy - hr * 0.8)),
                 _poly((hx + hr * 0.1, hy - hr * 0.8), (hx + hr * 0.45, hy - hr * 1.6),
                       (hx + hr * 0.75, hy - hr * 0.5))]
    else:  # floppy ears
        head += [_ellipse(hx - hr * 0.5, hy - hr * 0.2, hr * 0.3, hr * 0.7, 0.5)]
    parts.append(('Head', head, [('Eye', [_ellipse(hx + hr * 0.35, hy - hr * 0.2, hr * 0.3,
                                                   hr * 0.24)]),
                                 ('Nose', [_ellipse(hx + hr * 0.95, hy + hr * 0.15, hr * 0.34,
                                                    hr * 0.28)])]))
    return parts


def _car(rng, variant):
    # variant 0 sports car: long, low cabin; 1 jeep: boxy, tall, big tires
    half = rng.uniform(0.9, 1.0) if variant == 0 else rng.uniform(0.75, 0.85)
    top = -0.05 if variant == 0 else -0.2
    cab = -0.35 if variant == 0 else -0.65
    tire_r = 0.19 if variant == 0 else 0.25
    bottom = 0.3
    if variant == 0:
        cabin = _poly((-half * 0.55, top), (-half * 0.25, cab), (half * 0.25, cab),
                      (half * 0.6, top))
        window = _poly((-half * 0.42, top - 0.03), (-half * 0.2, cab + 0.06),
                       (half * 0.2, cab + 0.06), (half * 0.45, top - 0.03))
    else:
        cabin = _rect(-half * 0.8, cab, half * 0.35, top + 0.01)
        window = _rect(-half * 0.7, cab + 0.07, half * 0.28, top - 0.08)
    body = [_rect(-half, top, half, bottom), cabin]
    door = _rect(-half * 0.2, top + 0.05, half * 0.25, bottom - 0.08)
    light = _rect(half - 0.16, top + 0.04, half, top + 0.2)
    parts = [('Body', body, [('Window', [window]), ('Door', [door]), ('Light', [light])])]
    mx = half * 0.55 if variant == 0 else half * 0.4
    parts.append(('Side Mirror', [_poly((mx - 0.02, top - 0.02), (mx + 0.12, top - 0.14),
                                        (mx + 0.14, top - 0.02))], []))
    for x in (-half * 0.6, half * 0.6):
        parts.append(('Tier', [_ellipse(x, bottom, tire_r, tire_r)],
                      [('Rim', [_ellipse(x, bottom, tire_r * 0.5, tire_r * 0.5)])]))
    return parts


def _fish(rng, variant):
    # variant 0 goldfish: round body, big tail; 1 clownfish: long body, two stripes
    brx = rng.uniform(0.5, 0.6) if variant == 0 else rng.uniform(0.62, 0.72)
    bry = rng.uniform(0.32, 0.38) if variant == 0 else rng.uniform(0.24, 0.28)
    tail = rng.uniform(0.4, 0.55) if variant == 0 else rng.uniform(0.28, 0.35)
    parts = [('Tail', [_poly((-brx * 0.85, 0), (-brx - tail, -tail * 0.9),
                             (-brx - tail * 0.7, 0), (-brx - tail, tail * 0.9))], [])]
    parts.append(('Fin', [_poly((-brx * 0.4, -bry * 0.7), (-brx * 0.1, -bry - 0.22),
                                (brx * 0.3, -bry * 0.8))], []))
    parts.append(('Fin', [_poly((-brx * 0.2, bry * 0.7), (-brx * 0.05, bry + 0.16),
                                (brx * 0.2, bry * 0.75))], []))
    stripes = ([_rect(-brx * 0.15, -bry, brx * 0.05, bry)] if variant == 0 else
               [_rect(-brx * 0.45, -bry, -brx * 0.3, bry), _rect(brx * 0.05, -bry, brx * 0.2, bry)])
    parts.append(('Body', [_ellipse(0, 0, brx, bry)], [('Stripe', stripes)]))
    hx = brx * 0.62
    hrx, hry = brx * 0.45, bry * 0.85
    parts.append(('Head', [_ellipse(hx, 0, hrx, hry)],
                  [('Eye', [_ellipse(hx + hrx * 0.3, -hry * 0.3, 0.09, 0.09)]),
                   ('Mouth', [_ellipse(hx + hrx * 0.85, hry * 0.1, 0.1, 0.06)])]))
    return parts


TEMPLATES = dict(Quadruped=_quadruped, Car=_car, Fish=_fish)
