"""Reference implementations that hidden tests compare against."""
