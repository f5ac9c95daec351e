"""Local mail: mbox and Maildir folders, and the locks MTAs expect."""
