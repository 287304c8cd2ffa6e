"""Sub-commands of the ``aigc`` CLI; each module defines ``add_parser(subparsers)``."""
