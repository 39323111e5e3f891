"""A built-in 5x7 bitmap font for the synthetic world's visual text (the ``the word "GO"`` of PRODUCT.md).

The glyphs are ours (a classic 5x7 dot-matrix design), stored here so the rendered text is identical on every machine
and Pillow version. Only the capital letters A-Z exist: the world's words are short capitalised words.
"""

import numpy as np

GLYPH_WIDTH, GLYPH_HEIGHT = 5, 7
GLYPH_SPACING = 1  # columns of space between letters, before scaling

_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
}

FONT_CHARACTERS = frozenset(_GLYPHS)


def text_size(word: str, *, scale: int) -> tuple[int, int]:
    """(width, height) in pixels of ``word`` drawn by :func:`text_mask` at ``scale``."""
    columns = len(word) * (GLYPH_WIDTH + GLYPH_SPACING) - GLYPH_SPACING
    return columns * scale, GLYPH_HEIGHT * scale


def text_mask(word: str, *, scale: int) -> np.ndarray:
    """A boolean ``[height, width]`` mask of ``word`` (capitals A-Z), each font dot a ``scale`` x ``scale`` block.

    Raises:
        ValueError: an empty word, a character outside A-Z, or ``scale < 1``.
    """
    if not word or not set(word) <= FONT_CHARACTERS:
        raise ValueError(f"visual text must be capital letters A-Z, got {word!r}")
    if scale < 1:
        raise ValueError(f"text scale must be >= 1, got {scale}")
    blocks = []
    for i, char in enumerate(word):
        if i:
            blocks.append(np.zeros((GLYPH_HEIGHT, GLYPH_SPACING), dtype=bool))
        blocks.append(np.array([[c == "#" for c in row] for row in _GLYPHS[char]], dtype=bool))
    mask = np.concatenate(blocks, axis=1)
    return np.kron(mask, np.ones((scale, scale), dtype=bool)).astype(bool)
