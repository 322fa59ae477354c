from glob import glob

from setuptools import setup

PACKAGE = "robot_il_pan_tilt"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
    ],
    install_requires=["setuptools", "pyserial>=3.5"],
    zip_safe=True,
    entry_points={"console_scripts": ["pan-tilt-node = robot_il_pan_tilt.node:main"]},
    maintainer="robot-il developers",
    description="Driver for FLIR / Directed Perception pan-tilt units (ASCII protocol over serial)",
    license="Apache-2.0",
)
