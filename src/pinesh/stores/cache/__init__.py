"""The persistent header cache: what an IMAP folder knew, kept on disk per server.

header_cache.py keeps it in SQLite (one file per server, mailboxes inside it); codec.py
turns Envelope and Part into JSON and back. See docs/stores.md, "The header cache".
"""
