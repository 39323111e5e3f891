"""Character identities of the synthetic world (PRODUCT.md "Characters", for personalization).

A character is a face-like sprite: a head disc in an object colour with eyes, a mouth and hair drawn from its
identity's features. The identities are a fixed, hand-written table (not random) so that every pair differs in at
least two features, and a declared subset, :data:`HELDOUT_IDENTITIES`, never appears in the training split.

Each identity has a canonical head colour: a character is always drawn in it, so the reference portrait
(``characters/ID.png``) and the videos of that identity match.  Feature colours are not palette colours, so
colour-based object detection sees the head disc as one object.
"""

import enum
from dataclasses import dataclass

from moviegen.world.vocab import OBJECT_COLOURS


class HairStyle(enum.StrEnum):
    BALD = "bald"
    CAP = "short"  # the top of the head covered
    SPIKY = "spiky"  # three spikes above the head
    BUN = "bun"  # a round bun on top


class Eyes(enum.StrEnum):
    DOTS = "round"
    BIG = "big"
    LINES = "sleepy"


class Mouth(enum.StrEnum):
    SMILE = "a smile"
    FLAT = "a straight mouth"
    OPEN = "an open mouth"


# Feature colours: none is an object colour or a background, so detection by palette colour ignores them.
HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (35, 30, 30),
    "brown": (110, 70, 35),
    "blond": (235, 205, 130),
    "auburn": (150, 70, 40),
    "silver": (190, 190, 200),
}
FACE_FEATURE_COLOUR = (40, 25, 25)  # eyes and mouth


@dataclass(frozen=True, kw_only=True)
class CharacterParams:
    """The features that make an identity recognisable."""

    colour: str  # head colour, a key of OBJECT_COLOURS
    hair: HairStyle
    hair_colour: str  # a key of HAIR_COLOURS (ignored when bald)
    eyes: Eyes
    mouth: Mouth

    def describe(self) -> str:
        """Words for a caption: ``"spiky brown hair, round eyes and a smile"``."""
        hair = "no hair" if self.hair == HairStyle.BALD else f"{self.hair.value} {self.hair_colour} hair"
        if self.hair == HairStyle.BUN:
            hair = f"{self.hair_colour} hair in a bun"
        return f"{hair}, {self.eyes.value} eyes and {self.mouth.value}"


_H, _E, _M = HairStyle, Eyes, Mouth
CHARACTERS: tuple[CharacterParams, ...] = (
    CharacterParams(colour="yellow", hair=_H.CAP, hair_colour="black", eyes=_E.DOTS, mouth=_M.SMILE),
    CharacterParams(colour="orange", hair=_H.SPIKY, hair_colour="brown", eyes=_E.LINES, mouth=_M.FLAT),
    CharacterParams(colour="cyan", hair=_H.BALD, hair_colour="black", eyes=_E.BIG, mouth=_M.OPEN),
    CharacterParams(colour="white", hair=_H.BUN, hair_colour="blond", eyes=_E.DOTS, mouth=_M.OPEN),
    CharacterParams(colour="green", hair=_H.CAP, hair_colour="auburn", eyes=_E.BIG, mouth=_M.FLAT),
    CharacterParams(colour="purple", hair=_H.SPIKY, hair_colour="silver", eyes=_E.DOTS, mouth=_M.SMILE),
    CharacterParams(colour="red", hair=_H.BUN, hair_colour="black", eyes=_E.LINES, mouth=_M.SMILE),
    CharacterParams(colour="blue", hair=_H.CAP, hair_colour="blond", eyes=_E.LINES, mouth=_M.OPEN),
    CharacterParams(colour="yellow", hair=_H.BALD, hair_colour="black", eyes=_E.DOTS, mouth=_M.FLAT),
    # held out (never in the training split)
    CharacterParams(colour="orange", hair=_H.SPIKY, hair_colour="black", eyes=_E.BIG, mouth=_M.SMILE),
    CharacterParams(colour="cyan", hair=_H.BUN, hair_colour="auburn", eyes=_E.DOTS, mouth=_M.FLAT),
    CharacterParams(colour="white", hair=_H.CAP, hair_colour="silver", eyes=_E.BIG, mouth=_M.OPEN),
)
NUM_IDENTITIES = len(CHARACTERS)
HELDOUT_IDENTITIES: frozenset[int] = frozenset({9, 10, 11})
TRAIN_IDENTITIES: tuple[int, ...] = tuple(i for i in range(NUM_IDENTITIES) if i not in HELDOUT_IDENTITIES)
assert all(p.colour in OBJECT_COLOURS and p.hair_colour in HAIR_COLOURS for p in CHARACTERS)


def character(identity: int) -> CharacterParams:
    """The features of ``identity``.

    Raises:
        ValueError: ``identity`` is not in ``0..NUM_IDENTITIES-1``.
    """
    if isinstance(identity, bool) or not isinstance(identity, int) or not 0 <= identity < NUM_IDENTITIES:
        raise ValueError(f"identity must be an int in [0, {NUM_IDENTITIES - 1}], got {identity!r}")
    return CHARACTERS[identity]
