"""The night and the commands: steps that take and return values; I/O only through adapters/."""
