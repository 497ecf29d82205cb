#!/usr/bin/env python3
"""A synthetic RGB-D camera for trying the node and RViz without hardware (a dev tool).

Publishes what a RealSense publishes with ``align_depth.enable:=true``: a colour image
(``bgr8``), the depth aligned to it (``16UC1`` millimetres) and the colour CameraInfo, all
with one stamp per frame, frame_id ``camera_color_optical_frame``. The scene shows people
standing on a floor ``--camera-height`` metres below a level camera, at the ``--depths``
given, drawn by :mod:`humanpose.testing.scene`, so the generated analytic models find them
(``--models`` prints the launch arguments that use those models). The people sway slowly
sideways; ``--leave-after`` empties the scene after that many seconds (markers must vanish).

    python3 test/tools/synthetic_camera.py --rate 4
    ros2 launch pose_bringup pose.launch.py use_depth:=true rviz:=true \\
        publish_camera_tf:=true $(python3 test/tools/synthetic_camera.py --models)

Run it in a sourced workspace (rclpy and humanpose importable). Not installed: it lives
beside the tests that use the same scenes.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

#: Person height in template units (humanpose.testing.scene: 1 unit = height_px pixels):
#: the template spans about 0.95 units from toe to eyes, so 1.8 m per unit is a 1.7 m person.
METRES_PER_UNIT = 1.8
#: Template units from the torso centre (template origin) down to the soles.
TORSO_ABOVE_SOLES_UNITS = 0.625
#: Frames rendered for one sway cycle (rendering is slow; the cycle is played in a loop).
CYCLE_FRAMES = 24


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rate', type=float, default=4.0, help='frames per second')
    parser.add_argument('--size', default='640x480', help='image size WxH')
    parser.add_argument('--hfov-deg', type=float, default=90.0,
                        help='horizontal field of view (wide, so a near person fits)')
    parser.add_argument('--depths', default='2.0,2.5,3.0',
                        help='comma-separated distances (m) of the people, left to right')
    parser.add_argument('--camera-height', type=float, default=1.2,
                        help='metres from the floor to the (level) camera')
    parser.add_argument('--sway', type=float, default=0.15,
                        help='amplitude (m) of the sideways sway; 0 = still')
    parser.add_argument('--sway-period', type=float, default=6.0, help='seconds per sway')
    parser.add_argument('--leave-after', type=float, default=0.0,
                        help='seconds after which everybody leaves (0 = never)')
    parser.add_argument('--duration', type=float, default=0.0,
                        help='seconds to run (0 = until Ctrl-C)')
    parser.add_argument('--frame-id', default='camera_color_optical_frame')
    parser.add_argument('--image', default='/camera/color/image_raw')
    parser.add_argument('--camera-info', default='/camera/color/camera_info')
    parser.add_argument('--depth', default='/camera/aligned_depth_to_color/image_raw')
    parser.add_argument('--models', action='store_true',
                        help='print pose_model:=... detector_model:=... backend:=... (the '
                        'generated analytic models) and exit')
    return parser.parse_args(argv)


def print_model_arguments() -> None:
    from humanpose.testing.models import analytic_detector_model, analytic_pose_model

    print(f'pose_model:={analytic_pose_model()} detector_model:={analytic_detector_model()} '
          'backend:=onnxruntime-cpu')


def render_cycle(args: argparse.Namespace) -> tuple[list, object]:
    """Return the frames of one sway cycle [(bgr, depth_mm)] and the camera model."""
    from humanpose.testing.scene import default_camera, PersonSpec, render_scene

    width, height = (int(v) for v in args.size.lower().split('x'))
    camera = default_camera(width, height, args.hfov_deg)
    fx, fy = camera.k[0, 0], camera.k[1, 1]
    cx, cy = camera.k[0, 2], camera.k[1, 2]
    depths = [float(d) for d in args.depths.split(',') if d.strip()]
    # Lateral positions (m, camera x) spread so that the people stand side by side.
    lateral = np.linspace(-1.0, 1.0, len(depths)) * 0.45 * max(depths) \
        if len(depths) > 1 else np.zeros(1)
    torso_below_camera_m = args.camera_height - TORSO_ABOVE_SOLES_UNITS * METRES_PER_UNIT
    frames = []
    for i in range(CYCLE_FRAMES):
        phase = 2 * np.pi * i / CYCLE_FRAMES
        people = []
        for n, (z, x) in enumerate(zip(depths, lateral)):
            x_m = x + args.sway * np.sin(phase + n)
            people.append(PersonSpec(
                centre_px=(float(cx + fx * x_m / z), float(cy + fy * torso_below_camera_m / z)),
                height_px=float(fy * METRES_PER_UNIT / z), depth_m=z))
        # Far people first: nearer ones occlude them.
        people.sort(key=lambda p: -p.depth_m)
        scene = render_scene(width, height, people, seed=1, camera=camera,
                             background_depth_m=max(depths) + 2.0)
        frames.append((scene.image, scene.depth_mm()))
    empty = render_scene(width, height, [], seed=1, camera=camera,
                         background_depth_m=max(depths) + 2.0)
    frames.append((empty.image, empty.depth_mm()))
    return frames, camera


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.models:
        print_model_arguments()
        return 0
    import rclpy
    from rclpy.node import Node
    from rclpy.task import Future
    from sensor_msgs.msg import CameraInfo, Image

    from humanpose.ros.messages import make_header, rclpy_namespace
    from humanpose.ros.spin import run_node

    frames, camera = render_cycle(args)
    ns = rclpy_namespace()
    period = 1.0 / args.rate
    sway_frames = CYCLE_FRAMES / (args.sway_period * args.rate)
    ended = Future()

    def make_node() -> Node:
        node = rclpy.create_node('synthetic_camera')
        pubs = {'image': node.create_publisher(Image, args.image, 5),
                'depth': node.create_publisher(Image, args.depth, 5),
                'info': node.create_publisher(CameraInfo, args.camera_info, 5)}
        start = time.monotonic()
        count = 0

        def publish_frame() -> None:
            nonlocal count
            elapsed = time.monotonic() - start
            if args.duration and elapsed > args.duration:
                ended.set_result(True)
                return
            if args.leave_after and elapsed > args.leave_after:
                bgr, depth = frames[-1]
            else:
                bgr, depth = frames[int(count * sway_frames) % CYCLE_FRAMES]
            header = make_header(ns, node.get_clock().now().nanoseconds, args.frame_id)
            image = Image(header=header, height=bgr.shape[0], width=bgr.shape[1],
                          encoding='bgr8', step=bgr.shape[1] * 3, data=bgr.tobytes())
            depth_msg = Image(header=header, height=depth.shape[0], width=depth.shape[1],
                              encoding='16UC1', step=depth.shape[1] * 2, data=depth.tobytes())
            info = CameraInfo(header=header, height=camera.height, width=camera.width,
                              distortion_model='plumb_bob', d=[0.0] * 5,
                              k=camera.k.reshape(-1).tolist(), r=np.eye(3).reshape(-1).tolist(),
                              p=np.concatenate([camera.k, np.zeros((3, 1))], 1)
                              .reshape(-1).tolist())
            pubs['image'].publish(image)
            pubs['depth'].publish(depth_msg)
            pubs['info'].publish(info)
            count += 1

        node.create_timer(period, publish_frame)
        node.get_logger().info(f'publishing {args.size} colour + depth + camera_info at '
                               f'{args.rate:g} Hz on {args.image}')
        return node

    run_node(make_node, until=lambda node: ended)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
