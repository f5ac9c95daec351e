"""Mail stores behind one Folder interface: imap, maildir, mbox, nntp.

A mailbox *name* picks the driver (as in c-client): ``{host/...}INBOX`` is IMAP,
``#news.group`` or ``{host/nntp}#news.group`` is news, a path is a Maildir or an mbox file.
"""
