"""HTTP layer: Flask blueprint(s) for discovery, invocation, feedback, health."""
