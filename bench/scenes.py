"""The benchmark's scenes: crossing, occlusion, leaving and re-entering, a small crowd."""

from __future__ import annotations

import numpy as np

from bench.synth import Person, Scene

HD, SD = (1280, 720), (640, 360)
RESOLUTIONS = (HD, SD)  # every scene at SD; cross2, cross4 and reenter at HD too (CPU time)
FRAME_RATES = (10.0, 5.0)  # detector rates: CPU MTCNN + dlib cost ~1 s per frame here


def _bouncing(name: str, seed: int, duration_s: float, z: int) -> Person:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0.15, 0.85), rng.uniform(0.25, 0.75)
    vx, vy = rng.choice([-1, 1]) * rng.uniform(0.12, 0.22), rng.uniform(-0.06, 0.06)
    s0, s1 = rng.uniform(0.12, 0.15), rng.uniform(0.16, 0.2)
    keys = []
    for t in np.arange(0, duration_s + 1e-9, 0.1):
        keys.append((float(t), float(x), float(y), float(s0 + (s1 - s0) * t / duration_s)))
        x, y = x + vx * 0.1, y + vy * 0.1
        if not 0.1 < x < 0.9:
            vx = -vx
        if not 0.2 < y < 0.8:
            vy = -vy
    return Person(name, keys, z)


def scenes() -> list[Scene]:
    return [
        Scene(
            "cross2",
            6.0,
            [
                Person(
                    "obama", [(0, 0.15, 0.5, 0.17), (3, 0.85, 0.5, 0.17), (6, 0.2, 0.45, 0.17)], z=0
                ),
                Person(
                    "paul_rudd",
                    [(0, 0.85, 0.52, 0.16), (3, 0.15, 0.5, 0.16), (6, 0.8, 0.55, 0.16)],
                    z=1,
                ),
            ],
            seed=1,
            resolutions=(HD, SD),
        ),
        Scene(
            "cross4",
            6.0,
            [
                Person("biden", [(0, 0.1, 0.3, 0.15), (6, 0.9, 0.7, 0.17)], z=0),
                Person("kit_harington", [(0, 0.9, 0.3, 0.15), (6, 0.1, 0.7, 0.17)], z=1),
                Person("kate_siegel", [(0, 0.1, 0.7, 0.17), (6, 0.9, 0.3, 0.15)], z=2),
                Person("rose_leslie", [(0, 0.9, 0.7, 0.17), (6, 0.1, 0.3, 0.15)], z=3),
            ],
            seed=2,
            resolutions=(HD, SD),
        ),
        Scene(
            "occlude",
            6.0,
            [
                Person(
                    "alex_lacamoire",
                    [
                        (0, 0.5, 0.5, 0.17),
                        (2, 0.52, 0.48, 0.17),
                        (4, 0.48, 0.5, 0.17),
                        (6, 0.5, 0.52, 0.17),
                    ],
                    z=0,
                ),
                Person("angelina_jolie", [(0.5, -0.1, 0.53, 0.18), (5.5, 1.1, 0.5, 0.18)], z=1),
                Person("shea_whigham", [(1.0, 1.1, 0.42, 0.15), (6.0, -0.1, 0.45, 0.15)], z=-1),
            ],
            seed=3,
        ),
        Scene(
            "reenter",
            7.0,
            [
                Person(
                    "obama",
                    [
                        (0, 0.2, 0.5, 0.17),
                        (2.5, 1.15, 0.5, 0.17),
                        (4.0, 1.15, 0.55, 0.17),
                        (7.0, 0.55, 0.55, 0.17),
                    ],
                    z=0,
                ),
                Person(
                    "rose_leslie",
                    [
                        (0, 0.35, 0.65, 0.16),
                        (2.0, -0.15, 0.65, 0.16),
                        (3.5, -0.15, 0.6, 0.16),
                        (7.0, 0.3, 0.6, 0.16),
                    ],
                    z=1,
                ),
                Person("kate_siegel", [(0, 0.55, 0.3, 0.15), (7.0, 0.6, 0.3, 0.15)], z=2),
            ],
            seed=4,
            resolutions=(HD, SD),
        ),
        Scene(
            "crowd",
            8.0,
            [
                _bouncing(name, 10 + i, 8.0, z=i)
                for i, name in enumerate(
                    ["biden", "kit_harington", "alex_lacamoire", "shea_whigham", "kate_siegel"]
                )
            ],
            seed=5,
        ),
    ]
