"""Pages for people, each in its own module: the SMART course-review app (``course_review``)
and the development playground (``playground``)."""
