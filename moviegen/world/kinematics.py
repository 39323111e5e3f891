"""Where everything is at every frame: the camera, each object's position/size/angle, the floor impacts.

World coordinates are pixels of the ``width x height`` frame seen by a static camera (x right, y down). The camera
maps world to screen: ``screen = (world - centre - (pan, 0)) * zoom + centre``. Nominal amounts (each object's
``motion_scale`` and the scene's ``camera_scale``, both in ``[0.8, 1.25]``, multiply them):

=============  ==============================================================================================
moves l/r/u/d  ``MOVE_FRACTION`` (32%) of the frame width/height over the clip, at constant speed
bounces        falls from rest under gravity (``GRAVITY`` frame heights / s^2) onto the floor, rebounds with
               ``RESTITUTION``; impacts land exactly on frames (the object touches the floor on that frame)
grows          size x (1 + ``GROW_AMOUNT``) = x1.8 over the clip, linearly
spins          ``SPIN_TURNS`` (0.75) turns clockwise over the clip
camera pan     the view moves ``PAN_FRACTION`` (20%) of the width, centred on the start view
camera zoom    x``ZOOM`` (1.3) about the frame centre, geometric in time
=============  ==============================================================================================

The *floor* is the bottom of the region that stays in view for the whole clip (the frame bottom, except under a zoom,
where it is the bottom of the most zoomed-in view), so a bouncing object is always seen hitting it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from moviegen.world.font import text_size
from moviegen.world.vocab import Camera, Motion, Shape

if TYPE_CHECKING:
    from moviegen.world.scene import ObjectSpec, SceneSpec

ZOOM = 1.3
PAN_FRACTION = 0.2
MOVE_FRACTION = 0.32
GROW_AMOUNT = 0.8
SPIN_TURNS = 0.75
GRAVITY = 6.0
RESTITUTION = 0.7
MIN_FLIGHT_FRAMES = 3  # a rebound shorter than this ends the bouncing: the object rests on the floor
MIN_FALL_FRACTION = 0.2  # a bouncing object starts at least this fraction of the height above the floor
TEXT_REFERENCE = 64  # visual text: one font dot is round(min(width, height) / 64) pixels

# Unit shapes (size = 1): polygon vertices in local coordinates (y down, pointing up). The circle has radius 1.
_SQUARE_HALF = 0.85
_TRIANGLE_RADIUS = 1.15
_STAR_OUTER, _STAR_INNER = 1.2, 0.54
_CHARACTER_TOP = 1.4  # hair (spikes, bun) reaches above the head disc


def _star_vertices() -> np.ndarray:
    angles = -math.pi / 2 + np.arange(10) * math.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, _STAR_OUTER, _STAR_INNER)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _triangle_vertices() -> np.ndarray:
    angles = -math.pi / 2 + np.arange(3) * 2 * math.pi / 3
    return _TRIANGLE_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


SHAPE_VERTICES: dict[Shape, np.ndarray] = {
    Shape.SQUARE: np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * _SQUARE_HALF,
    Shape.TRIANGLE: _triangle_vertices(),
    Shape.STAR: _star_vertices(),
}


def bounding_radius(obj: ObjectSpec) -> float:
    """Radius (in units of size) of a circle about the centre that contains the sprite at any angle."""
    if obj.identity is not None:
        return _CHARACTER_TOP
    if obj.shape == Shape.CIRCLE:
        return 1.0
    return float(np.linalg.norm(SHAPE_VERTICES[obj.shape], axis=1).max())


def local_extents(obj: ObjectSpec) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) distances from the centre, in units of size, over the whole clip."""
    if obj.identity is not None:
        return 1.0, 1.0, _CHARACTER_TOP, 1.0
    if obj.motion == Motion.SPIN:
        r = bounding_radius(obj)
        return r, r, r, r
    if obj.shape == Shape.CIRCLE:
        return 1.0, 1.0, 1.0, 1.0
    v = SHAPE_VERTICES[obj.shape]
    return float(-v[:, 0].min()), float(v[:, 0].max()), float(-v[:, 1].min()), float(v[:, 1].max())


def progress(num_frames: int) -> np.ndarray:
    """Fraction of the clip elapsed at each frame: 0 at the first frame, 1 at the last (0 for a still)."""
    if num_frames == 1:
        return np.zeros(1)
    return np.arange(num_frames) / (num_frames - 1)


@dataclass(frozen=True, kw_only=True)
class CameraTrack:
    pan_T: np.ndarray  # world x offset of the view centre, pixels
    zoom_T: np.ndarray  # magnification (>= 1)


def camera_track(scene: SceneSpec) -> CameraTrack:
    p_T = progress(scene.num_frames)
    pan_T, zoom_T = np.zeros_like(p_T), np.ones_like(p_T)
    amount = PAN_FRACTION * scene.width * scene.camera_scale
    if scene.camera == Camera.PAN_RIGHT:
        pan_T = amount * (p_T - 0.5)
    elif scene.camera == Camera.PAN_LEFT:
        pan_T = -amount * (p_T - 0.5)
    elif scene.camera == Camera.ZOOM_IN:
        zoom_T = ZOOM**p_T
    elif scene.camera == Camera.ZOOM_OUT:
        zoom_T = ZOOM ** (1.0 - p_T)
    return CameraTrack(pan_T=pan_T, zoom_T=zoom_T)


def to_screen(scene: SceneSpec, x: np.ndarray, y: np.ndarray, cam: CameraTrack) -> tuple[np.ndarray, np.ndarray]:
    """World to screen coordinates at each frame (arrays broadcast against the camera track)."""
    cx, cy = scene.width / 2, scene.height / 2
    return (x - cx - cam.pan_T) * cam.zoom_T + cx, (y - cy) * cam.zoom_T + cy


def view_bounds(scene: SceneSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(left_T, right_T, top_T, bottom_T): the world rectangle seen at each frame."""
    cam = camera_track(scene)
    cx, cy = scene.width / 2, scene.height / 2
    half_w, half_h = cx / cam.zoom_T, cy / cam.zoom_T
    return cx + cam.pan_T - half_w, cx + cam.pan_T + half_w, cy - half_h, cy + half_h


def safe_region(scene: SceneSpec) -> tuple[float, float, float, float]:
    """(left, right, top, bottom): the world rectangle in view at every frame."""
    left_T, right_T, top_T, bottom_T = view_bounds(scene)
    return float(left_T.max()), float(right_T.min()), float(top_T.max()), float(bottom_T.min())


def floor_y(scene: SceneSpec) -> float:
    """World y of the floor that bouncing objects hit."""
    return safe_region(scene)[3]


@dataclass(frozen=True, kw_only=True)
class ObjectTrack:
    x_T: np.ndarray
    y_T: np.ndarray
    size_T: np.ndarray
    angle_T: np.ndarray  # radians, clockwise on screen
    impact_frames: tuple[int, ...]  # frames on which the object hits the floor
    impact_strengths: tuple[float, ...]  # impact speed relative to the first impact (1.0)


def _bounce(obj: ObjectSpec, scene: SceneSpec) -> tuple[np.ndarray, tuple[int, ...], tuple[float, ...]]:
    """y_T of a ball dropped from rest at obj.y, with every impact on an exact frame."""
    num_frames, fps = scene.num_frames, scene.fps
    y_contact = floor_y(scene) - local_extents(obj)[3] * obj.size
    fall = y_contact - obj.y
    y_T = np.full(num_frames, y_contact)
    if fall < 1.0:
        return y_T, (), ()
    g_nominal = GRAVITY * scene.height * obj.motion_scale
    fall_frames = max(2, round(math.sqrt(2 * fall / g_nominal) * fps))
    g = 2 * fall / (fall_frames / fps) ** 2  # exact: the first impact lands on frame `fall_frames`
    t_T = np.arange(num_frames) / fps
    n = min(num_frames, fall_frames + 1)
    y_T[:n] = obj.y + 0.5 * g * t_T[:n] ** 2
    impacts, strengths = [], []
    start, flight, strength = fall_frames, 2 * fall_frames * RESTITUTION, 1.0
    while start < num_frames:
        impacts.append(start)
        strengths.append(strength)
        frames = round(flight)
        if frames < MIN_FLIGHT_FRAMES:
            break  # at rest on the floor from here on
        seconds = frames / fps
        v = g * seconds / 2  # launch speed of a parabola that lands after `frames` frames
        end = min(num_frames, start + frames + 1)
        tau = t_T[start:end] - t_T[start]
        y_T[start:end] = y_contact - (v * tau - 0.5 * g * tau**2)
        strength = frames / (2 * fall_frames)
        start, flight = start + frames, flight * RESTITUTION
    return y_T, tuple(impacts), tuple(strengths)


def object_track(obj: ObjectSpec, scene: SceneSpec) -> ObjectTrack:
    """Position, size and angle of ``obj`` at every frame of ``scene`` (world coordinates)."""
    p_T = progress(scene.num_frames)
    x_T, y_T = np.full_like(p_T, obj.x), np.full_like(p_T, obj.y)
    size_T, angle_T = np.full_like(p_T, obj.size), np.zeros_like(p_T)
    impacts: tuple[int, ...] = ()
    strengths: tuple[float, ...] = ()
    if scene.num_frames > 1:
        s = obj.motion_scale
        if obj.motion == Motion.LEFT:
            x_T = obj.x - MOVE_FRACTION * s * scene.width * p_T
        elif obj.motion == Motion.RIGHT:
            x_T = obj.x + MOVE_FRACTION * s * scene.width * p_T
        elif obj.motion == Motion.UP:
            y_T = obj.y - MOVE_FRACTION * s * scene.height * p_T
        elif obj.motion == Motion.DOWN:
            y_T = obj.y + MOVE_FRACTION * s * scene.height * p_T
        elif obj.motion == Motion.GROW:
            size_T = obj.size * (1 + GROW_AMOUNT * s * p_T)
        elif obj.motion == Motion.SPIN:
            angle_T = 2 * math.pi * SPIN_TURNS * s * p_T
        elif obj.motion == Motion.BOUNCE:
            y_T, impacts, strengths = _bounce(obj, scene)
    return ObjectTrack(
        x_T=x_T, y_T=y_T, size_T=size_T, angle_T=angle_T, impact_frames=impacts, impact_strengths=strengths
    )


@dataclass(frozen=True, kw_only=True)
class Impact:
    """One percussive event: an object hitting the floor."""

    time: float  # seconds; frame / fps
    frame: int
    object_index: int
    shape: Shape
    strength: float  # 1.0 for a first impact, smaller for rebounds


def scene_impacts(scene: SceneSpec) -> tuple[Impact, ...]:
    """Every impact of the clip, in time order."""
    events = []
    for index, obj in enumerate(scene.objects):
        track = object_track(obj, scene)
        for frame, strength in zip(track.impact_frames, track.impact_strengths, strict=True):
            events.append(
                Impact(time=frame / scene.fps, frame=frame, object_index=index, shape=obj.shape, strength=strength)
            )
    return tuple(sorted(events, key=lambda e: (e.frame, e.object_index)))


def text_scale(scene: SceneSpec) -> int:
    return max(1, round(min(scene.width, scene.height) / TEXT_REFERENCE))


def text_box(scene: SceneSpec) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) world pixels of the visual text painted on the background, or None without text.

    The word sits centred near the top of the region that stays in view, so it is readable in every frame.
    """
    if scene.text is None:
        return None
    scale = text_scale(scene)
    tw, th = text_size(scene.text, scale=scale)
    top = math.ceil(safe_region(scene)[2]) + 2 * scale
    x0 = round(scene.width / 2 - tw / 2)
    return x0, top, x0 + tw, top + th


def layout_problem(scene: SceneSpec) -> str | None:
    """Why ``scene`` breaks the world's layout rules, or None if it keeps them.

    Rules: every object stays entirely in view at every frame; a bouncing object falls at least
    ``MIN_FALL_FRACTION`` of the height and hits the floor at least once; objects never overlap each other or
    the visual text.
    """
    left_T, right_T, top_T, bottom_T = view_bounds(scene)
    boxes = []
    for obj in scene.objects:
        track = object_track(obj, scene)
        el, er, et, eb = local_extents(obj)
        if (
            (track.x_T - el * track.size_T < left_T).any()
            or (track.x_T + er * track.size_T > right_T).any()
            or (track.y_T - et * track.size_T < top_T).any()
            or (track.y_T + eb * track.size_T > bottom_T).any()
        ):
            return f"the {obj.colour} {obj.shape.value} leaves the view"
        if obj.motion == Motion.BOUNCE and scene.num_frames > 1:
            fall = floor_y(scene) - eb * obj.size - obj.y
            if fall < MIN_FALL_FRACTION * scene.height or not track.impact_frames:
                return f"the {obj.colour} {obj.shape.value} does not fall far enough to bounce in the clip"
        boxes.append((track, bounding_radius(obj), (el, er, et, eb)))
    box = text_box(scene)
    if box is not None:
        x0, y0, x1, y1 = box
        for (track, _, (el, er, et, eb)), obj in zip(boxes, scene.objects, strict=True):
            apart = (
                (track.x_T + er * track.size_T < x0 - 1)
                | (track.x_T - el * track.size_T > x1 + 1)
                | (track.y_T + eb * track.size_T < y0 - 1)
                | (track.y_T - et * track.size_T > y1 + 1)
            )
            if not apart.all():
                return f"the {obj.colour} {obj.shape.value} covers the visual text"
    if len(boxes) == 2:
        (a, ra, _), (b, rb, _) = boxes
        gap_T = np.hypot(a.x_T - b.x_T, a.y_T - b.y_T) - (ra * a.size_T + rb * b.size_T)
        if (gap_T < 2.0).any():
            return "the two objects overlap"
    return None
