"""pinesh: a Pine-style mail and news client whose remote access runs over SSH."""

__version__ = "0.1.0"
