"""Small helpers shared by every stage: errors, atomic writes, dataclass configs, data paths.

Import from the submodules (``compass_nav.utils.config`` etc.); this package deliberately
imports nothing heavy so that ROS nodes and the CLI start fast.
"""

from compass_nav.utils.errors import CompassNavError, ConfigError, DataError, ModelError

__all__ = ["CompassNavError", "ConfigError", "DataError", "ModelError"]
