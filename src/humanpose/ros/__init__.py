"""ROS glue: message conversion (works without ROS), markers, and the rclpy node.

Only this package touches ROS: ``rclpy`` and generated message modules are imported
lazily inside functions, so ``import humanpose.ros`` works on a machine without ROS.
"""
