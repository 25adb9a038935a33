"""A loopback stand-in for the Direct Line 3.0 channel (see server.py); `python -m devtools.directline`."""
from devtools.directline.server import DirectLineStandIn

__all__ = ["DirectLineStandIn"]
