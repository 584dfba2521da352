"""Appearance: per-part colours and textures, object tints and patterns, backgrounds."""
import cv2
import numpy as np

# Appearance: base BGR colour and texture per part / subpart; objects tint their parts.
PART_STYLE = {
    'Quadruped Head': ((70, 120, 190), 'fur'), 'Quadruped Body': ((60, 110, 170), 'fur'),
    'Quadruped Foot': ((40, 70, 110), 'noise'), 'Quadruped Tail': ((90, 140, 200), 'fur'),
    'Quadruped Head Eye': ((30, 160, 60), 'smooth'), 'Quadruped Head Nose': ((120, 100, 220),
                                                                           'smooth'),
    'Quadruped Body Belly': ((200, 220, 235), 'fur'), 'Quadruped Foot Paw': ((25, 30, 40),
                                                                          'noise'),
    'Quadruped Tail Tip': ((240, 240, 240), 'fur'),
    'Car Body': ((40, 40, 200), 'gloss'), 'Car Tier': ((30, 30, 30), 'noise'),
    'Car Side Mirror': ((160, 160, 160), 'gloss'), 'Car Body Window': ((220, 190, 140), 'gloss'),
    'Car Body Door': ((30, 30, 140), 'gloss'), 'Car Body Light': ((120, 240, 250), 'smooth'),
    'Car Tier Rim': ((190, 190, 200), 'metal'),
    'Fish Head': ((40, 150, 230), 'scales'), 'Fish Body': ((30, 120, 240), 'scales'),
    'Fish Fin': ((60, 180, 250), 'stripes'), 'Fish Tail': ((80, 100, 220), 'stripes'),
    'Fish Head Eye': ((20, 20, 20), 'smooth'), 'Fish Head Mouth': ((90, 60, 160), 'smooth'),
    'Fish Body Stripe': ((245, 245, 245), 'smooth'),
}
CLASS_TINT = {  # BGR tint mixed into the object's parts, and the body pattern
    'tabby cat': ((40, 120, 220), 'stripes'), 'dalmatian': ((235, 235, 235), 'spots'),
    'sports car': ((30, 30, 220), None), 'jeep': ((60, 120, 80), 'noise'),
    'goldfish': ((20, 140, 250), None), 'clownfish': ((10, 90, 250), 'spots'),
}


def smooth_noise(rng, h, w, cells):
    low = rng.random((max(2, int(h / cells) + 2), max(2, int(w / cells) + 2))).astype(np.float32)
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)


def texture(rng, kind, h, w, scale):
    """A (H, W) multiplicative texture around 1 of the given kind."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    grain = 1 + 0.06 * (rng.random((h, w), dtype=np.float32) - 0.5)
    theta = rng.uniform(0, np.pi)
    if kind in ('fur', 'stripes'):
        period = max(3.0, scale * (0.06 if kind == 'fur' else 0.12))
        wave = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        amp = 0.12 if kind == 'fur' else 0.25
        return grain * (1 + amp * wave) * (0.9 + 0.2 * smooth_noise(rng, h, w, 6))
    if kind == 'scales':
        period = max(3.0, scale * 0.07)
        return grain * (0.85 + 0.15 * np.abs(np.sin(np.pi * xx / period) *
                                              np.sin(np.pi * yy / period)) * 2)
    if kind == 'noise':
        return grain * (0.75 + 0.5 * smooth_noise(rng, h, w, 3))
    if kind == 'gloss':
        return grain * (0.9 + 0.35 * np.clip(smooth_noise(rng, h, w, 30) - 0.4, 0, 1))
    if kind == 'metal':
        return grain * (0.8 + 0.4 * smooth_noise(rng, h, w, 2))
    return grain  # smooth


def pattern_map(rng, kind, h, w, scale):
    """A (H, W) class pattern factor (stripes, spots, noise) or None."""
    if kind is None:
        return None
    if kind == 'stripes':
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = max(4.0, scale * 0.15)
        theta = rng.uniform(1.2, 1.9)
        wave = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        return np.where(wave > 0.3, 0.55, 1.0).astype(np.float32)
    if kind == 'spots':
        spots = np.ones((h, w), np.float32)
        for _ in range(int(rng.integers(12, 30))):
            r = max(1, int(scale * rng.uniform(0.02, 0.05)))
            cv2.circle(spots, (int(rng.integers(0, w)), int(rng.integers(0, h))), r, 0.15, -1)
        return spots
    return 0.8 + 0.4 * smooth_noise(rng, h, w, 4)


def background(rng, h, w):
    """A textured BGR float background: gradient, multi-scale noise, stripes, distractors."""
    c0, c1 = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(theta) + yy * np.sin(theta))
    t = (t - t.min()) / max(1e-6, np.ptp(t))
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    img *= (0.75 + 0.5 * smooth_noise(rng, h, w, rng.uniform(10, 40)))[..., None]
    img *= (0.9 + 0.2 * smooth_noise(rng, h, w, 3))[..., None]
    if rng.random() < 0.5:  # planks / grass / waves
        period = rng.uniform(6, 24)
        phi = rng.uniform(0, np.pi)
        wave = np.sin(2 * np.pi * (xx * np.cos(phi) + yy * np.sin(phi)) / period)
        img *= (1 + rng.uniform(0.05, 0.2) * wave)[..., None]
    for _ in range(int(rng.integers(2, 6))):  # unannotated distractor blobs
        colour = rng.uniform(30, 230, 3)
        blob = np.zeros((h, w), np.uint8)
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(4, w // 4)), int(rng.integers(4, h // 4)))
        cv2.ellipse(blob, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        tex = texture(rng, 'noise', h, w, min(h, w))
        m = blob.astype(bool)
        img[m] = (colour[None] * tex[m][:, None]) * 0.7 + img[m] * 0.3
    return img


def edge_shading(mask):
    """Darker towards the border of a mask: a cheap rounded look."""
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    peak = max(1.0, float(dist.max()))
    return 0.7 + 0.3 * np.clip(dist / (0.5 * peak), 0, 1)
