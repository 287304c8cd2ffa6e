"""Package and plugin-API versions (kept apart so importing them costs nothing)."""

__version__ = "0.1.0"

#: Version of the plugin API (hookspecs + interfaces). Plugins may declare the range they
#: support with a module attribute ``AIGC_SDK_API = ">=1,<2"``; the major number changes
#: only when a hook or interface changes incompatibly.
API_VERSION = "1.0"
