"""Pages for people: the development playground (and the SMART app), each in its own module."""
