"""The Pine-style terminal client (Textual): layout, keys and commands only."""
