"""Reference implementations that hidden tests compare against, and ``judge``, the helpers they call."""
