"""Library calls over the database; each takes a session and the acting user, and checks access."""
