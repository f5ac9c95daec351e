"""What the user does (open, read, send, post, connect), independent of any UI."""
