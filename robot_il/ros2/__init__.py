"""ROS 2 backend (rclpy): the arm over ros2_control topics, the pan-tilt over its node, and the sim bridge."""
