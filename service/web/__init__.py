"""Pages for people: the SMART course-review app (``course_review``) and the development playground (``playground``), each in its own module."""
