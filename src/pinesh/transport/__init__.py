"""The connection layer: routes to a server, shared OpenSSH masters, timeouts and fallback.

Whatever the route, the result is a Channel whose ``sock`` is a real socket with a
verified greeting already read from it.
"""
