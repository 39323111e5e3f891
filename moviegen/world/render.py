"""Render a :class:`SceneSpec` to frames (numpy, no anti-aliasing) and to sound (``render_audio``, from sound.py).

Every object pixel is its exact palette RGB (hard edges, pixel-centre sampling), because evaluation finds objects by
colour. The background is painted once on a *wall* in world coordinates (base colour, the optional texture, the
visual text) and each frame samples the wall through the camera (nearest neighbour), so camera motion shifts the
texture and the text while the world stays put. Objects are drawn on top in scene order.
"""

import math

import numpy as np

from moviegen.world import kinematics
from moviegen.world.characters import FACE_FEATURE_COLOUR, HAIR_COLOURS, Eyes, HairStyle, Mouth, character
from moviegen.world.font import text_mask
from moviegen.world.scene import TEXT_COLOUR, ObjectSpec, SceneSpec
from moviegen.world.sound import render_audio  # noqa: F401 (part of this module's API: rendering = video + audio)
from moviegen.world.vocab import BACKGROUND_TEXTURE, BACKGROUNDS, OBJECT_COLOURS, Shape

_TEXTURE_STREAM = 1  # rng stream of the texture: default_rng([scene.seed, _TEXTURE_STREAM])
_TEXTURE_CELL = 16  # pixels between texture control points at 128 px (low-frequency noise)


def _in_polygon(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Even-odd test of points (px, py) against a closed polygon ``[V, 2]``."""
    inside = np.zeros(np.broadcast_shapes(px.shape, py.shape), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for (x1, y1), (x2, y2) in zip(verts, np.roll(verts, -1, axis=0), strict=True):
            crosses = (y1 > py) != (y2 > py)
            x_at = (x2 - x1) * (py - y1) / (y2 - y1) + x1
            inside ^= crosses & (px < x_at)
    return inside


def _texture(scene: SceneSpec, height: int, width: int) -> np.ndarray:
    """Integer offsets in ``[-BACKGROUND_TEXTURE, +BACKGROUND_TEXTURE]``, ``[height, width]``: smooth value noise."""
    rng = np.random.default_rng([scene.seed, _TEXTURE_STREAM])
    cell = max(4, round(_TEXTURE_CELL * scene.scale))
    coarse = rng.uniform(-1.0, 1.0, size=(height // cell + 2, width // cell + 2))
    yy, xx = np.arange(height) / cell, np.arange(width) / cell
    y0, x0 = yy.astype(int), xx.astype(int)
    fy, fx = yy - y0, xx - x0
    fy, fx = (fy * fy * (3 - 2 * fy))[:, None], (fx * fx * (3 - 2 * fx))[None, :]  # smoothstep
    top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x0 + 1] * fx
    bottom = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x0 + 1] * fx
    noise = top * (1 - fy) + bottom * fy
    return np.rint(noise * BACKGROUND_TEXTURE / np.abs(noise).max()).astype(np.int16)


def _wall(scene: SceneSpec) -> tuple[np.ndarray, int, int]:
    """The background in world coordinates: ``(wall_HWC, x_origin, y_origin)``, wall pixel (0, 0) at the origin.

    The wall spans half a frame beyond every edge (more than any pan or zoom shows) and its extent depends only on
    the frame size, so the same seed gives the same texture whatever the camera does.
    """
    x_origin, y_origin = -(scene.width // 2), -(scene.height // 2)
    height, width = 2 * scene.height, 2 * scene.width
    wall = np.empty((height, width, 3), dtype=np.uint8)
    wall[:] = BACKGROUNDS[scene.background]
    if scene.textured:
        base = np.array(BACKGROUNDS[scene.background], dtype=np.int16)
        wall[:] = np.clip(base + _texture(scene, height, width)[..., None], 0, 255).astype(np.uint8)
    box = kinematics.text_box(scene)
    if box is not None:
        mask = text_mask(scene.text, scale=kinematics.text_scale(scene))
        x0, y0 = box[0] - x_origin, box[1] - y_origin
        region = wall[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
        region[mask[: region.shape[0], : region.shape[1]]] = TEXT_COLOUR
    return wall, x_origin, y_origin


def _draw_character(
    frame_HWC: np.ndarray, lx: np.ndarray, ly: np.ndarray, rows: slice, cols: slice, identity: int
) -> None:
    params = character(identity)
    hair = HAIR_COLOURS[params.hair_colour]
    region = frame_HWC[rows, cols]
    head = lx**2 + ly**2 <= 1.0
    if params.hair == HairStyle.BUN:
        region[lx**2 + (ly + 1.0) ** 2 <= 0.4**2] = hair
    region[head] = OBJECT_COLOURS[params.colour]
    if params.hair != HairStyle.BALD:
        region[head & (ly <= -0.5)] = hair
    if params.hair == HairStyle.SPIKY:
        for cx in (-0.45, 0.0, 0.45):
            spike = np.array([[cx - 0.25, -0.7], [cx + 0.25, -0.7], [cx, -1.4]])
            region[_in_polygon(lx, ly, spike)] = hair
    for ex in (-0.38, 0.38):
        if params.eyes == Eyes.LINES:
            eye = (np.abs(ly + 0.08) <= 0.07) & (np.abs(lx - ex) <= 0.18)
        else:
            radius = 0.21 if params.eyes == Eyes.BIG else 0.14
            eye = (lx - ex) ** 2 + (ly + 0.08) ** 2 <= radius**2
        region[eye] = FACE_FEATURE_COLOUR
    if params.mouth == Mouth.SMILE:
        dist = np.hypot(lx, ly - 0.25)
        mouth = (dist >= 0.22) & (dist <= 0.36) & (ly >= 0.38)
    elif params.mouth == Mouth.FLAT:
        mouth = (np.abs(ly - 0.5) <= 0.07) & (np.abs(lx) <= 0.3)
    else:
        mouth = lx**2 + (ly - 0.5) ** 2 <= 0.17**2
    region[mouth] = FACE_FEATURE_COLOUR


def _draw_object(frame_HWC: np.ndarray, obj: ObjectSpec, *, x: float, y: float, size: float, angle: float) -> None:
    """Draw ``obj`` centred at screen (x, y) with radius ``size`` pixels, rotated clockwise by ``angle``."""
    height, width = frame_HWC.shape[:2]
    reach = kinematics.bounding_radius(obj) * size
    u0, u1 = max(0, math.floor(x - reach)), min(width, math.ceil(x + reach) + 1)
    v0, v1 = max(0, math.floor(y - reach)), min(height, math.ceil(y + reach) + 1)
    if u0 >= u1 or v0 >= v1:
        return
    lx = ((np.arange(u0, u1) + 0.5 - x) / size)[None, :]  # pixel centres in units of size
    ly = ((np.arange(v0, v1) + 0.5 - y) / size)[:, None]
    rows, cols = slice(v0, v1), slice(u0, u1)
    if obj.identity is not None:
        _draw_character(frame_HWC, lx, ly, rows, cols, obj.identity)
        return
    if obj.shape == Shape.CIRCLE:
        mask = lx**2 + ly**2 <= 1.0
    else:
        c, s = math.cos(angle), math.sin(angle)
        verts = kinematics.SHAPE_VERTICES[obj.shape] @ np.array([[c, s], [-s, c]])  # rotate clockwise (y down)
        mask = _in_polygon(lx, ly, verts)
    frame_HWC[rows, cols][mask] = OBJECT_COLOURS[obj.colour]


def render_video(scene: SceneSpec) -> np.ndarray:
    """All frames of ``scene``: uint8 ``[T, H, W, 3]`` RGB (T = 1 for an image)."""
    wall, x_origin, y_origin = _wall(scene)
    cam = kinematics.camera_track(scene)
    tracks = [kinematics.object_track(obj, scene) for obj in scene.objects]
    cx, cy = scene.width / 2, scene.height / 2
    u_W = np.arange(scene.width) + 0.5
    v_H = np.arange(scene.height) + 0.5
    frames_THWC = np.empty((scene.num_frames, scene.height, scene.width, 3), dtype=np.uint8)
    for t in range(scene.num_frames):
        pan, zoom = cam.pan_T[t], cam.zoom_T[t]
        # the camera transform is axis-aligned, so the wall lookup is separable: one row and one column index
        ix_W = np.clip(np.floor((u_W - cx) / zoom + cx + pan - x_origin).astype(int), 0, wall.shape[1] - 1)
        iy_H = np.clip(np.floor((v_H - cy) / zoom + cy - y_origin).astype(int), 0, wall.shape[0] - 1)
        frame_HWC = frames_THWC[t]
        frame_HWC[:] = wall[iy_H[:, None], ix_W[None, :]]
        for obj, track in zip(scene.objects, tracks, strict=True):
            _draw_object(
                frame_HWC,
                obj,
                x=(track.x_T[t] - cx - pan) * zoom + cx,
                y=(track.y_T[t] - cy) * zoom + cy,
                size=track.size_T[t] * zoom,
                angle=track.angle_T[t],
            )
    return frames_THWC


def render_portrait(identity: int, *, size: int = 128, background: str = "gray") -> np.ndarray:
    """A reference portrait of a character identity: uint8 ``[size, size, 3]``, the head centred, plain background.

    Raises:
        ValueError: an unknown identity or background, or ``size < 16``.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {list(BACKGROUNDS)}, got {background!r}")
    if size < 16:
        raise ValueError(f"portrait size must be >= 16 pixels, got {size}")
    character(identity)  # validates the identity
    frame_HWC = np.empty((size, size, 3), dtype=np.uint8)
    frame_HWC[:] = BACKGROUNDS[background]
    radius = 0.3 * size
    reach = 1.4 * radius
    lx = ((np.arange(size) + 0.5 - size / 2) / radius)[None, :]
    ly = ((np.arange(size) + 0.5 - (size / 2 + (reach - radius) / 2)) / radius)[:, None]
    _draw_character(frame_HWC, lx, ly, slice(0, size), slice(0, size), identity)
    return frame_HWC
