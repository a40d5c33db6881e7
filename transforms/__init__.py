"""Pure DataFrame -> DataFrame functions of the demand engine (no I/O, no session creation)."""
