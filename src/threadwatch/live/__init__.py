"""``threadwatch tail``: the follow loop (``loop``) over the sources, feeding the health
windows and the consumers (the alert dispatcher, the live ``view`` or JSON lines).
"""
