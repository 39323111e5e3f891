"""The synthetic world's fixed vocabulary (PRODUCT.md). The RGB values are part of the product: evaluation detects
objects by colour, so they must not change."""

import enum

from moviegen.text.prompt import CameraMotion

OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 230),
    "yellow": (240, 220, 50),
    "purple": (150, 60, 200),
    "orange": (245, 140, 30),
    "cyan": (40, 210, 220),
    "white": (245, 245, 245),
}

BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "navy": (20, 30, 80),
    "brown": (90, 60, 40),
}

# A background may carry a faint texture within +-BACKGROUND_TEXTURE of its base value (so camera motion shows).
BACKGROUND_TEXTURE = 12


class Shape(enum.StrEnum):
    CIRCLE = "circle"
    SQUARE = "square"
    TRIANGLE = "triangle"
    STAR = "star"


class Motion(enum.StrEnum):
    LEFT = "moves left"
    RIGHT = "moves right"
    UP = "moves up"
    DOWN = "moves down"
    BOUNCE = "bounces"
    STILL = "stays still"
    GROW = "grows"
    SPIN = "spins"  # never for circles (a spinning circle looks still)


# Camera motions (prefixed to the caption, SPEC 11.4) are the text stack's own enum: one vocabulary, one place.
Camera = CameraMotion
