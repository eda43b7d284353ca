"""The infrastructure definition (resources.json) and the code that reads it."""
