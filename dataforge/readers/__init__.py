"""Input readers: each turns one file into a stream of Documents, in constant memory."""
