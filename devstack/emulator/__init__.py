"""photo-sync's local emulator of the Microsoft identity platform and the user-photo APIs.

This is a stand-in for local development and tests, NOT Microsoft's service. It serves, over
HTTPS with its own generated CA, just enough of:

* the Microsoft identity platform (OpenID discovery, the v2.0 token endpoint with client secrets
  and certificate assertions, JWKS, and the App Service managed-identity endpoint) for real MSAL
  Python to run against it unchanged;
* Microsoft Graph v1.0 (``/v1.0/users/...``) and Outlook REST v2.0 (``/api/v2.0/Users(...)``)
  user-photo operations, with the status codes and error shapes photo-sync must handle;
* throttling windows and seeded fault injection, so retry logic can be tested deterministically;
* an unauthenticated ``/admin`` API to inspect and steer it from tests.

Start it with ``python -m devstack.emulator`` (see ``docs/emulator.md``) or embed it with
``devstack.emulator.server.start``. Importing this package performs no I/O.
"""
