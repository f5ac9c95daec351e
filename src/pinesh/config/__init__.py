"""Configuration: Pine's .pinerc and pinesh's own settings, parsed into typed objects."""
