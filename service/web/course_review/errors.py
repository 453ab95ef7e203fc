"""Why a launch or a page cannot go on: one small exception family, each a 4xx/5xx page.

Exceptions, in one place::

    LaunchError              base: the message is safe to show (no token, no clinical value)
      LaunchRequestError     the launch or callback request is malformed (400)
      StateMismatch          the callback's ``state`` is not the one this browser's launch started (400)
      ServerNotAllowed       ``iss`` is not in CDS_ALLOWED_FHIR_SERVERS; no connection was made (403)
      AuthorizationDenied    the EHR's authorization server said no (403)
      MissingScope           the grant lacks a scope the page needs (403)
      SessionExpired         no live session (expired, unknown or tampered cookie): launch again (401)
      CsrfRejected           a save without this session's CSRF token (400)
      DiscoveryError         .well-known/smart-configuration unreadable or unusable (502)
      TokenExchangeFailed    the token endpoint failed or answered nonsense (502)
      SaveFailed             the FHIR server did not create the DocumentReference (502)
"""

from __future__ import annotations


class LaunchError(Exception):
    status = 400
    title = "The course review cannot be opened"


class LaunchRequestError(LaunchError):
    status = 400


class StateMismatch(LaunchError):
    status = 400
    title = "This sign-in does not belong to this browser's launch"


class ServerNotAllowed(LaunchError):
    status = 403
    title = "This FHIR server is not allowed"


class AuthorizationDenied(LaunchError):
    status = 403
    title = "The EHR did not authorize the course review"


class MissingScope(LaunchError):
    status = 403
    title = "The EHR granted less access than the course review needs"


class SessionExpired(LaunchError):
    status = 401
    title = "Your session has ended: open the course review again from the EHR"


class CsrfRejected(LaunchError):
    status = 400
    title = "The form could not be verified"


class DiscoveryError(LaunchError):
    status = 502
    title = "The EHR's SMART configuration could not be read"


class TokenExchangeFailed(LaunchError):
    status = 502
    title = "The EHR's token endpoint failed"


class SaveFailed(LaunchError):
    status = 502
    title = "The document could not be saved to the chart"
