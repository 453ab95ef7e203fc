"""The rituximab course-review SMART app, served under ``/app/``.

``install(app, settings)`` registers the blueprint and its shared state;
``create_app`` calls it like the other blueprints.
"""

from __future__ import annotations

from flask import Flask

from service.settings import Settings


def install(app: Flask, settings: Settings) -> None:
    from service.web.course_review.app_state import install_state
    from service.web.course_review.views import bp

    install_state(app, settings)
    app.register_blueprint(bp)
