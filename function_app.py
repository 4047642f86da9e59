"""Azure Functions entry points for photo-sync (v2 programming model).

The triggers arrive with the function-app work; until then this module only creates the app, so
the host can load it. Nothing here does I/O at import time.
"""

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
