"""Admin access: two-step sign-in, lockout, idle sessions and the sign-in audit."""
