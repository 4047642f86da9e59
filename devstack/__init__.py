"""Local stand-ins for the services photo-sync talks to (never deployed; see .funcignore).

``devstack.emulator`` is an HTTPS emulator of the Microsoft identity platform and the user-photo
APIs. It exists so that development and tests run on one laptop without a tenant; it is not
Microsoft's service and only mimics the parts photo-sync relies on.
"""
