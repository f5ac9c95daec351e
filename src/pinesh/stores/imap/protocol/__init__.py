"""Pure IMAP syntax, no socket in sight: what we write in commands (arguments), what we
read from replies (responses, envelope, bodystructure)."""
