"""IMAP: the store, its folders, one connection per server, and the pure parsers of
IMAP syntax."""
